// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=bitserial" | FileCheck %s
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels --one-shot-bufferize="bufferize-function-boundaries" -o /dev/null

// Each op becomes a call on buffers; results are fresh buffers (64-byte
// aligned, as the scratch); BitLinear
// gets its scratch (bit-planes, activation sums) from the caller. Two ops of
// the same types share one kernel.
// CHECK-LABEL: func.func @layer
// CHECK-SAME:    (%[[X:.*]]: tensor<?x128xf32>)
// CHECK:         %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<?x128xf32> to memref<?x128xf32>
// CHECK:         %[[Q:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x128xi8>
// CHECK:         %[[S:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK:         call @pquant_quantize_Dx128xf32_Dx128xi8_Dxf32(%[[XB]], %[[Q]], %[[S]])
// The weight constant loses its encoding: the kernel holds the layout.
// CHECK:         %[[W:.*]] = arith.constant dense<6148914691236517205> : tensor<3x2x4x1xi64>
// CHECK:         %[[WB:.*]] = bufferization.to_buffer %[[W]] read_only : tensor<3x2x4x1xi64> to memref<3x2x4x1xi64>
// CHECK:         %[[Y:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x10xf32>
// CHECK:         %[[PLANES:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x8x2xi64>
// CHECK:         %[[SUMS:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi32>
// CHECK:         call @[[BITLINEAR:pquant_bitlinear_bitserial_[A-Za-z0-9_]+]]({{.*}}, %[[WB]], {{.*}}, %[[Y]], %[[PLANES]], %[[SUMS]])
// CHECK:         bufferization.to_tensor %[[Y]] restrict writable
// CHECK:         call @[[BITLINEAR]](
// CHECK-NOT:     call @pquant_bitlinear
// CHECK:         return

// CHECK-LABEL: func.func private @pquant_quantize_Dx128xf32_Dx128xi8_Dxf32
// CHECK-SAME:    attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"], pquant.kernel}
// CHECK:         vector.reduction <maximumf>
// CHECK:         arith.divf
// CHECK:         math.floor
// CHECK:         math.copysign
// CHECK:         arith.fptosi {{.*}} : vector<16xf32> to vector<16xi8>

// CHECK:       func.func private @[[BITLINEAR]]
// Bit-planes: compare 64 activations with a bit mask, read the predicates as a word.
// CHECK:         vector.transfer_read {{.*}} : memref<?x128xi8>, vector<64xi8>
// CHECK:         arith.cmpi ne, {{.*}} : vector<64xi8>
// CHECK:         vector.bitcast {{.*}} : vector<64xi1> to vector<1xi64>
// The popcount loop: one vector of 4 rows' words against each plane, and a
// prefetch (into L2) of the same word in the last tile (the tiles are 64
// bytes here, so 16 KB ahead is past the end, and the index is clamped to
// the last one).
// CHECK:         %[[AHEAD:.*]] = arith.minsi %{{.*}}, %c2
// CHECK:         memref.prefetch %{{.*}}[%[[AHEAD]], %{{.*}}, %{{.*}}], read, locality<2>, data : memref<3x2x4xi64>
// CHECK:         vector.load {{.*}} : memref<3x2x4xi64>, vector<4xi64>
// CHECK-COUNT-8: math.ctpop {{.*}} : vector<4xi64>
// CHECK:         arith.sitofp {{.*}} : vector<4xi64> to vector<4xf32>
// 10 rows in tiles of 4: the last tile's store is masked.
// CHECK:         vector.transfer_write {{.*}} : vector<4xf32>, memref<?x10xf32>
#packed = #pquant.packed<rows = 10, cols = 128, word = 64, tile = [4, 1], bit_order = lsb_first>
func.func @layer(%x: tensor<?x128xf32>) -> (tensor<?x10xf32>, tensor<?x10xf32>) {
  %q, %s = pquant.quantize %x : tensor<?x128xf32> -> tensor<?x128xi8>, tensor<?xf32>
  %w = arith.constant dense<6148914691236517205> : tensor<3x2x4x1xi64, #packed>
  %ws = arith.constant dense<1.0> : tensor<1xf32>
  %a = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<3x2x4x1xi64, #packed>, tensor<1xf32> -> tensor<?x10xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<3x2x4x1xi64, #packed>, tensor<1xf32> -> tensor<?x10xf32>
  return %a, %b : tensor<?x10xf32>, tensor<?x10xf32>
}

// -----

// Expert dispatch: the tokens are sorted by expert experts[m, slot] (ids
// clamped to the experts there are); a row block then reads, expert by
// expert, that expert's rows only, each load for 4 of its tokens. Without
// sdot the weights enter the byte dot product offset by 128.
// CHECK-LABEL: func.func private @pquant_expert_linear_generic_slot1_
// CHECK:         %[[ID:.*]] = memref.load %{{.*}}[%{{.*}}, %c1{{.*}}] : memref<?x2xi32>
// CHECK:         %[[E0:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK:         %[[LOW:.*]] = arith.maxsi %[[E0]], %c0{{.*}} : index
// CHECK:         arith.minsi %[[LOW]], %c3{{.*}} : index
// CHECK:         scf.parallel
// CHECK:         scf.for %[[E:.*]] = %{{.*}} to %c4{{.*}} step %c1
// CHECK:         memref.prefetch %{{.*}}[%[[E]], %{{.*}}, %{{.*}}], read, locality<2>, data : memref<4x16x64xi8>
// CHECK:         %[[W:.*]] = vector.transfer_read %{{.*}}[%[[E]], %{{.*}}, %{{.*}}]{{.*}} : memref<4x16x64xi8>, vector<64xi8>
// CHECK:         %[[U:.*]] = arith.xori %[[W]], %{{.*}} : vector<64xi8>
// CHECK-COUNT-4: pquant.dot4 %{{.*}}, %[[U]], %{{.*}} {unsigned_lhs} : vector<16xi32>, vector<64xi8>
// CHECK:         arith.subi
func.func @experts(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: tensor<4x16x64xi8>, %ws: tensor<4x16xf32>, %ids: tensor<?x2xi32>) -> tensor<?x16xf32> {
  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 1 : i64} : tensor<?x64xi8>, tensor<?xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}


// -----

// The unpack-dot kernel: (token group, tile) pairs in parallel, each tile
// unpacked into bytes on its thread's stack (4 rows x 128 bytes), then dot
// products for every token of the group, summed on the stack (240 tokens x
// 4 rows).
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=unpack-dot dot=vnni" | FileCheck %s --check-prefix=UNPACK
// UNPACK-LABEL: func.func @auto
// UNPACK:         call @pquant_bitlinear_unpackdot_vnni_
// UNPACK:       func.func private @pquant_bitlinear_unpackdot_vnni_
// UNPACK:         scf.parallel
// UNPACK:         memref.alloca() {alignment = 64 : i64} : memref<4x128xi8>
// UNPACK:         vector.shuffle
// UNPACK:         arith.extui {{.*}} : vector<64xi1> to vector<64xi8>
// UNPACK:         vector.store {{.*}} : memref<4x128xi8>, vector<64xi8>
// UNPACK:         pquant.dot4 {{.*}} {unsigned_lhs} : vector<16xi32>, vector<64xi8>
// Each token's 4 row accumulators meet in one reduction tree: 2 halving
// steps across rows, 2 within, giving the tile's 4 sums.
// UNPACK-COUNT-8:   vector.shuffle {{.*}} : vector<{{16|8}}xi32>, vector<{{16|8}}xi32>
// UNPACK:           arith.addi {{.*}} : vector<4xi32>
// UNPACK:           vector.load {{.*}} : memref<240x4xi32>, vector<4xi32>

// The cost model: with a fast vector popcount, bit-serial for one token and
// the dot product for several while a tile of unpacked bytes (4 x 128 here)
// fits in L1.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="dot=vnni fast-popcount=true" | FileCheck %s --check-prefix=AUTO
// AUTO-LABEL: func.func @auto
// AUTO:         call @pquant_bitlinear_bitserial_1x128xi8
// AUTO:         call @pquant_bitlinear_unpackdot_vnni_Dx128xi8
// Without fast popcount, the dot instruction for every token count.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="dot=sdot" | FileCheck %s --check-prefix=AUTO-SDOT
// AUTO-SDOT-LABEL: func.func @auto
// AUTO-SDOT:       call @pquant_bitlinear_unpackdot_sdot_1x128xi8
// AUTO-SDOT:       call @pquant_bitlinear_unpackdot_sdot_Dx128xi8
#layout = #pquant.packed<rows = 4, cols = 128, word = 64, tile = [4, 1], bit_order = lsb_first>
func.func @auto(%q1: tensor<1x128xi8>, %s1: tensor<1xf32>, %q: tensor<?x128xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> (tensor<1x4xf32>, tensor<?x4xf32>) {
  %w = arith.constant dense<0> : tensor<1x2x4x1xi64, #layout>
  %a = pquant.bitlinear %q1, %s1, %w, %ws : tensor<1x128xi8>, tensor<1xf32>, tensor<1x2x4x1xi64, #layout>, tensor<1xf32> -> tensor<1x4xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<1x2x4x1xi64, #layout>, tensor<1xf32> -> tensor<?x4xf32>
  return %a, %b : tensor<1x4xf32>, tensor<?x4xf32>
}

// -----

// Where vpermi2b and vpdpbusd exist, lookup for one token is the lookup GEMV
// (tiles of 8 rows only: the 4-row tiles of @auto take the lookup kernel;
// the cost model keeps bit-serial for one token). Σq, then the tables of each word on the threads: q split
// into its low nibble and its high one (signed), and for each of the 4
// tables of 8 groups (even and odd groups, 4 groups a vector) and each of
// the 4 columns of a group, a shuffle gathering it, masked by the patterns
// that hold it, added. Then groups of 4 tiles on the threads, 2 words an
// iteration: per word the 8 table vectors, per tile its word as bytes,
// nibbles tagged with their group's place in the table (even: low nibble,
// odd: high one), 4 lookups; two words' lookups summed in bytes go into
// vpdpbusd, the high ones times 16.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=lookup dot=vnni fast-popcount=true byte-lookup=true" | FileCheck %s --check-prefix=GEMV
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="dot=vnni fast-popcount=true byte-lookup=true" | FileCheck %s --check-prefix=GEMV-AUTO
// GEMV-LABEL: func.func @auto
// GEMV:         call @pquant_bitlinear_lookup_vnni_1x128xi8
// GEMV-AUTO-LABEL: func.func @gemv
// GEMV-AUTO:       call @pquant_bitlinear_bitserial_1x2048xi8
// GEMV-LABEL: func.func @gemv
// GEMV:         call @pquant_bitlinear_lookup_gemv_1x2048xi8
// GEMV:       func.func private @pquant_bitlinear_lookup_gemv_1x2048xi8
// GEMV:         scf.parallel
// GEMV:           arith.andi %{{.*}}, %{{.*}} : vector<64xi8>
// GEMV:           arith.shrui %{{.*}}, %{{.*}} : vector<64xi8>
// GEMV-COUNT-8:   vector.shuffle
// GEMV:           vector.store %{{.*}} : memref<32x512xi8>, vector<64xi8>
// GEMV:         scf.parallel
// GEMV:           scf.for
// GEMV-COUNT-8:     vector.load %{{.*}} : memref<32x512xi8>, vector<64xi8>
// GEMV:             memref.prefetch %{{.*}}, read, locality<2>, data : memref<64x32x8xi64>
// GEMV:             vector.load %{{.*}} : memref<64x32x8xi64>, vector<8xi64>
// GEMV:             vector.bitcast %{{.*}} : vector<8xi64> to vector<64xi8>
// GEMV-COUNT-2:     pquant.lookup_bytes
// GEMV:             arith.addi %{{.*}} : vector<64xi8>
// GEMV:             pquant.dot4 %{{.*}}, %{{.*}}, %{{.*}} {unsigned_lhs} : vector<16xi32>, vector<64xi8>
// GEMV:           vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xi32>, vector<16xi32>
// GEMV:           vector.shuffle %{{.*}}, %{{.*}} [1, 3, 5, 7, 9, 11, 13, 15] : vector<16xi32>, vector<16xi32>
#gemv = #pquant.packed<rows = 512, cols = 2048, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func @gemv(%q: tensor<1x2048xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> tensor<1x512xf32> {
  %w = arith.constant dense<0> : tensor<64x32x8x1xi64, #gemv>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x2048xi8>, tensor<1xf32>, tensor<64x32x8x1xi64, #gemv>, tensor<1xf32> -> tensor<1x512xf32>
  return %y : tensor<1x512xf32>
}

// -----

// A tile too large for L1 (8 rows x 8192 bytes) stays bit-serial even for
// several tokens.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="dot=vnni fast-popcount=true" | FileCheck %s --check-prefix=AUTO-WIDE
// AUTO-WIDE-LABEL: func.func @wide
// AUTO-WIDE:         call @pquant_bitlinear_bitserial_Dx8192xi8
#wide = #pquant.packed<rows = 8, cols = 8192, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func @wide(%q: tensor<?x8192xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> tensor<?x8xf32> {
  %w = arith.constant dense<0> : tensor<1x128x8x1xi64, #wide>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x8192xi8>, tensor<?xf32>, tensor<1x128x8x1xi64, #wide>, tensor<1xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// With 256 rows or more to share each table, several tokens take the lookup
// kernel. From 64 tokens on, whole blocks of 32: their activations
// transposed into columns 8 at a time (each token's 8 bytes one i64, one
// shuffle of the block's 32), then per (token block, row range): ranges of 512 rows,
// or 2048 from 8 blocks on; tables of the 16 sums of 4 columns (32 groups
// for the 2 words of a chunk, one i16 lane per token), entry e built from
// entry (e with its lowest bit cleared) plus that bit's column; each row
// prefetches the chunk's words of the tile 4 ahead, adds the 16 entries its
// weight nibbles pick per word, then widens to its i32 sums (here K = 128:
// one chunk, with no second to pair it with). The other tokens (all of them
// below 64) go through the unpack-dot GEMM, with the pass's dot instruction.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="dot=vnni fast-popcount=true" | FileCheck %s --check-prefixes=LOOKUP,LOOKUP-VNNI
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=lookup" | FileCheck %s --check-prefixes=LOOKUP,LOOKUP-GENERIC
// LOOKUP-LABEL: func.func @tall
// LOOKUP-VNNI:    call @pquant_bitlinear_lookup_vnni_Dx128xi8
// LOOKUP-GENERIC: call @pquant_bitlinear_lookup_generic_Dx128xi8
// LOOKUP:       func.func private @pquant_bitlinear_lookup_
// LOOKUP:         arith.cmpi uge, %{{.*}}, %c64 : index
// LOOKUP:         memref.collapse_shape %{{.*}} {{\[}}[0, 1]] : memref<?x128xi8> into memref<?xi8>
// LOOKUP:         scf.parallel
// LOOKUP:           scf.for %{{.*}} = %{{.*}} to %c128{{.*}} step %c8
// LOOKUP-COUNT-32:    vector.load %{{.*}} : memref<?x128xi8>, vector<8xi8>
// LOOKUP:             vector.from_elements {{.*}} : vector<32xi64>
// LOOKUP:             vector.shuffle %{{.*}}, %{{.*}} [0, 8, 16, 24, 32, 40, 48, 56, 64, {{.*}}] : vector<256xi8>, vector<256xi8>
// LOOKUP:             vector.store %{{.*}} : memref<?xi8>, vector<256xi8>
// LOOKUP:         %[[WIDE:.*]] = arith.cmpi uge, %{{.*}}, %c8 : index
// LOOKUP:         %[[RANGE:.*]] = arith.select %[[WIDE]], %c2048, %c512 : index
// LOOKUP:         arith.ceildivui %c256{{.*}}, %[[RANGE]] : index
// LOOKUP:         scf.parallel
// LOOKUP:           memref.alloca() {alignment = 64 : i64} : memref<256x32xi32>
// LOOKUP:           memref.alloca() {alignment = 64 : i64} : memref<32x16x32xi16>
// LOOKUP:           vector.load %{{.*}} : memref<?xi8>, vector<32xi8>
// LOOKUP:           arith.extsi %{{.*}} : vector<32xi8> to vector<32xi16>
// LOOKUP-COUNT-15:  arith.addi %{{.*}} : vector<32xi16>
// LOOKUP-COUNT-16:  vector.store %{{.*}} : memref<32x16x32xi16>, vector<32xi16>
// LOOKUP:           %[[AHEAD:.*]] = arith.addi %{{.*}}, %c4{{.*}} : index
// LOOKUP:           %[[CLAMPED:.*]] = arith.minui %[[AHEAD]], %c31{{.*}} : index
// LOOKUP-COUNT-2:   memref.prefetch %{{.*}}[%[[CLAMPED]], %{{.*}}, %{{.*}}, %{{.*}}], read, locality<2>, data : memref<32x2x8x1xi64>
// LOOKUP:           memref.load %{{.*}} : memref<32x2x8x1xi64>
// LOOKUP-COUNT-16:  vector.load %{{.*}} : memref<32x16x32xi16>, vector<32xi16>
// LOOKUP:           memref.load %{{.*}} : memref<32x2x8x1xi64>
// LOOKUP:           arith.extsi %{{.*}} : vector<32xi16> to vector<32xi32>
// The rest: unpack-dot's (token group, tile) pairs.
// LOOKUP:         scf.parallel
// LOOKUP:           memref.alloca() {alignment = 64 : i64} : memref<8x128xi8>
// LOOKUP-VNNI:      pquant.dot4
#tall = #pquant.packed<rows = 256, cols = 128, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func @tall(%q: tensor<?x128xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> tensor<?x256xf32> {
  %w = arith.constant dense<0> : tensor<32x2x8x1xi64, #tall>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<32x2x8x1xi64, #tall>, tensor<1xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// K = 256: the two chunks of 2 words pair up. The first leaves each row's
// 32 lookups in i16; the second goes on from them and widens the pair's 64
// into the i32 sums once.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=lookup" | FileCheck %s --check-prefix=PAIR
// PAIR-LABEL:   func.func private @pquant_bitlinear_lookup_generic_Dx256xi8
// PAIR:           %[[HALVES:.*]] = memref.alloca() {alignment = 64 : i64} : memref<256x32xi16>
// PAIR:           scf.for
// PAIR-COUNT-32:    vector.load %{{.*}} : memref<32x16x32xi16>, vector<32xi16>
// PAIR:             vector.store %{{.*}}, %[[HALVES]][%{{.*}}, %{{.*}}] : memref<256x32xi16>, vector<32xi16>
// PAIR:             vector.load %[[HALVES]][%{{.*}}, %{{.*}}] : memref<256x32xi16>, vector<32xi16>
// PAIR-COUNT-32:    vector.load %{{.*}} : memref<32x16x32xi16>, vector<32xi16>
// PAIR:             arith.extsi %{{.*}} : vector<32xi16> to vector<32xi32>
#pair = #pquant.packed<rows = 256, cols = 256, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func @pair(%q: tensor<?x256xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> tensor<?x256xf32> {
  %w = arith.constant dense<0> : tensor<32x4x8x1xi64, #pair>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x256xi8>, tensor<?xf32>, tensor<32x4x8x1xi64, #pair>, tensor<1xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// Attention forms q·k and Σ p·v in f64, rounding each once to f32 as the
// reference does. With Dh = 16, each key row folds into 8 f64 lanes (two
// FMAs) and 4 rows are summed by one shuffle tree (2 halving steps across
// rows, then 1 within); the remaining rows are reduced one by one. The
// softmax takes exp 16 lanes at a time, in f64 (math.floor of its range
// reduction), then the rest one by one.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels | FileCheck %s --check-prefix=ATTN
// The new keys and values are written on the threads, a token each, then
// the heads run on the threads.
// ATTN-LABEL: func.func private @pquant_attention_layer1_
// ATTN:         scf.parallel
// ATTN:         vector.store %{{.*}} : memref<2x8x1x16xf32>, vector<16xf32>
// ATTN:         scf.parallel
// ATTN:         arith.extf %{{.*}} : vector<16xf32> to vector<16xf64>
// ATTN:         scf.for
// ATTN-COUNT-8: math.fma %{{.*}} : vector<8xf64>
// ATTN-COUNT-8: vector.shuffle
// ATTN:         arith.truncf %{{.*}} : vector<4xf64> to vector<4xf32>
// ATTN:         vector.store %{{.*}} : memref<8xf32>, vector<4xf32>
// ATTN:         vector.reduction <add>, %{{.*}} : vector<8xf64> into f64
// ATTN:         math.floor %{{.*}} : vector<16xf64>
// ATTN:         math.floor %{{.*}} : f64
// ATTN-NOT:     math.exp
// ATTN:         math.fma %{{.*}} : vector<16xf64>
// ATTN:         arith.truncf %{{.*}} : vector<16xf64> to vector<16xf32>
func.func @attention(%q: tensor<1x2x16xf32>, %k: tensor<1x1x16xf32>, %v: tensor<1x1x16xf32>,
                     %start: index, %kc: memref<2x8x1x16xf32>, %vc: memref<2x8x1x16xf32>) -> tensor<1x2x16xf32> {
  %o = pquant.attention %q, %k, %v cache(%kc, %vc) layer 1 at %start : tensor<1x2x16xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>, memref<2x8x1x16xf32>
  return %o : tensor<1x2x16xf32>
}

// -----

// Tiles of 3 rows (a pquant-pack-weights option, not a pipeline default)
// cannot meet in one reduction tree: each row's accumulator is reduced on
// its own (this crashed the pass when the tree was taken for any rows).
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=unpack-dot dot=vnni" | FileCheck %s --check-prefix=ROWS3
// ROWS3-LABEL: func.func private @pquant_bitlinear_unpackdot_vnni_Dx128xi8_Dxf32_2x2x3x1xi64
// ROWS3-COUNT-3: vector.reduction <add>, %{{.*}} : vector<16xi32> into i32
// ROWS3-NEXT:    vector.from_elements %{{.*}}, %{{.*}}, %{{.*}} : vector<3xi32>
#rows3 = #pquant.packed<rows = 6, cols = 128, word = 64, tile = [3, 1], bit_order = lsb_first>
func.func @rows3(%q: tensor<?x128xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> tensor<?x6xf32> {
  %w = arith.constant dense<-1> : tensor<2x2x3x1xi64, #rows3>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<2x2x3x1xi64, #rows3>, tensor<1xf32> -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}

// -----

// silu(g)·u takes exp of 16 lanes at once, evaluated in f64 (the range
// reduction's math.floor) and rounded once, not lane by lane through expf.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels | FileCheck %s --check-prefix=SILU
// SILU-LABEL: func.func private @pquant_silu_mul_
// SILU:         arith.extf %{{.*}} : vector<16xf32> to vector<16xf64>
// SILU:         math.floor %{{.*}} : vector<16xf64>
// SILU:         arith.truncf %{{.*}} : vector<16xf64> to vector<16xf32>
// SILU:         arith.divf %{{.*}} : vector<16xf32>
// SILU-NOT:     math.exp
func.func @silu(%g: tensor<?x40xf32>, %u: tensor<?x40xf32>) -> tensor<?x40xf32> {
  %y = pquant.silu_mul %g, %u : tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

// RoPE: a token's angles form one vector (position × the folded inverse
// frequencies), whose cos and sin are evaluated in f64 (the range
// reduction's math.floor) and rounded once; each head rotates its two
// halves as vectors.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels | FileCheck %s --check-prefix=ROPE
// ROPE-LABEL: func.func private @pquant_rope_
// ROPE:         scf.parallel
// ROPE:           arith.mulf %{{.*}} : vector<8xf32>
// ROPE:           math.floor %{{.*}} : vector<8xf64>
// ROPE:           scf.for
// ROPE:             vector.load %{{.*}} : memref<?x2x16xf32>, vector<8xf32>
// ROPE-NOT:     math.cos
// ROPE-NOT:     math.sin
func.func @rope(%x: tensor<?x2x16xf32>, %p: tensor<?xi32>) -> tensor<?x2x16xf32> {
  %y = pquant.rope %x, %p {theta = 1.0e+04 : f32} : tensor<?x2x16xf32>, tensor<?xi32>
  return %y : tensor<?x2x16xf32>
}

// -----

// The float linear (an f32 or f16 lm_head): blocks of 4 rows on the threads,
// each weight load prefetching (into L2) the same columns 16 KB of rows
// ahead: 8 rows of 2048 bytes here, two blocks (clamped to the last row, 9).
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels | FileCheck %s --check-prefix=FLOAT
// FLOAT-LABEL: func.func private @pquant_float_linear_
// FLOAT:         scf.parallel
// FLOAT:           %[[AHEAD:.*]] = arith.addi %{{.*}}, %c8{{.*}} : index
// FLOAT:           arith.minsi %[[AHEAD]], %c9{{.*}} : index
// FLOAT:           memref.prefetch %{{.*}}, read, locality<2>, data : memref<10x1024xf16>
// FLOAT:           vector.transfer_read %{{.*}} : memref<10x1024xf16>, vector<16xf16>
// FLOAT:           math.fma
func.func @float_linear(%x: tensor<1x1024xf32>, %w: tensor<10x1024xf16>) -> tensor<1x10xf32> {
  %y = pquant.float_linear %x, %w : tensor<1x1024xf32>, tensor<10x1024xf16> -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}

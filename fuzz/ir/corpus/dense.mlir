module attributes {pquant.checkpoint = "/tmp/tmpffls9sqy/dense", pquant.config = {ffn_bin_size = 9 : i64, ffn_hp_size = 1 : i64, gate_weighting = true, hidden_size = 4 : i64, max_seq_len = 4 : i64, num_experts = 1 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, num_layers = 1 : i64, rms_norm_eps = 1.000000e-05 : f64, rope_theta = 1.000000e+04 : f64, subln = true, tie_embeddings = false, top_k = 1 : i64, vocab_size = 4 : i64}} {
  func.func @prefill(%arg0: tensor<?xi32>, %arg1: index, %arg2: memref<1x4x1x4xf32>, %arg3: memref<1x4x1x4xf32>) -> tensor<?x4xf32> {
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %arg0, %c0 : tensor<?xi32>
    %generated = tensor.generate %dim {
    ^bb0(%arg4: index):
      %40 = arith.addi %arg4, %arg1 : index
      %41 = arith.index_cast %40 : index to i32
      tensor.yield %41 : i32
    } : tensor<?xi32>
    %0 = pquant.weight "embed.weight" : tensor<4x4xf32>
    %1 = pquant.embedding %0, %arg0 : tensor<4x4xf32>, tensor<?xi32> -> tensor<?x4xf32>
    %2 = pquant.weight "layers.0.attn_norm.weight" : tensor<4xf32>
    %3 = pquant.rms_norm %1 weight(%2) : tensor<?x4xf32>, tensor<4xf32>
    %output, %scale = pquant.quantize %3 : tensor<?x4xf32> -> tensor<?x4xi8>, tensor<?xf32>
    %4 = pquant.weight "layers.0.attn.q.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %5 = pquant.weight "layers.0.attn.q.scale" : tensor<1xf32>
    %6 = pquant.bitlinear %output, %scale, %4, %5 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %7 = pquant.weight "layers.0.attn.k.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %8 = pquant.weight "layers.0.attn.k.scale" : tensor<1xf32>
    %9 = pquant.bitlinear %output, %scale, %7, %8 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %10 = pquant.weight "layers.0.attn.v.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %11 = pquant.weight "layers.0.attn.v.scale" : tensor<1xf32>
    %12 = pquant.bitlinear %output, %scale, %10, %11 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %expanded = tensor.expand_shape %6 [[0], [1, 2]] output_shape [%dim, 1, 4] : tensor<?x4xf32> into tensor<?x1x4xf32>
    %expanded_0 = tensor.expand_shape %9 [[0], [1, 2]] output_shape [%dim, 1, 4] : tensor<?x4xf32> into tensor<?x1x4xf32>
    %expanded_1 = tensor.expand_shape %12 [[0], [1, 2]] output_shape [%dim, 1, 4] : tensor<?x4xf32> into tensor<?x1x4xf32>
    %13 = pquant.rope %expanded, %generated : tensor<?x1x4xf32>, tensor<?xi32>
    %14 = pquant.rope %expanded_0, %generated : tensor<?x1x4xf32>, tensor<?xi32>
    %15 = pquant.attention %13, %14, %expanded_1 cache(%arg2, %arg3) layer 0 at %arg1 : tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, memref<1x4x1x4xf32>
    %collapsed = tensor.collapse_shape %15 [[0], [1, 2]] : tensor<?x1x4xf32> into tensor<?x4xf32>
    %output_2, %scale_3 = pquant.quantize %collapsed : tensor<?x4xf32> -> tensor<?x4xi8>, tensor<?xf32>
    %16 = pquant.weight "layers.0.attn.o.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %17 = pquant.weight "layers.0.attn.o.scale" : tensor<1xf32>
    %18 = pquant.bitlinear %output_2, %scale_3, %16, %17 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %19 = arith.addf %1, %18 : tensor<?x4xf32>
    %20 = pquant.weight "layers.0.ffn_norm.weight" : tensor<4xf32>
    %21 = pquant.rms_norm %19 weight(%20) : tensor<?x4xf32>, tensor<4xf32>
    %22 = pquant.weight "layers.0.ffn.gate1.weight" : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %23 = pquant.weight "layers.0.ffn.gate1.scale" : tensor<1xf32>
    %24 = pquant.weight "layers.0.ffn.up1.weight" : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %25 = pquant.weight "layers.0.ffn.up1.scale" : tensor<1xf32>
    %26 = pquant.weight "layers.0.ffn.down1.weight" : tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %27 = pquant.weight "layers.0.ffn.down1.scale" : tensor<1xf32>
    %28 = pquant.weight "layers.0.ffn.gate8.weight" : tensor<1x1x4xi8>
    %29 = pquant.weight "layers.0.ffn.gate8.scale" : tensor<1x1xf32>
    %30 = pquant.weight "layers.0.ffn.up8.weight" : tensor<1x1x4xi8>
    %31 = pquant.weight "layers.0.ffn.up8.scale" : tensor<1x1xf32>
    %32 = pquant.weight "layers.0.ffn.down8.weight" : tensor<1x4x1xi8>
    %33 = pquant.weight "layers.0.ffn.down8.scale" : tensor<1x4xf32>
    %34 = pquant.decoupled_ffn %21 binary(%22, %23, %24, %25, %26, %27) int8(%28, %29, %30, %31, %32, %33) {alpha = 1.81580079 : f32, beta = 0.193143472 : f32, gate_weighting, subln} : tensor<?x4xf32>, binary(tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>), int8(tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x4x1xi8>, tensor<1x4xf32>) -> tensor<?x4xf32>
    %35 = arith.addf %19, %34 : tensor<?x4xf32>
    %36 = pquant.weight "norm.weight" : tensor<4xf32>
    %37 = pquant.rms_norm %35 weight(%36) : tensor<?x4xf32>, tensor<4xf32>
    %38 = pquant.weight "lm_head.weight" : tensor<4x4xf32>
    %39 = pquant.float_linear %37, %38 : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>
    return %39 : tensor<?x4xf32>
  }
  func.func @decode(%arg0: tensor<1xi32>, %arg1: index, %arg2: memref<1x4x1x4xf32>, %arg3: memref<1x4x1x4xf32>) -> tensor<1x4xf32> {
    %generated = tensor.generate  {
    ^bb0(%arg4: index):
      %40 = arith.addi %arg4, %arg1 : index
      %41 = arith.index_cast %40 : index to i32
      tensor.yield %41 : i32
    } : tensor<1xi32>
    %0 = pquant.weight "embed.weight" : tensor<4x4xf32>
    %1 = pquant.embedding %0, %arg0 : tensor<4x4xf32>, tensor<1xi32> -> tensor<1x4xf32>
    %2 = pquant.weight "layers.0.attn_norm.weight" : tensor<4xf32>
    %3 = pquant.rms_norm %1 weight(%2) : tensor<1x4xf32>, tensor<4xf32>
    %output, %scale = pquant.quantize %3 : tensor<1x4xf32> -> tensor<1x4xi8>, tensor<1xf32>
    %4 = pquant.weight "layers.0.attn.q.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %5 = pquant.weight "layers.0.attn.q.scale" : tensor<1xf32>
    %6 = pquant.bitlinear %output, %scale, %4, %5 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %7 = pquant.weight "layers.0.attn.k.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %8 = pquant.weight "layers.0.attn.k.scale" : tensor<1xf32>
    %9 = pquant.bitlinear %output, %scale, %7, %8 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %10 = pquant.weight "layers.0.attn.v.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %11 = pquant.weight "layers.0.attn.v.scale" : tensor<1xf32>
    %12 = pquant.bitlinear %output, %scale, %10, %11 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %expanded = tensor.expand_shape %6 [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xf32> into tensor<1x1x4xf32>
    %expanded_0 = tensor.expand_shape %9 [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xf32> into tensor<1x1x4xf32>
    %expanded_1 = tensor.expand_shape %12 [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xf32> into tensor<1x1x4xf32>
    %13 = pquant.rope %expanded, %generated : tensor<1x1x4xf32>, tensor<1xi32>
    %14 = pquant.rope %expanded_0, %generated : tensor<1x1x4xf32>, tensor<1xi32>
    %15 = pquant.attention %13, %14, %expanded_1 cache(%arg2, %arg3) layer 0 at %arg1 : tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, memref<1x4x1x4xf32>
    %collapsed = tensor.collapse_shape %15 [[0], [1, 2]] : tensor<1x1x4xf32> into tensor<1x4xf32>
    %output_2, %scale_3 = pquant.quantize %collapsed : tensor<1x4xf32> -> tensor<1x4xi8>, tensor<1xf32>
    %16 = pquant.weight "layers.0.attn.o.weight" : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %17 = pquant.weight "layers.0.attn.o.scale" : tensor<1xf32>
    %18 = pquant.bitlinear %output_2, %scale_3, %16, %17 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %19 = arith.addf %1, %18 : tensor<1x4xf32>
    %20 = pquant.weight "layers.0.ffn_norm.weight" : tensor<4xf32>
    %21 = pquant.rms_norm %19 weight(%20) : tensor<1x4xf32>, tensor<4xf32>
    %22 = pquant.weight "layers.0.ffn.gate1.weight" : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %23 = pquant.weight "layers.0.ffn.gate1.scale" : tensor<1xf32>
    %24 = pquant.weight "layers.0.ffn.up1.weight" : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %25 = pquant.weight "layers.0.ffn.up1.scale" : tensor<1xf32>
    %26 = pquant.weight "layers.0.ffn.down1.weight" : tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %27 = pquant.weight "layers.0.ffn.down1.scale" : tensor<1xf32>
    %28 = pquant.weight "layers.0.ffn.gate8.weight" : tensor<1x1x4xi8>
    %29 = pquant.weight "layers.0.ffn.gate8.scale" : tensor<1x1xf32>
    %30 = pquant.weight "layers.0.ffn.up8.weight" : tensor<1x1x4xi8>
    %31 = pquant.weight "layers.0.ffn.up8.scale" : tensor<1x1xf32>
    %32 = pquant.weight "layers.0.ffn.down8.weight" : tensor<1x4x1xi8>
    %33 = pquant.weight "layers.0.ffn.down8.scale" : tensor<1x4xf32>
    %34 = pquant.decoupled_ffn %21 binary(%22, %23, %24, %25, %26, %27) int8(%28, %29, %30, %31, %32, %33) {alpha = 1.81580079 : f32, beta = 0.193143472 : f32, gate_weighting, subln} : tensor<1x4xf32>, binary(tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>), int8(tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x4x1xi8>, tensor<1x4xf32>) -> tensor<1x4xf32>
    %35 = arith.addf %19, %34 : tensor<1x4xf32>
    %36 = pquant.weight "norm.weight" : tensor<4xf32>
    %37 = pquant.rms_norm %35 weight(%36) : tensor<1x4xf32>, tensor<4xf32>
    %38 = pquant.weight "lm_head.weight" : tensor<4x4xf32>
    %39 = pquant.float_linear %37, %38 : tensor<1x4xf32>, tensor<4x4xf32> -> tensor<1x4xf32>
    return %39 : tensor<1x4xf32>
  }
}

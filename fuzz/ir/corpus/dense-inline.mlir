module attributes {pquant.config = {ffn_bin_size = 9 : i64, ffn_hp_size = 1 : i64, gate_weighting = true, hidden_size = 4 : i64, max_seq_len = 4 : i64, num_experts = 1 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, num_layers = 1 : i64, rms_norm_eps = 1.000000e-05 : f64, rope_theta = 1.000000e+04 : f64, subln = true, tie_embeddings = false, top_k = 1 : i64, vocab_size = 4 : i64}} {
  func.func @prefill(%arg0: tensor<?xi32>, %arg1: index, %arg2: memref<1x4x1x4xf32>, %arg3: memref<1x4x1x4xf32>) -> tensor<?x4xf32> {
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %arg0, %c0 : tensor<?xi32>
    %generated = tensor.generate %dim {
    ^bb0(%arg4: index):
      %15 = arith.addi %arg4, %arg1 : index
      %16 = arith.index_cast %15 : index to i32
      tensor.yield %16 : i32
    } : tensor<?xi32>
    %cst = arith.constant dense_resource<embed.weight> : tensor<4x4xf32>
    %0 = pquant.embedding %cst, %arg0 : tensor<4x4xf32>, tensor<?xi32> -> tensor<?x4xf32>
    %cst_0 = arith.constant dense_resource<layers.0.attn_norm.weight> : tensor<4xf32>
    %1 = pquant.rms_norm %0 weight(%cst_0) : tensor<?x4xf32>, tensor<4xf32>
    %output, %scale = pquant.quantize %1 : tensor<?x4xf32> -> tensor<?x4xi8>, tensor<?xf32>
    %cst_1 = arith.constant dense_resource<layers.0.attn.q.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_2 = arith.constant dense_resource<layers.0.attn.q.scale> : tensor<1xf32>
    %2 = pquant.bitlinear %output, %scale, %cst_1, %cst_2 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %cst_3 = arith.constant dense_resource<layers.0.attn.k.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_4 = arith.constant dense_resource<layers.0.attn.k.scale> : tensor<1xf32>
    %3 = pquant.bitlinear %output, %scale, %cst_3, %cst_4 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %cst_5 = arith.constant dense_resource<layers.0.attn.v.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_6 = arith.constant dense_resource<layers.0.attn.v.scale> : tensor<1xf32>
    %4 = pquant.bitlinear %output, %scale, %cst_5, %cst_6 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %expanded = tensor.expand_shape %2 [[0], [1, 2]] output_shape [%dim, 1, 4] : tensor<?x4xf32> into tensor<?x1x4xf32>
    %expanded_7 = tensor.expand_shape %3 [[0], [1, 2]] output_shape [%dim, 1, 4] : tensor<?x4xf32> into tensor<?x1x4xf32>
    %expanded_8 = tensor.expand_shape %4 [[0], [1, 2]] output_shape [%dim, 1, 4] : tensor<?x4xf32> into tensor<?x1x4xf32>
    %5 = pquant.rope %expanded, %generated : tensor<?x1x4xf32>, tensor<?xi32>
    %6 = pquant.rope %expanded_7, %generated : tensor<?x1x4xf32>, tensor<?xi32>
    %7 = pquant.attention %5, %6, %expanded_8 cache(%arg2, %arg3) layer 0 at %arg1 : tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, memref<1x4x1x4xf32>
    %collapsed = tensor.collapse_shape %7 [[0], [1, 2]] : tensor<?x1x4xf32> into tensor<?x4xf32>
    %output_9, %scale_10 = pquant.quantize %collapsed : tensor<?x4xf32> -> tensor<?x4xi8>, tensor<?xf32>
    %cst_11 = arith.constant dense_resource<layers.0.attn.o.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_12 = arith.constant dense_resource<layers.0.attn.o.scale> : tensor<1xf32>
    %8 = pquant.bitlinear %output_9, %scale_10, %cst_11, %cst_12 : tensor<?x4xi8>, tensor<?xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x4xf32>
    %9 = arith.addf %0, %8 : tensor<?x4xf32>
    %cst_13 = arith.constant dense_resource<layers.0.ffn_norm.weight> : tensor<4xf32>
    %10 = pquant.rms_norm %9 weight(%cst_13) : tensor<?x4xf32>, tensor<4xf32>
    %cst_14 = arith.constant dense_resource<layers.0.ffn.gate1.weight> : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_15 = arith.constant dense_resource<layers.0.ffn.gate1.scale> : tensor<1xf32>
    %cst_16 = arith.constant dense_resource<layers.0.ffn.up1.weight> : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_17 = arith.constant dense_resource<layers.0.ffn.up1.scale> : tensor<1xf32>
    %cst_18 = arith.constant dense_resource<layers.0.ffn.down1.weight> : tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_19 = arith.constant dense_resource<layers.0.ffn.down1.scale> : tensor<1xf32>
    %cst_20 = arith.constant dense_resource<layers.0.ffn.gate8.weight> : tensor<1x1x4xi8>
    %cst_21 = arith.constant dense_resource<layers.0.ffn.gate8.scale> : tensor<1x1xf32>
    %cst_22 = arith.constant dense_resource<layers.0.ffn.up8.weight> : tensor<1x1x4xi8>
    %cst_23 = arith.constant dense_resource<layers.0.ffn.up8.scale> : tensor<1x1xf32>
    %cst_24 = arith.constant dense_resource<layers.0.ffn.down8.weight> : tensor<1x4x1xi8>
    %cst_25 = arith.constant dense_resource<layers.0.ffn.down8.scale> : tensor<1x4xf32>
    %11 = pquant.decoupled_ffn %10 binary(%cst_14, %cst_15, %cst_16, %cst_17, %cst_18, %cst_19) int8(%cst_20, %cst_21, %cst_22, %cst_23, %cst_24, %cst_25) {alpha = 1.81580079 : f32, beta = 0.193143472 : f32, gate_weighting, subln} : tensor<?x4xf32>, binary(tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>), int8(tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x4x1xi8>, tensor<1x4xf32>) -> tensor<?x4xf32>
    %12 = arith.addf %9, %11 : tensor<?x4xf32>
    %cst_26 = arith.constant dense_resource<norm.weight> : tensor<4xf32>
    %13 = pquant.rms_norm %12 weight(%cst_26) : tensor<?x4xf32>, tensor<4xf32>
    %cst_27 = arith.constant dense_resource<lm_head.weight> : tensor<4x4xf32>
    %14 = pquant.float_linear %13, %cst_27 : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>
    return %14 : tensor<?x4xf32>
  }
  func.func @decode(%arg0: tensor<1xi32>, %arg1: index, %arg2: memref<1x4x1x4xf32>, %arg3: memref<1x4x1x4xf32>) -> tensor<1x4xf32> {
    %generated = tensor.generate  {
    ^bb0(%arg4: index):
      %15 = arith.addi %arg4, %arg1 : index
      %16 = arith.index_cast %15 : index to i32
      tensor.yield %16 : i32
    } : tensor<1xi32>
    %cst = arith.constant dense_resource<embed.weight> : tensor<4x4xf32>
    %0 = pquant.embedding %cst, %arg0 : tensor<4x4xf32>, tensor<1xi32> -> tensor<1x4xf32>
    %cst_0 = arith.constant dense_resource<layers.0.attn_norm.weight> : tensor<4xf32>
    %1 = pquant.rms_norm %0 weight(%cst_0) : tensor<1x4xf32>, tensor<4xf32>
    %output, %scale = pquant.quantize %1 : tensor<1x4xf32> -> tensor<1x4xi8>, tensor<1xf32>
    %cst_1 = arith.constant dense_resource<layers.0.attn.q.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_2 = arith.constant dense_resource<layers.0.attn.q.scale> : tensor<1xf32>
    %2 = pquant.bitlinear %output, %scale, %cst_1, %cst_2 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %cst_3 = arith.constant dense_resource<layers.0.attn.k.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_4 = arith.constant dense_resource<layers.0.attn.k.scale> : tensor<1xf32>
    %3 = pquant.bitlinear %output, %scale, %cst_3, %cst_4 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %cst_5 = arith.constant dense_resource<layers.0.attn.v.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_6 = arith.constant dense_resource<layers.0.attn.v.scale> : tensor<1xf32>
    %4 = pquant.bitlinear %output, %scale, %cst_5, %cst_6 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %expanded = tensor.expand_shape %2 [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xf32> into tensor<1x1x4xf32>
    %expanded_7 = tensor.expand_shape %3 [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xf32> into tensor<1x1x4xf32>
    %expanded_8 = tensor.expand_shape %4 [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xf32> into tensor<1x1x4xf32>
    %5 = pquant.rope %expanded, %generated : tensor<1x1x4xf32>, tensor<1xi32>
    %6 = pquant.rope %expanded_7, %generated : tensor<1x1x4xf32>, tensor<1xi32>
    %7 = pquant.attention %5, %6, %expanded_8 cache(%arg2, %arg3) layer 0 at %arg1 : tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, memref<1x4x1x4xf32>
    %collapsed = tensor.collapse_shape %7 [[0], [1, 2]] : tensor<1x1x4xf32> into tensor<1x4xf32>
    %output_9, %scale_10 = pquant.quantize %collapsed : tensor<1x4xf32> -> tensor<1x4xi8>, tensor<1xf32>
    %cst_11 = arith.constant dense_resource<layers.0.attn.o.weight> : tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_12 = arith.constant dense_resource<layers.0.attn.o.scale> : tensor<1xf32>
    %8 = pquant.bitlinear %output_9, %scale_10, %cst_11, %cst_12 : tensor<1x4xi8>, tensor<1xf32>, tensor<4x1x1x1xi8, #pquant.packed<rows = 4, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x4xf32>
    %9 = arith.addf %0, %8 : tensor<1x4xf32>
    %cst_13 = arith.constant dense_resource<layers.0.ffn_norm.weight> : tensor<4xf32>
    %10 = pquant.rms_norm %9 weight(%cst_13) : tensor<1x4xf32>, tensor<4xf32>
    %cst_14 = arith.constant dense_resource<layers.0.ffn.gate1.weight> : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_15 = arith.constant dense_resource<layers.0.ffn.gate1.scale> : tensor<1xf32>
    %cst_16 = arith.constant dense_resource<layers.0.ffn.up1.weight> : tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_17 = arith.constant dense_resource<layers.0.ffn.up1.scale> : tensor<1xf32>
    %cst_18 = arith.constant dense_resource<layers.0.ffn.down1.weight> : tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>
    %cst_19 = arith.constant dense_resource<layers.0.ffn.down1.scale> : tensor<1xf32>
    %cst_20 = arith.constant dense_resource<layers.0.ffn.gate8.weight> : tensor<1x1x4xi8>
    %cst_21 = arith.constant dense_resource<layers.0.ffn.gate8.scale> : tensor<1x1xf32>
    %cst_22 = arith.constant dense_resource<layers.0.ffn.up8.weight> : tensor<1x1x4xi8>
    %cst_23 = arith.constant dense_resource<layers.0.ffn.up8.scale> : tensor<1x1xf32>
    %cst_24 = arith.constant dense_resource<layers.0.ffn.down8.weight> : tensor<1x4x1xi8>
    %cst_25 = arith.constant dense_resource<layers.0.ffn.down8.scale> : tensor<1x4xf32>
    %11 = pquant.decoupled_ffn %10 binary(%cst_14, %cst_15, %cst_16, %cst_17, %cst_18, %cst_19) int8(%cst_20, %cst_21, %cst_22, %cst_23, %cst_24, %cst_25) {alpha = 1.81580079 : f32, beta = 0.193143472 : f32, gate_weighting, subln} : tensor<1x4xf32>, binary(tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<9x1x1x1xi8, #pquant.packed<rows = 9, cols = 4, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>, tensor<4x2x1x1xi8, #pquant.packed<rows = 4, cols = 9, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32>), int8(tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x1x4xi8>, tensor<1x1xf32>, tensor<1x4x1xi8>, tensor<1x4xf32>) -> tensor<1x4xf32>
    %12 = arith.addf %9, %11 : tensor<1x4xf32>
    %cst_26 = arith.constant dense_resource<norm.weight> : tensor<4xf32>
    %13 = pquant.rms_norm %12 weight(%cst_26) : tensor<1x4xf32>, tensor<4xf32>
    %cst_27 = arith.constant dense_resource<lm_head.weight> : tensor<4x4xf32>
    %14 = pquant.float_linear %13, %cst_27 : tensor<1x4xf32>, tensor<4x4xf32> -> tensor<1x4xf32>
    return %14 : tensor<1x4xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      embed.weight: "0x1000000004782040C9E7843F3CFAAFBDB343453F8F72CC3F8C1B913F7910163EEB9B97BF22B45CBD11241F3D8FDB9FBF7319AFBFC9DEAABFA0B6803F12C68D3F4B4626BF",
      layers.0.attn_norm.weight: "0x10000000F8578A3F63E89C3FC7EA8F3FEB38653F",
      layers.0.attn.q.weight: "0x100000000F090F08",
      layers.0.attn.q.scale: "0x100000000000003F",
      layers.0.attn.k.weight: "0x10000000030F0B08",
      layers.0.attn.k.scale: "0x100000000000003F",
      layers.0.attn.v.weight: "0x1000000007080005",
      layers.0.attn.v.scale: "0x100000000000003F",
      layers.0.attn.o.weight: "0x100000000E080303",
      layers.0.attn.o.scale: "0x100000000000003F",
      layers.0.ffn_norm.weight: "0x10000000E23A863FAA8B823FDFF6853F6257803F",
      layers.0.ffn.gate1.weight: "0x100000000D0C0A0202080F0A0F",
      layers.0.ffn.gate1.scale: "0x100000000000003F",
      layers.0.ffn.up1.weight: "0x100000000C030008020809060A",
      layers.0.ffn.up1.scale: "0x100000000000003F",
      layers.0.ffn.down1.weight: "0x10000000DF014601DD00C201",
      layers.0.ffn.down1.scale: "0x10000000ABAAAA3E",
      layers.0.ffn.gate8.weight: "0x10000000A17F2BD1",
      layers.0.ffn.gate8.scale: "0x10000000999CD83B",
      layers.0.ffn.up8.weight: "0x100000004EF67FFE",
      layers.0.ffn.up8.scale: "0x10000000DFD5073C",
      layers.0.ffn.down8.weight: "0x10000000817F7F7F",
      layers.0.ffn.down8.scale: "0x100000002013EA3B8C65A53B8433933BC3F5D03B",
      norm.weight: "0x100000008ECF773FBF2F783F89AC6A3F27847D3F",
      lm_head.weight: "0x10000000C0CF50BEF5DC43BF546D1A3FD0D2B33D4102103E00F7E3BE0F3A2A3F1A330B3FC4622EBFE6BDD93FDF56A6BD15802C3FD66B3ABF3AEFC9BF63CF0F3F09E0DBBE"
    }
  }
#-}

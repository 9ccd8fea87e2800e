package cudatest

// Cases are the conformance cases of the CUDA kernels: together they use
// every kernel generator (each elementwise op, casts, data movement,
// Gather, RMSNorm, AddRMSNorm, FusedElementwise, CausalConv1d for prefill,
// with a state and for decoding, MatMul and LoRAMatMul with wide and
// narrow tiles and narrow dtypes, SelectiveScan in the Mamba-1, grouped,
// Mamba-2 and constant-B/C forms, SelectiveStateUpdate likewise). Lengths
// are chosen not to be multiples of the scan chunk (128 steps), the conv
// time tile (16), the GEMM tiles or the pointwise block (256).
var Cases = []Case{
	{Name: "add_broadcast", Env: map[string]int64{"B": 2, "L": 37}, Func: `
func @add_broadcast(%a: f32[B,L,70], %b: f32[70]) -> (f32[B,L,70]) {
  %2 = Add(%a, %b) : f32[B,L,70]
  return %2
}`},
	{Name: "binary_ops", Env: map[string]int64{"L": 300}, Func: `
func @binary_ops(%a: f32[L,3], %b: f32[1,3], %pos_c: f32[L,1]) -> (f32[L,3], f32[L,3], f32[L,3], f32[L,3]) {
  %3 = Sub(%a, %b) : f32[L,3]
  %4 = Mul(%a, %pos_c) : f32[L,3]
  %5 = Div(%a, %pos_c) : f32[L,3]
  %6 = Pow(%pos_c, %b) : f32[L,3]
  return %3, %4, %5, %6
}`},
	{Name: "unary_ops", Env: map[string]int64{"N": 515}, Func: `
func @unary_ops(%x: f32[N], %pos_x: f32[N]) -> (f32[N], f32[N], f32[N], f32[N], f32[N], f32[N], f32[N], f32[N], f32[N], f32[N]) {
  %2 = Neg(%x) : f32[N]
  %3 = Exp(%x) : f32[N]
  %4 = Log(%pos_x) : f32[N]
  %5 = Sqrt(%pos_x) : f32[N]
  %6 = Rsqrt(%pos_x) : f32[N]
  %7 = Sigmoid(%x) : f32[N]
  %8 = SiLU(%x) : f32[N]
  %9 = Softplus(%x) : f32[N]
  %10 = Tanh(%x) : f32[N]
  %11 = Relu(%x) : f32[N]
  return %2, %3, %4, %5, %6, %7, %8, %9, %10, %11
}`},
	{Name: "casts", Env: map[string]int64{"N": 300}, Exact: true, Func: `
func @casts(%x: f32[N], %h: bf16[N], %g: f16[N], %wide: f32[N]) -> (bf16[N], f16[N], f32[N], f32[N], f16[N], f16[N], bf16[N]) {
  %4 = Cast(%x) {to = bf16} : bf16[N]
  %5 = Cast(%x) {to = f16} : f16[N]
  %6 = Cast(%h) {to = f32} : f32[N]
  %7 = Cast(%g) {to = f32} : f32[N]
  %8 = SiLU(%g) : f16[N]
  %9 = Cast(%wide) {to = f16} : f16[N]
  %10 = Cast(%wide) {to = bf16} : bf16[N]
  return %4, %5, %6, %7, %8, %9, %10
}`},
	{Name: "movement", Env: map[string]int64{"B": 2, "L": 5}, Func: `
func @movement(%x: f32[B,L,6], %s: f32[B,6,3]) -> (f32[B,6,L], f32[B,6,L+3], f32[B,6,3], f32[B,L,2], f32[B,L,4], f32[B,3,6], f32[B,L,6]) {
  %2 = Transpose(%x) {perm = [0, 2, 1]} : f32[B,6,L]
  %3 = Concat(%s, %2) {axis = 2} : f32[B,6,L+3]
  %4 = Slice(%3) {axes = [2], ends = [9223372036854775807], starts = [-3]} : f32[B,6,3]
  %5 = Split(%x) {axis = -1, sizes = [2, 4]} : (f32[B,L,2], f32[B,L,4])
  %6 = Extract(%5) {index = 0} : f32[B,L,2]
  %7 = Extract(%5) {index = 1} : f32[B,L,4]
  %8 = Slice(%s) {axes = [1, 2], ends = [-7, 9223372036854775807], starts = [5, 0], steps = [-2, 1]} : f32[B,3,3]
  %9 = Concat(%8, %8) {axis = 2} : f32[B,3,6]
  %10 = Param() {name = "row"} : f32[1,6]
  %11 = Expand(%10) {shape = [B,L,6]} : f32[B,L,6]
  return %2, %3, %4, %6, %7, %9, %11
}`},
	{Name: "gather", Env: map[string]int64{"B": 3, "L": 7}, Rows: 10, Func: `
func @gather(%ids: i64[B,L]) -> (bf16[B,L,12], f32[B,L,12]) {
  %1 = Param() {name = "embedding"} : bf16[10,12]
  %2 = Gather(%1, %ids) {axis = 0} : bf16[B,L,12]
  %3 = Cast(%2) {to = f32} : f32[B,L,12]
  return %2, %3
}`},
	{Name: "rmsnorm", Env: map[string]int64{"B": 3, "L": 5}, Func: `
func @rmsnorm(%x: f32[B,L,70], %h: bf16[B,600]) -> (f32[B,L,70], bf16[B,600]) {
  %2 = Param() {name = "norm"} : f32[70]
  %3 = RMSNorm(%x, %2) {eps = 1e-05} : f32[B,L,70]
  %4 = Param() {name = "norm16"} : bf16[600]
  %5 = RMSNorm(%h, %4) {eps = 1e-06} : bf16[B,600]
  return %3, %5
}`},
	{Name: "add_rmsnorm", Env: map[string]int64{"B": 2, "L": 9}, Func: `
func @add_rmsnorm(%x: f32[B,L,300], %r: f32[B,L,300], %h: bf16[B,40], %hr: f32[B,40]) -> (f32[B,L,300], f32[B,L,300], f32[B,40], bf16[B,40]) {
  %4 = Param() {name = "norm.a"} : f32[300]
  %5 = AddRMSNorm(%x, %r, %4) {eps = 1e-05} : (f32[B,L,300], f32[B,L,300])
  %6 = Extract(%5) {index = 0} : f32[B,L,300]
  %7 = Extract(%5) {index = 1} : f32[B,L,300]
  %8 = Param() {name = "norm.b"} : bf16[40]
  %9 = AddRMSNorm(%h, %hr, %8) {eps = 1e-05} : (f32[B,40], bf16[B,40])
  %10 = Extract(%9) {index = 0} : f32[B,40]
  %11 = Extract(%9) {index = 1} : bf16[B,40]
  return %6, %7, %10, %11
}`},
	{Name: "fused_elementwise", Env: map[string]int64{"B": 2, "L": 33}, Func: `
func @fused_elementwise(%x: f32[B,L,24], %g: f32[24], %h: bf16[B,L,24], %k: bf16[1,24]) -> (f32[B,L,24], bf16[B,L,24]) {
  %4 = FusedElementwise(%x, %g) {expr = "mul(silu(%0), add(%1, 1.5))"} : f32[B,L,24]
  %5 = FusedElementwise(%h, %k) {expr = "div(sub(softplus(%0), 0.1), add(exp(%1), 0.3))"} : bf16[B,L,24]
  return %4, %5
}`},
	{Name: "conv_prefill", Env: map[string]int64{"B": 2, "L": 37}, Func: `
func @conv_prefill(%x: f32[B,L,20]) -> (f32[B,L,20], f32[B,20,3]) {
  %1 = Param() {name = "conv.w"} : f32[20,1,4]
  %2 = Param() {name = "conv.b"} : f32[20]
  %3 = CausalConv1d(%x, %1, %2) {activation = "silu"} : (f32[B,L,20], f32[B,20,3])
  %4 = Extract(%3) {index = 0} : f32[B,L,20]
  %5 = Extract(%3) {index = 1} : f32[B,20,3]
  return %4, %5
}`},
	{Name: "conv_state", Env: map[string]int64{"B": 2, "L": 37}, Func: `
func @conv_state(%x: f16[B,L,20], %s: f16[B,20,3]) -> (f16[B,L,20], f16[B,20,3]) {
  %2 = Param() {name = "conv.w2"} : f32[20,4]
  %3 = CausalConv1d(%x, %2, _, %s) : (f16[B,L,20], f16[B,20,3])
  %4 = Extract(%3) {index = 0} : f16[B,L,20]
  %5 = Extract(%3) {index = 1} : f16[B,20,3]
  return %4, %5
}`},
	{Name: "conv_decode", Env: map[string]int64{"B": 3}, Func: `
func @conv_decode(%x: f32[B,1,130], %s: f32[B,130,3]) -> (f32[B,1,130], f32[B,130,3]) {
  %2 = Param() {name = "conv.w3"} : f32[130,1,4]
  %3 = Param() {name = "conv.b3"} : f32[130]
  %4 = CausalConv1d(%x, %2, %3, %s) {activation = "silu"} : (f32[B,1,130], f32[B,130,3])
  %5 = Extract(%4) {index = 0} : f32[B,1,130]
  %6 = Extract(%4) {index = 1} : f32[B,130,3]
  return %5, %6
}`},
	{Name: "gemm", Env: map[string]int64{"B": 2, "L": 37}, Func: `
func @gemm(%x: f32[B,L,70], %v: f32[B,70]) -> (f32[B,L,50], f32[B,50], f32[B,L,50]) {
  %2 = Param() {name = "w.bf16"} : bf16[50,70]
  %3 = MatMul(%x, %2) {transpose_b = true} : f32[B,L,50]
  %4 = Param() {name = "w.f16"} : f16[70,50]
  %5 = MatMul(%v, %4) : f32[B,50]
  %6 = MatMul(%x, %4) : f32[B,L,50]
  return %3, %5, %6
}`},
	{Name: "lora", Env: map[string]int64{"B": 2, "L": 37}, Func: `
func @lora(%x: f32[B,L,70], %v: bf16[B,33]) -> (f32[B,L,50], bf16[B,40]) {
  %2 = Param() {name = "lora.w"} : f32[50,70]
  %3 = Param() {name = "lora.a"} : f32[4,70]
  %4 = Param() {name = "lora.b"} : f32[50,4]
  %5 = LoRAMatMul(%x, %2, %3, %4) {scale = 0.5, transpose_b = true} : f32[B,L,50]
  %6 = Param() {name = "lora.w2"} : bf16[33,40]
  %7 = Param() {name = "lora.a2"} : f32[33,8]
  %8 = Param() {name = "lora.b2"} : bf16[8,40]
  %9 = LoRAMatMul(%v, %6, %7, %8) {scale = 2.0} : bf16[B,40]
  return %5, %9
}`},
	{Name: "scan_mamba1", Env: map[string]int64{"B": 2, "L": 300}, Func: `
func @scan_mamba1(%u: f32[B,L,12], %delta: f32[B,L,12], %b: f32[B,L,16], %c: f32[B,L,16], %z: f32[B,L,12]) -> (f32[B,L,12], f32[B,12,16]) {
  %5 = Param() {name = "neg_A"} : f32[12,16]
  %6 = Param() {name = "D"} : f32[12]
  %7 = Param() {name = "dt_bias"} : f32[12]
  %8 = SelectiveScan(%u, %delta, %5, %b, %c, %6, %z, %7) {delta_softplus = true} : (f32[B,L,12], f32[B,12,16])
  %9 = Extract(%8) {index = 0} : f32[B,L,12]
  %10 = Extract(%8) {index = 1} : f32[B,12,16]
  return %9, %10
}`},
	{Name: "scan_groups_bf16", Env: map[string]int64{"B": 2, "L": 150}, Func: `
func @scan_groups_bf16(%u: bf16[B,L,16], %delta: bf16[B,L,16], %b: bf16[B,L,2,8], %c: bf16[B,L,2,8], %z: bf16[B,L,16], %h0: f32[B,16,8]) -> (bf16[B,L,16], f32[B,16,8]) {
  %6 = Param() {name = "neg_A2"} : f32[16,8]
  %7 = Param() {name = "D2"} : f32[16]
  %8 = Param() {name = "dt_bias2"} : f32[16]
  %9 = SelectiveScan(%u, %delta, %6, %b, %c, %7, %z, %8, %h0) {delta_softplus = true} : (bf16[B,L,16], f32[B,16,8])
  %10 = Extract(%9) {index = 0} : bf16[B,L,16]
  %11 = Extract(%9) {index = 1} : f32[B,16,8]
  return %10, %11
}`},
	{Name: "scan_mamba2_f16", Env: map[string]int64{"B": 2, "L": 70}, Func: `
func @scan_mamba2_f16(%u: f16[B,L,12], %delta: f16[B,L,4], %b: f16[B,L,2,6], %c: f16[B,L,2,6]) -> (f16[B,L,12], f32[B,12,6]) {
  %4 = Param() {name = "neg_A3"} : f32[4]
  %5 = Param() {name = "D3"} : f32[4]
  %6 = Param() {name = "dt_bias3"} : f32[4]
  %7 = SelectiveScan(%u, %delta, %4, %b, %c, %5, _, %6) {delta_softplus = true, heads = 4} : (f16[B,L,12], f32[B,12,6])
  %8 = Extract(%7) {index = 0} : f16[B,L,12]
  %9 = Extract(%7) {index = 1} : f32[B,12,6]
  return %8, %9
}`},
	{Name: "scan_const_bc", Env: map[string]int64{"B": 3, "L": 45}, Func: `
func @scan_const_bc(%u: f32[B,L,10], %pos_delta: f32[B,L,10]) -> (f32[B,L,10], f32[B,10,4]) {
  %2 = Param() {name = "neg_A4"} : f32[10,4]
  %3 = Param() {name = "B4"} : f32[10,4]
  %4 = Param() {name = "C4"} : f32[10,4]
  %5 = SelectiveScan(%u, %pos_delta, %2, %3, %4) : (f32[B,L,10], f32[B,10,4])
  %6 = Extract(%5) {index = 0} : f32[B,L,10]
  %7 = Extract(%5) {index = 1} : f32[B,10,4]
  return %6, %7
}`},
	{Name: "update_mamba1", Env: map[string]int64{"B": 3}, Func: `
func @update_mamba1(%x: f32[B,12], %delta: f32[B,12], %b: f32[B,16], %c: f32[B,16], %z: f32[B,12], %h: f32[B,12,16]) -> (f32[B,12], f32[B,12,16]) {
  %6 = Param() {name = "neg_A5"} : f32[12,16]
  %7 = Param() {name = "D5"} : f32[12]
  %8 = Param() {name = "dt_bias5"} : f32[12]
  %9 = SelectiveStateUpdate(%x, %delta, %6, %b, %c, %7, %z, %8, %h) {delta_softplus = true} : (f32[B,12], f32[B,12,16])
  %10 = Extract(%9) {index = 0} : f32[B,12]
  %11 = Extract(%9) {index = 1} : f32[B,12,16]
  return %10, %11
}`},
	{Name: "update_mamba2_bf16", Env: map[string]int64{"B": 3}, Func: `
func @update_mamba2_bf16(%x: bf16[B,12], %delta: bf16[B,4], %b: bf16[B,2,5], %c: bf16[B,2,5], %z: bf16[B,12], %h: f32[B,12,5]) -> (bf16[B,12], f32[B,12,5]) {
  %6 = Param() {name = "neg_A6"} : f32[4]
  %7 = Param() {name = "D6"} : f32[12]
  %8 = Param() {name = "dt_bias6"} : f32[4]
  %9 = SelectiveStateUpdate(%x, %delta, %6, %b, %c, %7, %z, %8, %h) {delta_softplus = true, heads = 4} : (bf16[B,12], f32[B,12,5])
  %10 = Extract(%9) {index = 0} : bf16[B,12]
  %11 = Extract(%9) {index = 1} : f32[B,12,5]
  return %10, %11
}`},
	{Name: "update_const_bc", Env: map[string]int64{"B": 3}, Func: `
func @update_const_bc(%x: f32[B,10], %pos_delta: f32[B,10], %h: f32[B,10,4]) -> (f32[B,10], f32[B,10,4]) {
  %3 = Param() {name = "neg_A7"} : f32[10,4]
  %4 = Param() {name = "B7"} : f32[10,4]
  %5 = Param() {name = "C7"} : f32[10,4]
  %6 = SelectiveStateUpdate(%x, %pos_delta, %3, %4, %5, _, _, _, %h) : (f32[B,10], f32[B,10,4])
  %7 = Extract(%6) {index = 0} : f32[B,10]
  %8 = Extract(%6) {index = 1} : f32[B,10,4]
  return %7, %8
}`},
}

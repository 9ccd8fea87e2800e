// Package cuda generates CUDA kernels for a compiled model: from the fused,
// optimized IR of every function of a module, one translation unit of CUDA
// C++ specialized to the model's static dims and dtypes, and a launch
// table, as data, that says which kernels compute each function, with
// what grid, block and arguments.
//
// # Kernels
//
// One kernel per IR value, by op:
//
//	SelectiveScan         one block per (batch, group of channels); time in chunks,
//	                      each thread composing its steps into a (decay, input) pair
//	                      per state, a block-parallel scan of the pairs (warp shuffles,
//	                      then shared memory across warps), the carry between chunks
//	                      in f32 registers; softplus(Δ + bias), the D skip and SiLU(z)
//	                      fused; Mamba-1 and Mamba-2 (heads) forms, grouped or
//	                      constant B and C, u/Δ/B/C/z in f32, f16 or bf16
//	SelectiveStateUpdate  decoding: a group of lanes per channel, shuffles for y
//	CausalConv1d          prefill and decoding step (with the state), SiLU fused
//	MatMul, LoRAMatMul    a tiled GEMM (wide tiles for prefill, narrow ones when x
//	                      has one row per sequence) reading f32/bf16/f16 weights; the
//	                      LoRA path accumulates x·Aᵀ from the same staged tiles
//	                      (docs/decisions/0006: no cuBLAS)
//	RMSNorm, AddRMSNorm   one block per row, the residual sum kept in f32
//	elementwise ops, Cast, FusedElementwise
//	                      pointwise kernels over the broadcast index space, a fused
//	                      chain rounding each step to the dtype as the unfused ops do
//	Transpose, Slice, Split, Concat, Expand, Gather
//	                      pointwise copies; Reshape and Extract are views
//
// Kernels that are identical (the same op on the same shapes, as in every
// layer of a model) are emitted once. Sizes that depend on symbolic dims
// (batch B, length L) are kernel arguments; the launch table ([Table])
// expresses grids, buffer lengths and those arguments as polynomials in
// the symbols ([Size]) that the runtime evaluates. Not supported, with an
// error naming the op: Softmax, ReduceSum/ReduceMean, Conv1d, the ONNX
// importer's ops, integer arithmetic, f64 tensors and MatMul by anything
// but a static matrix.
//
// # Testing
//
// Golden tests compare the generated source and launch table of
// testdata/golden/*.txtar (`go test -update` rewrites them). Every kernel
// is executed on the CPU: the tests compile the translation unit as C++
// with testdata/emulation/cuda_emulation.h (blocks of std::threads,
// barriers, shared memory, warp shuffles) and compare the results of the
// conformance cases (package cudatest) and of the tiny-mamba checkpoint
// with runtime/ref and the CPU backend. Where nvcc is installed
// (scripts/install-cuda.sh), every kernel is compiled for sm_80 and sm_90
// and ptxas's register and spill report is checked; SSMC_REQUIRE_NVCC=1
// turns a missing nvcc from a skip into a failure.
package cuda

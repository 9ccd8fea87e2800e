// Package cuda is ssmc's GPU backend. It runs the kernels that package
// codegen/cuda generates: it compiles their translation unit with NVRTC
// when a model is loaded, uploads the weights once, allocates each
// function's memory per its launch table (temporaries share one arena,
// planned by lifetime), and launches the kernels through the CUDA driver
// API. A Decoder keeps the recurrent states on the device between steps,
// so that decoding moves only token ids up and logits down.
//
// The driver API (libcuda) and NVRTC (libnvrtc) are bound at run time with
// github.com/ebitengine/purego, without cgo (docs/decisions/0002): the
// same binary runs on machines with and without a GPU. [Available] reports
// whether a GPU can be used and, when not, why; nothing in this package
// crashes or exits the process when the libraries, the driver or the
// device are missing.
//
// [Backend] adapts this to runtime/backend: linking the package registers
// it as "cuda" (loading nothing), and the root package's LoadOptions pick
// it when it is available (docs/decisions/0002). Its instances take and
// return host tensors, copying inputs up and results down on each Run.
//
// Testing: on machines without a GPU the tests check the unavailable
// path, the library binding's failure modes, the memory plan, the
// marshalling of kernel arguments and, where libnvrtc is installed,
// compiling every generated kernel with NVRTC through the binding. The
// tests that launch kernels (conformance of every fused op against the CPU
// backend and runtime/ref, the tiny-mamba checkpoint end to end) and the
// benchmarks need a GPU and skip without one; scripts/gpu-check.sh runs
// them with SSMC_REQUIRE_GPU=1, under which they fail instead.
//
// Not done yet: CUDA graphs for the decoding step (each step launches its
// kernels one by one on the default stream), streams other than the
// default one, and cuBLAS (docs/decisions/0006).
package cuda

// Package cpu is ssmc's CPU backend: a kernel for every IR op on f32
// activations (i64 for indices), weights read in place in f32, bf16 or
// f16, and the executor that runs a compiled plan over one arena of
// memory.
//
// Kernels state the reference loop they compute in their doc comments;
// runtime/ref is the independent oracle their tests compare against.
package cpu

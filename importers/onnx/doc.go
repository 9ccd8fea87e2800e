// Package onnx imports ONNX models (.onnx files) into an [ir.Module]: one
// function named after the graph (or "main") whose arguments are the
// graph's inputs and whose results are its outputs, with the weights
// (initializers) bound in Module.Weights.
//
// # What it reads
//
// IR versions 3 to 13 and default-domain operator sets 7 to 27, with each
// operator's attributes and inputs read the way the model's opset defines
// them (Squeeze, Unsqueeze, Split and the reductions moved attributes to
// inputs; Softmax changed its axis semantics in 13; Split gained
// num_outputs in 18; and so on). Tensors may be f32, f16, bf16, f64, i8,
// i32, i64 or bool, stored in raw_data or in the typed fields, or as
// external data: a file named relative to the model, which must stay
// inside the model's folder (symbolic links are resolved), at an offset
// and length that lie within the file. Graph input dims that are
// dim_params become symbolic IR dims (names made IR identifiers).
// Constant nodes of every tensor form are read. [SupportedOps] lists the
// operators.
//
// # How it translates
//
// Most operators map to one IR op; the others are spelled with IR ops
// exactly (Gemm → MatMul + Add, Reciprocal → Div, Flatten, Squeeze and
// Unsqueeze → Reshape, LayerNormalization and RMSNormalization as their
// ONNX function bodies, Not/And/Or → Compare/Where, Tile → Reshape +
// Expand, Pad → Concat or Gather, Einsum → Transpose/Reshape/MatMul,
// general Conv → im2col Gather + MatMul, CausalConvWithState →
// CausalConv1d). Values known at import time are computed there: shape
// arithmetic (Shape, Size, Gather, Slice, Concat, Cast and integer
// arithmetic on shapes, also when dims are symbolic), constant
// subgraphs, Range with constant inputs, If with a constant condition.
// Identity and inference-mode Dropout disappear.
//
// Control flow: If with a run-time condition converts both branches and
// selects with Where. Loop is unrolled when its trip count and condition
// are known at import time. Scan is vectorized when every state's update
// is affine in that state (state' = A·state + B, as in Mamba's selective
// scan, running sums and gated linear attention): the states come from
// one LinearScan over the sequence and the rest of the body runs on all
// steps at once, so a symbolic sequence length stays symbolic; other
// bodies are unrolled when the length is static. LinearAttention's
// linear and gated rules become a LinearScan too; its delta rules are
// unrolled over a static length. A Mamba export in any of its shapes (a
// Scan per layer, the recurrence unrolled over a fixed length, or
// opset-27 CausalConvWithState + LinearAttention) leaves the fusion
// passes the patterns they rewrite into SelectiveScan,
// SelectiveStateUpdate and CausalConv1d (passes fuse-linear-scan,
// fuse-scan, fuse-conv).
//
// [ReadInfo] describes a file (header, inputs and outputs, operator
// histogram, initializers, external data files) without converting it.
//
// # Errors and hostile files
//
// A model with operators (or element types, or operator forms such as a
// reshape target computed at run time) that the importer cannot
// translate fails with one [*UnsupportedError] listing every (domain, op,
// opset) with its nodes. Malformed files fail with an [*Error] whose
// one-line message names the node, tensor or field: cycles, names read
// but never defined, values defined twice, tensors whose data does not
// match their shape, bad attributes. Nothing a file contains makes the
// importer panic, and the memory it allocates grows at most linearly with
// the file's size (see [Limits]). Inputs fixed with [Options] Constants
// are folded like initializers.
//
// The protobuf types are generated from ONNX's own onnx.proto (package
// onnxpb; see docs/decisions/0001-onnx-protobuf.md).
package onnx

// Package ref is the reference interpreter of the IR: the oracle that other
// backends are tested against, the reference backend of the runtime, and
// the evaluator the constant-folding pass calls.
//
// It favours clarity over speed. Every kernel is a plain loop over
// row-major data, written from the op's formula in the op table (package
// ir, files ops_*.go), and each kernel's doc comment states that loop.
//
// Numerics: floating-point ops compute in float64 and round each op's
// result once, to nearest with ties to even, to the result dtype (f32, f16,
// bf16 or f64). Fused ops (RMSNorm, Softmax, LoRAMatMul, the scans and
// convolutions) round only their results, except that the recurrent state
// of SelectiveScan is stored as f32 after every step, exactly as a
// sequence of SelectiveStateUpdate calls stores it. Integer ops compute
// exactly in int64 and wrap to the result width; integer division
// truncates toward zero and division by zero is an error. Shape ops
// (Reshape, Transpose, Slice, Split, Concat, Expand, Gather) move element
// bytes unchanged.
//
// Entry points: [EvalOp] evaluates one value from operand tensors; [Run]
// and [RunWithOptions] interpret a whole function. Bad inputs (wrong
// shapes, dtypes, out-of-range indices, malformed tensors, results over
// [MaxElements] elements) are reported as errors naming the op and value;
// the interpreter does not panic on them.
package ref

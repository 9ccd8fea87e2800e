package ssmc

import (
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// AsStepModel turns a module of one decoding-step function, as an ONNX
// decode graph imports (input_ids [b, 1] and the stacked states in;
// logits [b, V] and the new states out), into a step-only model: the
// function becomes @step and its batch symbol B. Sessions prefill such a
// model by stepping through the prompt. It reports whether m had that
// shape (and was changed).
func AsStepModel(m *ir.Module) bool {
	if len(m.Funcs) != 1 || m.Func("prefill") != nil {
		return false
	}
	f := m.Funcs[0]
	if len(f.Args) < 2 || len(f.Results) != len(f.Args) {
		return false
	}
	ids, logits := f.Args[0].Type, f.Results[0].Type
	if ids.DType.IsFloat() || ids.Shape.Rank() != 2 || ids.Shape[0].IsStatic() || ids.Shape[1] != ir.StaticDim(1) {
		return false
	}
	b := ids.Shape[0]
	if b.K != 1 || b.Off != 0 || strings.Contains(b.S, "*") || logits.Shape.Rank() != 2 || logits.Shape[0] != b {
		return false
	}
	for i, a := range f.Args[1:] {
		if !f.Results[i+1].Type.Equal(a.Type) || a.Type.Shape.Rank() < 2 || a.Type.Shape[1] != b {
			return false
		}
	}
	f.Name = "step"
	f.RenameSymbol(b.S, BatchSymbol)
	return ir.Verify(m) == nil
}

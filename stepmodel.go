package ssmc

import (
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// AsStepModel turns a module of one decoding-step function, as an ONNX
// decode graph imports (input_ids [b, 1] and the stacked states in;
// logits [b, V] or [b, 1, V] and the new states out), into a step-only
// model: the function becomes @step, its batch symbol B, its logits
// [B, V]. Sessions prefill such a model by stepping through the prompt.
// It reports whether m had that shape (and was changed); m is left as it
// was otherwise.
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
	if b.K != 1 || b.Off != 0 || strings.Contains(b.S, "*") || logits.Shape.Rank() < 2 || logits.Shape[0] != b {
		return false
	}
	switch {
	case logits.Shape.Rank() == 2:
	case logits.Shape.Rank() == 3 && logits.Shape[1] == ir.StaticDim(1):
	default:
		return false
	}
	for i, a := range f.Args[1:] {
		if !f.Results[i+1].Type.Equal(a.Type) || a.Type.Shape.Rank() < 2 || a.Type.Shape[1] != b {
			return false
		}
	}
	sf := f.Clone()
	sf.Name = "step"
	sf.RenameSymbol(b.S, BatchSymbol)
	if logits.Shape.Rank() == 3 { // [B, 1, V] -> [B, V]
		r, err := sf.Append(ir.OpReshape, ir.Attrs{"shape": ir.Shape{ir.SymDim(BatchSymbol), logits.Shape[2]}}, sf.Results[0])
		if err != nil {
			return false
		}
		sf.Results[0] = r
	}
	adapted := &ir.Module{Funcs: []*ir.Func{sf}, Weights: m.Weights}
	if ir.Verify(adapted) != nil {
		return false
	}
	m.Funcs = adapted.Funcs
	return true
}

// AsStatefulModel turns a module of one function over a whole sequence
// that passes the states through — input_ids [b, l] and the stacked
// states in, logits [b, l, V] and the new states out, as ONNX's opset-27
// export with CausalConvWithState and LinearAttention has it — into a
// model: @prefill is the function (sessions start it from zero states)
// and @step a copy with l fixed to 1 and the logits reshaped to [B, V].
// The batch and length symbols become B and L. It reports whether m had
// that shape (and was changed); m is left as it was otherwise.
func AsStatefulModel(m *ir.Module) bool {
	if len(m.Funcs) != 1 || m.Func("prefill") != nil || m.Func("step") != nil {
		return false
	}
	f := m.Funcs[0]
	if len(f.Args) < 2 || len(f.Results) != len(f.Args) {
		return false
	}
	ids, logits := f.Args[0].Type, f.Results[0].Type
	if ids.DType.IsFloat() || ids.Shape.Rank() != 2 || logits.Shape.Rank() != 3 {
		return false
	}
	b, l := ids.Shape[0], ids.Shape[1]
	single := func(d ir.Dim) bool { return d.K == 1 && d.Off == 0 && d.S != "" && !strings.Contains(d.S, "*") }
	if !single(b) || !single(l) || b == l || logits.Shape[0] != b || logits.Shape[1] != l || !logits.Shape[2].IsStatic() {
		return false
	}
	for i, a := range f.Args[1:] {
		if !f.Results[i+1].Type.Equal(a.Type) || a.Type.Shape.Rank() < 2 || a.Type.Shape[1] != b {
			return false
		}
	}
	pf := f.Clone()
	pf.Name = "prefill"
	// Through fresh names, so that a graph whose symbols are already
	// called L and B (either way round) renames correctly.
	pf.RenameSymbol(b.S, "ssmc.batch")
	pf.RenameSymbol(l.S, "ssmc.len")
	pf.RenameSymbol("ssmc.batch", BatchSymbol)
	pf.RenameSymbol("ssmc.len", SeqSymbol)
	sf := pf.Clone()
	sf.Name = "step"
	sf.SubstituteSymbol(SeqSymbol, 1)
	r, err := sf.Append(ir.OpReshape, ir.Attrs{"shape": ir.Shape{ir.SymDim(BatchSymbol), logits.Shape[2]}}, sf.Results[0])
	if err != nil {
		return false
	}
	sf.Results[0] = r
	adapted := &ir.Module{Funcs: []*ir.Func{pf, sf}, Weights: m.Weights}
	if ir.Verify(adapted) != nil {
		return false
	}
	m.Funcs = adapted.Funcs
	return true
}

package cpu

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// referenceKernel runs an op that has no CPU kernel through the reference
// interpreter: operands are converted to constant data, evaluated in
// float64 by runtime/ref, and copied into the outputs. It is correct but
// slow and allocates, so it serves rare ops (some ONNX ops) only; every op
// on a Mamba model's hot path has a kernel of its own.
func referenceKernel(s *Scratch, v *ir.Value, in []*Tensor, out []*Tensor) error {
	args := make([]*ir.Tensor, len(in))
	for i, t := range in {
		if t == nil {
			continue
		}
		dt := v.Args[i].Type.DType
		if t.DType == ir.BF16 || t.DType == ir.F16 {
			t = widen(t)
		}
		args[i] = ToIR(t, dt)
	}
	res, err := ref.EvalOp(v, args)
	if err != nil {
		return err
	}
	if len(res) != len(out) {
		return fmt.Errorf("cpu: %s: reference gave %d results, want %d", v.LongString(), len(res), len(out))
	}
	for i, r := range res {
		o := out[i]
		if int(r.NumElements()) != o.Len() {
			return fmt.Errorf("cpu: %s: result %d has %d elements, want %d", v.LongString(), i, r.NumElements(), o.Len())
		}
		if o.DType == ir.I64 {
			copy(o.I64, r.Int64s())
		} else {
			copy(o.F32, r.Float32s())
		}
	}
	return nil
}

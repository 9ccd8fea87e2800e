package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// reduceCases covers ReduceSum and ReduceMean (f32 and i64, kept and
// dropped dims, negative, leading and scattered axes, all axes), RMSNorm
// and Softmax along contiguous and strided axes.
func reduceCases() []kcase {
	red := func(keep bool, axes ...int64) ir.Attrs {
		a := ir.Attrs{"keepdims": keep}
		if axes != nil {
			a["axes"] = axes
		}
		return a
	}
	return []kcase{
		{name: "middle keepdims", op: ir.OpReduceSum, attrs: red(true, 1), args: []*opnd{f32s(3, 4, 5)}},
		{name: "last dropped", op: ir.OpReduceSum, attrs: red(false, -1), args: []*opnd{f32s(3, 4, 37)}},
		{name: "all", op: ir.OpReduceSum, attrs: red(false), args: []*opnd{f32s(3, 4, 5)}},
		{name: "all keepdims", op: ir.OpReduceSum, attrs: red(true), args: []*opnd{f32s(2, 5)}},
		{name: "scattered axes", op: ir.OpReduceSum, attrs: red(true, 2, 0), args: []*opnd{f32s(3, 4, 5, 2)}},
		{name: "leading axis", op: ir.OpReduceSum, attrs: red(false, 0), args: []*opnd{f32s(50, 3)}},
		{name: "no axes listed", op: ir.OpReduceSum, attrs: ir.Attrs{"axes": []int64{}}, args: []*opnd{f32s(2, 3)}},
		{name: "i64", op: ir.OpReduceSum, attrs: red(false, 1), args: []*opnd{i64s(-1000, 1000, 3, 4, 2)}},
		{name: "i32 wraps", op: ir.OpReduceSum, attrs: red(false), args: []*opnd{(&opnd{dt: ir.I32, shape: []int64{5}}).ints(1<<30, 1<<31-1)}},
		{name: "f32", op: ir.OpReduceMean, attrs: red(true, 0), args: []*opnd{f32s(6, 4)}},
		{name: "f32 last", op: ir.OpReduceMean, attrs: red(false, -1, -2), args: []*opnd{f32s(2, 3, 9)}},
		{name: "i64 truncates", op: ir.OpReduceMean, attrs: red(false, -1), args: []*opnd{i64s(-50, 50, 4, 3)}},
		{name: "empty axis is NaN", op: ir.OpReduceMean, attrs: red(false, 1), args: []*opnd{f32s(3, 0)}},

		{name: "3-d", op: ir.OpRMSNorm, attrs: ir.Attrs{"eps": 1e-5}, args: []*opnd{f32s(2, 3, 16), f32s(16)}},
		{name: "odd width", op: ir.OpRMSNorm, attrs: ir.Attrs{"eps": 1e-6}, args: []*opnd{f32s(5, 33).in(-10, 10), f32s(33)}},
		{name: "rank 1, large eps", op: ir.OpRMSNorm, attrs: ir.Attrs{"eps": 0.5}, args: []*opnd{f32s(7).in(-0.1, 0.1), f32s(7)}},

		{name: "last axis", op: ir.OpSoftmax, attrs: ir.Attrs{"axis": int64(-1)}, args: []*opnd{f32s(3, 7).in(-10, 10)}},
		{name: "default axis", op: ir.OpSoftmax, attrs: ir.Attrs{}, args: []*opnd{f32s(2, 40).in(-30, 30)}},
		{name: "middle axis", op: ir.OpSoftmax, attrs: ir.Attrs{"axis": int64(1)}, args: []*opnd{f32s(2, 5, 3).in(-5, 5)}},
		{name: "huge logits", op: ir.OpSoftmax, attrs: ir.Attrs{}, args: []*opnd{f32s(3, 6).in(-2000, 2000)}},
		{name: "first axis", op: ir.OpSoftmax, attrs: ir.Attrs{"axis": int64(-3)}, args: []*opnd{f32s(4, 2, 3)}},
	}
}

package cpu

import "github.com/ssmc-dev/ssmc/ir"

// onnxCases covers Where (f32 and i64 values, a broadcast condition),
// Compare (every predicate, f32 with NaN-free data and i64, broadcast),
// Erf, ReduceMax (f32 and i64, kept dims, all axes) and CumSum (each axis,
// exclusive, reverse, i64).
func onnxCases() []kcase {
	bools := func(shape ...int64) *opnd { return (&opnd{dt: ir.Bool, shape: shape}).ints(0, 1) }
	var cs []kcase
	cs = append(cs,
		kcase{name: "f32", op: ir.OpWhere, args: []*opnd{bools(2, 3, 4), f32s(2, 3, 4), f32s(2, 3, 4)}},
		kcase{name: "broadcast", op: ir.OpWhere, args: []*opnd{bools(3, 1), f32s(1, 4), f32s(2, 3, 4)}},
		kcase{name: "i64", op: ir.OpWhere, args: []*opnd{bools(5), i64s(-9, 9, 5), i64s(-9, 9, 2, 5)}},
	)
	for _, cmp := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
		cs = append(cs,
			kcase{name: cmp + " f32", op: ir.OpCompare, attrs: ir.Attrs{"cmp": cmp},
				args: []*opnd{f32s(3, 4).ints(-2, 2), f32s(4).ints(-2, 2)}},
			kcase{name: cmp + " i64", op: ir.OpCompare, attrs: ir.Attrs{"cmp": cmp},
				args: []*opnd{i64s(-3, 3, 2, 1, 3), i64s(-3, 3, 4, 1)}},
		)
	}
	cs = append(cs,
		kcase{name: "f32", op: ir.OpErf, args: []*opnd{f32s(3, 7).in(-3, 3)}},
		kcase{name: "axis 1 keepdims", op: ir.OpReduceMax, attrs: ir.Attrs{"axes": []int64{1}, "keepdims": true}, args: []*opnd{f32s(2, 5, 3)}},
		kcase{name: "axes 0,2", op: ir.OpReduceMax, attrs: ir.Attrs{"axes": []int64{0, -1}, "keepdims": false}, args: []*opnd{f32s(2, 5, 3)}},
		kcase{name: "all i64", op: ir.OpReduceMax, attrs: ir.Attrs{"keepdims": false}, args: []*opnd{i64s(-100, 100, 4, 6)}},
		kcase{name: "axis 0", op: ir.OpCumSum, attrs: ir.Attrs{"axis": int64(0)}, args: []*opnd{f32s(4, 3)}},
		kcase{name: "axis -1 exclusive", op: ir.OpCumSum, attrs: ir.Attrs{"axis": int64(-1), "exclusive": true}, args: []*opnd{f32s(2, 3, 5)}},
		kcase{name: "reverse", op: ir.OpCumSum, attrs: ir.Attrs{"axis": int64(1), "reverse": true}, args: []*opnd{f32s(2, 6, 2)}},
		kcase{name: "i64 exclusive reverse", op: ir.OpCumSum, attrs: ir.Attrs{"axis": int64(1), "exclusive": true, "reverse": true}, args: []*opnd{i64s(-50, 50, 3, 4)}},
	)
	return cs
}

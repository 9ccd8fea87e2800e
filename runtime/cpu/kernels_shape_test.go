package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// shapeCases covers the data-movement kernels on f32 and i64, with
// negative axes and indices, slice steps and symbolic shape attributes.
// They move elements, so results must match exactly.
func shapeCases() []kcase {
	ax := func(a int64) ir.Attrs { return ir.Attrs{"axis": a} }
	slice := func(axes, starts, ends, steps []int64) ir.Attrs {
		a := ir.Attrs{"axes": axes, "starts": starts, "ends": ends}
		if steps != nil {
			a["steps"] = steps
		}
		return a
	}
	l := func(x ...int64) []int64 { return x }
	B, L := ir.SymDim("B"), ir.SymDim("L")
	BL, _ := ir.MulDims(B, L)
	cs := []kcase{
		{name: "rows, negative indices", op: ir.OpGather, attrs: ax(0), args: []*opnd{f32s(10, 4), i64s(-10, 9, 2, 3)}},
		{name: "axis -2", op: ir.OpGather, attrs: ax(-2), args: []*opnd{f32s(3, 5, 2), i64s(-5, 4, 4)}},
		{name: "last axis", op: ir.OpGather, attrs: ax(2), args: []*opnd{f32s(2, 3, 6), i64s(-6, 5, 2, 2)}},
		{name: "scalar index", op: ir.OpGather, attrs: ax(1), args: []*opnd{f32s(3, 5), i64s(-5, 4)}},
		{name: "i64 data", op: ir.OpGather, attrs: ax(0), args: []*opnd{i64s(-99, 99, 6), i64s(-6, 5, 3)}},
		{name: "bf16 embedding", op: ir.OpGather, attrs: ax(0), args: []*opnd{bf16s(8, 4), i64s(-8, 7, 2, 5)}},
		{name: "f16 axis 1", op: ir.OpGather, attrs: ax(1), args: []*opnd{f16s(3, 8, 2), i64s(0, 7, 3)}},

		{name: "f32", op: ir.OpReshape, attrs: ir.Attrs{"shape": ir.Static(6, 4)}, args: []*opnd{f32s(2, 3, 4)}},
		{name: "i64", op: ir.OpReshape, attrs: ir.Attrs{"shape": ir.Static(2, 3)}, args: []*opnd{i64s(-9, 9, 6)}},
		{name: "symbolic", op: ir.OpReshape, attrs: ir.Attrs{"shape": ir.Shape{BL, ir.StaticDim(8)}},
			args: []*opnd{f32s(2, 3, 8).sym(B, L, ir.StaticDim(8))}},

		{name: "rotate", op: ir.OpTranspose, attrs: ir.Attrs{"perm": l(2, 0, 1)}, args: []*opnd{f32s(2, 3, 4)}},
		{name: "i64 matrix", op: ir.OpTranspose, attrs: ir.Attrs{"perm": l(1, 0)}, args: []*opnd{i64s(-9, 9, 3, 4)}},
		{name: "identity", op: ir.OpTranspose, attrs: ir.Attrs{"perm": l(0, 1, 2)}, args: []*opnd{f32s(2, 3, 4)}},
		{name: "middle swap", op: ir.OpTranspose, attrs: ir.Attrs{"perm": l(0, 2, 1, 3)}, args: []*opnd{f32s(2, 3, 4, 5)}},
		{name: "with unit dims", op: ir.OpTranspose, attrs: ir.Attrs{"perm": l(2, 1, 0)}, args: []*opnd{f32s(4, 1, 3)}},

		{name: "step 2", op: ir.OpSlice, attrs: slice(l(1), l(1), l(7), l(2)), args: []*opnd{f32s(6, 8)}},
		{name: "negative step", op: ir.OpSlice, attrs: slice(l(0), l(4), l(0), l(-2)), args: []*opnd{f32s(6, 3)}},
		{name: "reverse all", op: ir.OpSlice, attrs: slice(l(-1), l(-1), l(-100), l(-1)), args: []*opnd{i64s(-9, 9, 2, 5)}},
		{name: "negative start, clamped end", op: ir.OpSlice, attrs: slice(l(-1), l(-5), l(100), nil), args: []*opnd{f32s(3, 8)}},
		{name: "two axes i64", op: ir.OpSlice, attrs: slice(l(2, 0), l(1, 1), l(-1, ir.SliceEnd), l(2, 1)), args: []*opnd{i64s(-9, 9, 4, 5, 6)}},
		{name: "empty", op: ir.OpSlice, attrs: slice(l(0), l(3), l(3), nil), args: []*opnd{f32s(5, 2)}},
		{name: "symbolic tail", op: ir.OpSlice, attrs: slice(l(2), l(-3), l(ir.SliceEnd), nil),
			args: []*opnd{f32s(2, 4, 7).sym(B, ir.StaticDim(4), L)}},

		{name: "last axis", op: ir.OpSplit, attrs: ir.Attrs{"axis": int64(-1), "sizes": l(1, 2, 3)}, args: []*opnd{f32s(4, 6)}},
		{name: "i64 axis 0", op: ir.OpSplit, attrs: ir.Attrs{"axis": int64(0), "sizes": l(4, 2)}, args: []*opnd{i64s(-9, 9, 6, 2)}},
		{name: "middle with empty piece", op: ir.OpSplit, attrs: ir.Attrs{"axis": int64(1), "sizes": l(1, 0, 2)}, args: []*opnd{f32s(2, 3, 4)}},

		{name: "last axis", op: ir.OpConcat, attrs: ax(-1), args: []*opnd{f32s(2, 3), f32s(2, 1), f32s(2, 2)}},
		{name: "i64 axis 0", op: ir.OpConcat, attrs: ax(0), args: []*opnd{i64s(-9, 9, 1, 3), i64s(-9, 9, 2, 3)}},
		{name: "middle", op: ir.OpConcat, attrs: ax(-2), args: []*opnd{f32s(2, 2, 3), f32s(2, 1, 3)}},
		{name: "single", op: ir.OpConcat, attrs: ax(0), args: []*opnd{f32s(3)}},

		{name: "column to 3-d", op: ir.OpExpand, attrs: ir.Attrs{"shape": ir.Static(2, 3, 4)}, args: []*opnd{f32s(3, 1)}},
		{name: "i64 rows", op: ir.OpExpand, attrs: ir.Attrs{"shape": ir.Static(3, 4)}, args: []*opnd{i64s(-9, 9, 4)}},
		{name: "scalar", op: ir.OpExpand, attrs: ir.Attrs{"shape": ir.Static(5)}, args: []*opnd{f32s()}},
		{name: "keeps larger dims", op: ir.OpExpand, attrs: ir.Attrs{"shape": ir.Static(2, 1, 1)}, args: []*opnd{f32s(1, 3, 2)}},
		{name: "symbolic", op: ir.OpExpand, attrs: ir.Attrs{"shape": ir.Shape{ir.StaticDim(2), L, ir.StaticDim(3)}},
			args: []*opnd{f32s(1, 4, 1).sym(ir.StaticDim(1), L, ir.StaticDim(1))}},
	}
	for i := range cs {
		cs[i].exact = true
	}
	return cs
}

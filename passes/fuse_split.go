package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseSplit folds a Split of a projection's output along its last axis
// into the projection: the MatMul writes each piece of its result
// directly, so no copy of the projection's output is made.
//
//	y = MatMul(x, W){transpose_b}            W [N, K] a static matrix
//	(y_0, ..., y_p) = Split(y){axis = -1, sizes = [n_0, ..., n_p]}
//	  => (y_0, ..., y_p) = MatMul(x, W){transpose_b, split = [n_0, ..., n_p]}
//
// where y_i = x·W[o_i:o_i+n_i]ᵀ (o_i = n_0+…+n_(i-1)): piece i reads rows
// o_i … o_i+n_i of W. The MatMul must have no other use. In a Mamba layer
// this folds the in_proj split into (x, z) and the x_proj split into
// (Δ_low, B, C). Counter: fused/split-matmul.
func fuseSplit(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	for i := 0; i < len(f.Body); i++ {
		sp := f.Body[i]
		if sp.Op != ir.OpSplit || len(sp.Users) == 0 && !f.IsResult(sp) {
			continue
		}
		mm := sp.Args[0]
		if mm.Op != ir.OpMatMul || !mm.BoolAttr("transpose_b") || mm.Type.IsTuple() || !u.onlyUser(mm, sp) {
			continue
		}
		w := mm.Args[1].Type.Shape
		r := mm.Type.Shape.Rank()
		if ax := sp.IntAttr("axis"); w.Rank() != 2 || !w[0].IsStatic() || (ax != -1 && ax != int64(r-1)) {
			continue
		}
		attrs := mm.Attrs.Clone()
		attrs["split"] = slices.Clone(sp.IntsAttr("sizes"))
		t := u.begin(sp, mm)
		fused := t.op(ir.OpMatMul, attrs, mm.Args[0], mm.Args[1])
		if t.commit([]*ir.Value{sp}, []*ir.Value{fused}) {
			c.Count("fused/split-matmul", 1)
		}
	}
	return u.finish()
}

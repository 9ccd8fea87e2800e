package passes

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// foldCasts folds the activation casts the bf16 policy puts around a
// projection into the MatMul, which then reads f32 and writes f32:
//
//	xr = Cast(x){to = d}                 x f32, d = bf16 or f16
//	yr = MatMul(xr, W){transpose_b}      W of dtype d, yr of dtype d
//	y  = Cast(yr){to = f32}
//	  => y = MatMul(x, W){transpose_b, round = d}
//
// MatMul{round = d} rounds a to d before the product and the product to d
// after it, so the fused op computes exactly what the three did; the
// kernels skip two passes over the activations and the arena two
// buffers. Cast(x) stays while something else reads it; the MatMul must
// have no use but the Cast back. Then fuse-split can fold the projection's
// Split, as in f32. Counter: folded/cast-matmul.
func foldCasts(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	for i := 0; i < len(f.Body); i++ {
		back := f.Body[i]
		if back.Op != ir.OpCast || back.Type.DType != ir.F32 || len(back.Users) == 0 && !f.IsResult(back) {
			continue
		}
		mm := back.Args[0]
		if mm.Op != ir.OpMatMul || mm.Type.IsTuple() || !u.onlyUser(mm, back) || mm.Attrs["round"] != nil {
			continue
		}
		d := mm.Type.DType
		xr := mm.Args[0]
		if (d != ir.BF16 && d != ir.F16) || xr.Op != ir.OpCast || xr.Type.DType != d ||
			xr.Args[0].Type.DType != ir.F32 || mm.Args[1].Type.DType != d {
			continue
		}
		attrs := mm.Attrs.Clone()
		attrs["round"] = d
		t := u.begin(back, mm)
		fused := t.op(ir.OpMatMul, attrs, xr.Args[0], mm.Args[1])
		if t.commit([]*ir.Value{back}, []*ir.Value{fused}) {
			c.Count("folded/cast-matmul", 1)
		}
	}
	return u.finish()
}

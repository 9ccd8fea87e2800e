package passes

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// transposeWeights stores a projection's weight in the Linear layout the
// kernels stream fastest (one row of W per output feature, read with
// transpose_b), transposing it once at compile time:
//
//	y = MatMul(x, W)           W [K, N] a bound weight (ONNX exports store
//	                           Linear weights pre-transposed, "<name>_T")
//	  => y = MatMul(x, Wᵀ){transpose_b}   Wᵀ [N, K] a new weight "<W>.T"
//
// y[m, n] = Σ_k x[m, k]·W[k, n] = Σ_k x[m, k]·Wᵀ[n, k]: the same sums in
// the same order, so the result is unchanged. The transposed weight is
// shared by every use (and function) of W; W itself is no longer read
// and is not saved. Only weights bound in the module are transposed, and
// none above maxFoldElems. Then fuse-split can fold the projection's
// Split. Counter: transposed.
func transposeWeights(c *Context, f *ir.Func) error {
	if c.Module == nil || c.Module.Weights == nil {
		return nil
	}
	ws := c.Module.Weights
	u := newFuser(c, f)
	for i := 0; i < len(f.Body); i++ {
		v := f.Body[i]
		if v.Op != ir.OpMatMul || v.BoolAttr("transpose_b") || v.Type.IsTuple() || len(v.Users) == 0 && !f.IsResult(v) {
			continue
		}
		p := v.Args[1]
		if p.Op != ir.OpParam || p.Type.Shape.Rank() != 2 || v.Args[0].Type.Shape.Rank() < 2 {
			continue
		}
		name := p.Attrs.String("name", "")
		w := ws[name]
		if w == nil || !w.Type().Equal(p.Type) || w.NumElements() > maxFoldElems {
			continue
		}
		tname := name + ".T"
		wt := ws[tname]
		if wt == nil || !wt.Type().Equal(ir.TensorType(w.DType, ir.Static(w.Shape[1], w.Shape[0]))) {
			wt = transposed(w)
		}
		attrs := v.Attrs.Clone()
		if attrs == nil {
			attrs = ir.Attrs{}
		}
		attrs["transpose_b"] = true
		t := u.begin(v)
		q := t.param(tname, wt.Type())
		mm := t.op(ir.OpMatMul, attrs, v.Args[0], q)
		if t.commit([]*ir.Value{v}, []*ir.Value{mm}) {
			ws[tname] = wt
			c.Count("transposed", 1)
		}
	}
	return u.finish()
}

// transposed returns the transpose of matrix w, in w's dtype (elements
// are moved as bytes, so no value changes).
func transposed(w *ir.Tensor) *ir.Tensor {
	rows, cols := int(w.Shape[0]), int(w.Shape[1])
	es := w.DType.Size()
	out := &ir.Tensor{DType: w.DType, Shape: []int64{int64(cols), int64(rows)}, Data: make([]byte, len(w.Data))}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			copy(out.Data[(j*rows+i)*es:(j*rows+i+1)*es], w.Data[(i*cols+j)*es:])
		}
	}
	return out
}

package passes

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseLoRA recognizes a linear layer with a low-rank (LoRA) update:
//
//	Add(MatMul(x, W), Mul(MatMul(MatMul(x, A), B), s))   => LoRAMatMul(x, W, A, B){scale = s}
//
// where the three MatMuls share transpose_b (true: the PyTorch layout
// x·Wᵀ + s·(x·Aᵀ)·Bᵀ), s is a constant splat (the Mul may also sit between
// the two low-rank MatMuls, and is absent for s = 1), and Add and Mul take
// their operands in either order. Counter: fused/lora.
//
// With Options.LoRAMode "merge" and the module's weights bound, every
// LoRAMatMul whose W, A and B are weights (fused here or imported as one)
// is then folded into its base weight, in W's dtype:
//
//	W' = W + s·B·A   (transpose_b; W [N,K], A [r,K], B [N,r])
//	W' = W + s·A·B   (otherwise;   W [K,N], A [K,r], B [r,N])
//	LoRAMatMul(x, W, A, B) => MatMul(x, W')
//
// The merged weight is named "<W>.merged.<hash of W, A, B and s>", so the
// prefill and step functions share it. Counters: merged (and
// merge-skipped when the weights are not bound).
func fuseLoRA(c *Context, f *ir.Func) error {
	merge := false
	switch c.Options.LoRAMode {
	case "", "fused":
	case "merge":
		merge = true
	default:
		return fmt.Errorf("unknown LoRA mode %q (want fused or merge)", c.Options.LoRAMode)
	}
	u := newFuser(c, f)
	for i := 0; i < len(f.Body); i++ { // also visits the values fusions append
		v := f.Body[i]
		if len(v.Users) == 0 && !f.IsResult(v) {
			continue
		}
		switch v.Op {
		case ir.OpAdd:
			if w := u.fuseLoRAAdd(v); w != nil {
				c.Count("fused/lora", 1)
				if merge {
					u.mergeLoRA(w)
				}
			}
		case ir.OpLoRAMatMul:
			if merge {
				u.mergeLoRA(v)
			}
		}
	}
	return u.finish()
}

// fuseLoRAAdd fuses the LoRA pattern ending in add and returns the new
// LoRAMatMul, or nil.
func (u *fuser) fuseLoRAAdd(add *ir.Value) *ir.Value {
	for side := 0; side < 2; side++ {
		base, low := add.Args[side], add.Args[1-side]
		if base.Op != ir.OpMatMul || !u.onlyUser(base, add) {
			continue
		}
		x, w, tb := base.Args[0], base.Args[1], base.BoolAttr("transpose_b")
		scale := 1.0
		parent := add
		if s, rest, ok := u.scaled(low, parent); ok {
			scale, parent, low = scale*s, low, rest
		}
		if low.Op != ir.OpMatMul || !u.onlyUser(low, parent) || low.BoolAttr("transpose_b") != tb {
			continue
		}
		b, xa := low.Args[1], low.Args[0]
		parent = low
		if s, rest, ok := u.scaled(xa, parent); ok {
			scale, parent, xa = scale*s, xa, rest
		}
		if xa.Op != ir.OpMatMul || !u.onlyUser(xa, parent) || xa.BoolAttr("transpose_b") != tb || xa.Args[0] != x {
			continue
		}
		if math.IsInf(scale, 0) || math.IsNaN(scale) {
			continue
		}
		t := u.begin(add, base, low, xa)
		l := t.op(ir.OpLoRAMatMul, ir.Attrs{"scale": scale, "transpose_b": tb}, x, w, xa.Args[1], b)
		if t.commit([]*ir.Value{add}, []*ir.Value{l}) {
			return l
		}
	}
	return nil
}

// scaled matches v = Mul(rest, s) or Mul(s, rest), used only by parent,
// with s a finite constant splat that does not broadcast rest.
func (u *fuser) scaled(v, parent *ir.Value) (s float64, rest *ir.Value, ok bool) {
	if v.Op != ir.OpMul || !u.onlyUser(v, parent) {
		return 0, nil, false
	}
	for i := 0; i < 2; i++ {
		c, r := v.Args[i], v.Args[1-i]
		if x, isSplat := splat(c); isSplat && !math.IsNaN(x) && !math.IsInf(x, 0) && r.Type.Equal(v.Type) {
			return x, r, true
		}
	}
	return 0, nil, false
}

// mergeLoRA folds LoRAMatMul v into a new base weight when W, A and B are
// bound weights.
func (u *fuser) mergeLoRA(v *ir.Value) bool {
	if u.c.Module == nil || u.c.Module.Weights == nil {
		u.c.Count("merge-skipped", 1)
		return false
	}
	ws := u.c.Module.Weights
	var ts [3]*ir.Tensor
	var names [3]string
	for i, a := range v.Args[1:4] {
		if a.Op != ir.OpParam {
			u.c.Count("merge-skipped", 1)
			return false
		}
		names[i] = a.Attrs.String("name", "")
		if ts[i] = ws[names[i]]; ts[i] == nil || !ts[i].Type().Equal(a.Type) {
			u.c.Count("merge-skipped", 1)
			return false
		}
	}
	w, a, b := ts[0], ts[1], ts[2]
	scale, tb := v.FloatAttr("scale"), v.BoolAttr("transpose_b")
	h := fnv.New64a()
	fmt.Fprintf(h, "%q %q %q %v %v", names[0], names[1], names[2], scale, tb)
	name := fmt.Sprintf("%s.merged.%016x", names[0], h.Sum64())
	merged := ws[name]
	if merged == nil || !merged.Type().Equal(w.Type()) {
		var err error
		if merged, err = mergedWeight(w, a, b, scale, tb); err != nil {
			u.c.Count("merge-skipped", 1)
			return false
		}
	}
	t := u.begin(v)
	p := t.param(name, merged.Type())
	mm := t.op(ir.OpMatMul, ir.Attrs{"transpose_b": tb}, v.Args[0], p)
	if !t.commit([]*ir.Value{v}, []*ir.Value{mm}) {
		return false
	}
	ws[name] = merged
	u.c.Count("merged", 1)
	return true
}

// mergedWeight computes W + s·B·A (transpose_b) or W + s·A·B in float64,
// rounded once to W's dtype.
func mergedWeight(w, a, b *ir.Tensor, s float64, tb bool) (*ir.Tensor, error) {
	if len(w.Shape) != 2 || len(a.Shape) != 2 || len(b.Shape) != 2 || !w.DType.IsFloat() {
		return nil, fmt.Errorf("LoRA factors are not matrices")
	}
	rows, cols := w.Shape[0], w.Shape[1]
	if rows*cols > maxFoldElems {
		return nil, fmt.Errorf("merged weight too large")
	}
	// lhs [rows, r] · rhs [r, cols]: B·A for transpose_b, else A·B.
	lhs, rhs := a, b
	if tb {
		lhs, rhs = b, a
	}
	r := lhs.Shape[1]
	if lhs.Shape[0] != rows || rhs.Shape[0] != r || rhs.Shape[1] != cols {
		return nil, fmt.Errorf("LoRA factor shapes %v, %v do not fit %v", a.Shape, b.Shape, w.Shape)
	}
	wv, lv, rv := w.Float64s(), lhs.Float64s(), rhs.Float64s()
	for i := int64(0); i < rows; i++ {
		for j := int64(0); j < cols; j++ {
			acc := 0.0
			for k := int64(0); k < r; k++ {
				acc += lv[i*r+k] * rv[k*cols+j]
			}
			wv[i*cols+j] += s * acc
		}
	}
	return ir.TensorFromFloat64s(w.DType, w.Shape, wv), nil
}

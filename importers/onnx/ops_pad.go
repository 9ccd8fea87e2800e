package onnx

import (
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convPad, "Pad")
	register(9, convEyeLike, "EyeLike")
	register(14, convTrilu, "Trilu")
}

// convPad converts Pad. Negative pads crop (Slice); constant padding
// concatenates blocks of the fill value (any dims); reflect, edge and wrap
// gather along each padded axis (which must be static) with the index
// lists those modes define.
func convPad(n *node) []*val {
	x := n.need(0)
	r := x.rank()
	mode := n.str("mode", "constant")
	var pads []int64
	var fill *val
	axes := make([]int64, r)
	for i := range axes {
		axes[i] = int64(i)
	}
	if n.opset < 11 {
		pads = n.ints("pads", nil)
		fill = n.like(x, n.float("value", 0))
	} else {
		pads = n.constInts(1, "pads", nil)
		fill = n.arg(2)
		if n.opset >= 18 && n.arg(3) != nil {
			axes = n.constInts(3, "axes", nil)
		}
	}
	if !n.ok() {
		return nil
	}
	if fill == nil {
		fill = n.like(x, 0)
	} else {
		if num, ok := fill.shape().NumElements(); !ok || num != ir.StaticDim(1) || fill.dtype() != x.dtype() {
			n.failf("constant_value is %v, want one %v", fill.typ, x.dtype())
			return nil
		}
		fill = n.reshape(fill, ir.Shape{})
	}
	nax := n.normAxes(axes, r)
	if len(pads) != 2*len(nax) && n.ok() {
		n.failf("%d pads for %d axes", len(pads), len(nax))
	}
	if !n.ok() {
		return nil
	}
	for i, a := range nax {
		lo, hi := pads[i], pads[len(nax)+i]
		if lo < 0 || hi < 0 { // crop first
			start, end := max(-lo, 0), int64(ir.SliceEnd)
			if hi < 0 {
				end = hi
			}
			x = n.slice(x, []int64{int64(a)}, []int64{start}, []int64{end}, []int64{1})
			lo, hi = max(lo, 0), max(hi, 0)
		}
		if lo == 0 && hi == 0 || !n.ok() {
			continue
		}
		switch mode {
		case "constant":
			parts := []*val{}
			block := func(k int64) *val {
				sh := x.shape().Clone()
				sh[a] = ir.StaticDim(k)
				return n.op(ir.OpExpand, ir.Attrs{"shape": sh}, fill)
			}
			if lo > 0 {
				parts = append(parts, block(lo))
			}
			parts = append(parts, x)
			if hi > 0 {
				parts = append(parts, block(hi))
			}
			x = n.op(ir.OpConcat, ir.Attrs{"axis": int64(a)}, parts...)
		case "reflect", "edge", "wrap":
			d := x.shape()[a]
			if !d.IsStatic() || d.Off == 0 {
				n.unsupported("%s padding of dim %v", mode, d)
				return nil
			}
			if lo > 1<<40 || hi > 1<<40 || !n.alloc(lo+d.Off+hi, 8) {
				n.failf("pads %d, %d too large", lo, hi)
				return nil
			}
			idx := make([]int64, 0, lo+d.Off+hi)
			for i := -lo; i < d.Off+hi; i++ {
				idx = append(idx, padIndex(mode, i, d.Off))
			}
			x = n.op(ir.OpGather, ir.Attrs{"axis": int64(a)}, x, i64s(idx...))
		default:
			n.failf("mode %q", clip(mode))
			return nil
		}
	}
	return []*val{x}
}

// padIndex maps position i (which may lie outside [0, d)) to the element
// that reflect, edge or wrap padding copies there.
func padIndex(mode string, i, d int64) int64 {
	switch mode {
	case "edge":
		return max(0, min(i, d-1))
	case "wrap":
		return ((i % d) + d) % d
	}
	if d == 1 { // reflect
		return 0
	}
	p := 2 * (d - 1)
	j := ((i % p) + p) % p
	if j >= d {
		j = p - j
	}
	return j
}

// convEyeLike makes the identity-like matrix of the input's (static)
// shape: ones on diagonal k.
func convEyeLike(n *node) []*val {
	x := n.need(0)
	k := n.int("k", 0)
	dt := x.dtype()
	if n.has("dtype") {
		var ok bool
		if dt, ok = dtypeOf(int32(n.int("dtype", 0))); !ok {
			n.fail(unsupportedDType(int32(n.int("dtype", 0))))
			return nil
		}
	}
	if !n.ok() {
		return nil
	}
	s := x.shape()
	if len(s) != 2 || !s.IsStatic() {
		n.unsupported("EyeLike of %v", s)
		return nil
	}
	rows, cols := s[0].Off, s[1].Off
	if num, err := numElements([]int64{rows, cols}); err != nil || !n.alloc(num, 8) {
		n.failf("a %d×%d matrix", rows, cols)
		return nil
	}
	v := make([]float64, rows*cols)
	for i := int64(0); i < rows; i++ {
		if j := i + k; j >= 0 && j < cols {
			v[i*cols+j] = 1
		}
	}
	return []*val{constVal(ir.TensorFromFloat64s(dt, []int64{rows, cols}, v))}
}

// convTrilu keeps the upper (or lower) triangle of the last two (static)
// dims: y = Where(mask, x, 0) with mask[i, j] = j - i ≥ k (upper) or
// j - i ≤ k (lower).
func convTrilu(n *node) []*val {
	x := n.need(0)
	upper := n.int("upper", 1) != 0
	k := int64(0)
	if n.arg(1) != nil {
		v := n.constInts(1, "k", nil)
		if len(v) != 1 && n.ok() {
			n.failf("k must have one element")
		}
		if len(v) == 1 {
			k = v[0]
		}
	}
	if !n.ok() {
		return nil
	}
	s := x.shape()
	if len(s) < 2 || !s[len(s)-1].IsStatic() || !s[len(s)-2].IsStatic() {
		n.unsupported("Trilu of %v", s)
		return nil
	}
	rows, cols := s[len(s)-2].Off, s[len(s)-1].Off
	if num, err := numElements([]int64{rows, cols}); err != nil || !n.alloc(num, 9) {
		n.failf("a %d×%d mask", rows, cols)
		return nil
	}
	mask := make([]int64, rows*cols)
	for i := int64(0); i < rows; i++ {
		for j := int64(0); j < cols; j++ {
			if upper && j-i >= k || !upper && j-i <= k {
				mask[i*cols+j] = 1
			}
		}
	}
	zero := constVal(ir.TensorFromFloat64s(x.dtype(), nil, []float64{0}))
	return []*val{n.where(constVal(ir.TensorFromInt64s(ir.Bool, []int64{rows, cols}, mask)), x, zero)}
}

package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convPool, "MaxPool", "AveragePool", "LpPool")
	register(7, convGlobalPool, "GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool")
}

// convPool lowers MaxPool, AveragePool and LpPool over static spatial
// dims like a convolution (see im2col): the input, padded with -inf (max)
// or 0, is gathered into windows [N, C, K, O] that are reduced over K:
// max; sum divided by the number of counted positions (count_include_pad:
// the explicitly padded input, otherwise the input itself); or
// (sum |x|^p)^(1/p). ceil_mode lets a last window run past the padding
// when it starts inside the input or its left padding.
func convPool(n *node) []*val {
	op := n.p.GetOpType()
	x := n.floatIn(0)
	r := x.rank()
	sd := r - 2
	if sd < 1 && n.ok() {
		n.failf("input %v has no spatial dims", x.typ)
	}
	if !n.ok() {
		return nil
	}
	K := n.ints("kernel_shape", nil)
	ints := func(name string, def int64) []int64 {
		v := n.ints(name, nil)
		if v == nil {
			v = make([]int64, sd)
			for i := range v {
				v[i] = def
			}
		}
		if len(v) != sd {
			n.failf("%s has %d entries for %d spatial dims", name, len(v), sd)
		}
		return v
	}
	strides, dil := ints("strides", 1), ints("dilations", 1)
	pads := n.ints("pads", make([]int64, 2*sd))
	autoPad := n.str("auto_pad", "NOTSET")
	ceil := n.int("ceil_mode", 0) != 0
	includePad := n.int("count_include_pad", 0) != 0
	p := float64(n.int("p", 2))
	if len(K) != sd || len(pads) != 2*sd {
		n.failf("kernel_shape %v and pads %v do not match %d spatial dims", K, pads, sd)
	}
	if !n.ok() {
		return nil
	}
	S := x.shape()[2:]
	if !S.IsStatic() {
		n.unsupported("%s over symbolic spatial dims %v", op, S)
		return nil
	}
	O := make([]int64, sd)
	right := make([]int64, sd)
	for i := 0; i < sd; i++ {
		s, k, d, in := strides[i], K[i], dil[i], S[i].Off
		if s < 1 || k < 1 || d < 1 || pads[i] < 0 || pads[sd+i] < 0 {
			n.failf("bad kernel_shape %v, strides %v, dilations %v or pads %v", K, strides, dil, pads)
			return nil
		}
		ext := (k-1)*d + 1
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			O[i] = (in + s - 1) / s
			total := max(0, (O[i]-1)*s+ext-in)
			pads[i] = total / 2
			if autoPad == "SAME_LOWER" {
				pads[i] = total - total/2
			}
			pads[sd+i] = total - pads[i]
		case "VALID":
			pads[i], pads[sd+i] = 0, 0
			fallthrough
		case "NOTSET":
			span := in + pads[i] + pads[sd+i] - ext
			if span < 0 {
				n.failf("the window %d does not fit the padded input %d", ext, in+pads[i]+pads[sd+i])
				return nil
			}
			O[i] = span/s + 1
			if ceil && span%s != 0 {
				O[i]++
				if (O[i]-1)*s >= in+pads[i] {
					O[i]--
				}
			}
		default:
			n.failf("auto_pad %q", clip(autoPad))
			return nil
		}
		right[i] = max(pads[sd+i], (O[i]-1)*s+ext-in-pads[i])
	}
	fill := 0.0
	if op == "MaxPool" {
		fill = math.Inf(-1)
	}
	xp := x
	for i := 0; i < sd; i++ {
		xp = n.padFill(xp, 2+i, pads[i], right[i], n.like(x, fill))
	}
	if !n.ok() {
		return nil
	}
	P := xp.shape()[2:].Sizes()
	kt, ot := int64(1), int64(1)
	for i := 0; i < sd; i++ {
		kt *= K[i]
		ot *= O[i]
	}
	if kt*ot > maxIm2colIndices {
		n.unsupported("a pooling needing %d gather indices", kt*ot)
		return nil
	}
	if !n.alloc(kt*ot, 16) {
		return nil
	}
	idx, pt := windowIndex(P, K, O, strides, dil)
	N, C := x.shape()[0], x.shape()[1]
	cols := n.op(ir.OpGather, ir.Attrs{"axis": int64(2)}, n.reshape(xp, ir.Shape{N, C, ir.StaticDim(pt)}),
		constVal(ir.TensorFromInt64s(ir.I64, []int64{kt, ot}, idx)))
	red := ir.Attrs{"axes": []int64{2}, "keepdims": false}
	var y *val
	switch op {
	case "MaxPool":
		y = n.op(ir.OpReduceMax, red, cols)
	case "LpPool":
		s := n.op(ir.OpReduceSum, red, n.op(ir.OpPow, nil, n.abs(cols), n.like(x, p)))
		y = n.op(ir.OpPow, nil, s, n.like(x, 1/p))
	default:
		count := make([]float64, ot)
		kIdx, oIdx := make([]int64, sd), make([]int64, sd)
		for k := int64(0); k < kt; k++ {
			unflat(k, K, kIdx)
			for o := int64(0); o < ot; o++ {
				unflat(o, O, oIdx)
				in := true
				for i := 0; i < sd; i++ {
					c := oIdx[i]*strides[i] + kIdx[i]*dil[i]
					lo, hi := pads[i], pads[i]+S[i].Off
					if includePad {
						lo, hi = 0, pads[i]+S[i].Off+pads[sd+i]
					}
					in = in && c >= lo && c < hi
				}
				if in {
					count[o]++
				}
			}
		}
		y = n.op(ir.OpDiv, nil, n.op(ir.OpReduceSum, red, cols), constVal(ir.TensorFromFloat64s(x.dtype(), []int64{ot}, count)))
	}
	return []*val{n.reshape(y, append(ir.Shape{N, C}, ir.Static(O...)...))}
}

// padFill pads axis of x with lo copies of fill before and hi after.
func (n *node) padFill(x *val, axis int, lo, hi int64, fill *val) *val {
	if lo == 0 && hi == 0 || !n.ok() {
		return x
	}
	block := func(k int64) *val {
		sh := x.shape().Clone()
		sh[axis] = ir.StaticDim(k)
		return n.op(ir.OpExpand, ir.Attrs{"shape": sh}, fill)
	}
	var parts []*val
	if lo > 0 {
		parts = append(parts, block(lo))
	}
	parts = append(parts, x)
	if hi > 0 {
		parts = append(parts, block(hi))
	}
	return n.op(ir.OpConcat, ir.Attrs{"axis": int64(axis)}, parts...)
}

// convGlobalPool reduces over all spatial dims, keeping them as 1s.
func convGlobalPool(n *node) []*val {
	x := n.floatIn(0)
	if !n.ok() {
		return nil
	}
	var axes []int64
	for a := 2; a < x.rank(); a++ {
		axes = append(axes, int64(a))
	}
	red := ir.Attrs{"axes": axes}
	switch n.p.GetOpType() {
	case "GlobalMaxPool":
		return []*val{n.op(ir.OpReduceMax, red, x)}
	case "GlobalAveragePool":
		return []*val{n.op(ir.OpReduceMean, red, x)}
	}
	p := float64(n.int("p", 2))
	s := n.op(ir.OpReduceSum, red, n.op(ir.OpPow, nil, n.abs(x), n.like(x, p)))
	return []*val{n.op(ir.OpPow, nil, s, n.like(x, 1/p))}
}

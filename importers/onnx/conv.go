package onnx

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// maxIm2colIndices bounds the gather indices a general convolution builds.
const maxIm2colIndices = 1 << 22

// convConv converts Conv. A depthwise 1-D convolution with stride 1 (how
// Mamba exports its causal conv: group = channels, pads = [K-1, 0]) maps
// onto Conv1d and keeps a symbolic length. Any other convolution (1-, 2-
// or 3-D, groups, strides, dilations, pads, auto_pad) needs static
// spatial dims and is lowered to im2col: the padded input, flattened over
// its spatial dims, is gathered into columns [N, C, K, O] (K kernel
// offsets, O output positions) and multiplied by the weights per group:
//
//	y[n, g·Mg+m, o] = sum_{c,k} w[g·Mg+m, c, k] · xpad[n, g·Cg+c, o·s + k·d] + bias[g·Mg+m]
func convConv(n *node) []*val {
	x, w, bias := n.floatIn(0), n.floatIn(1), n.arg(2)
	if !n.ok() {
		return nil
	}
	r := x.rank()
	sd := r - 2
	if sd < 1 || w.rank() != r {
		n.failf("input %v and weight %v: want ranks ≥ 3 and equal", x.typ, w.typ)
		return nil
	}
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
	if len(pads) != 2*sd && n.ok() {
		n.failf("pads has %d entries for %d spatial dims", len(pads), sd)
	}
	group := n.int("group", 1)
	autoPad := n.str("auto_pad", "NOTSET")
	if !n.ok() {
		return nil
	}
	ws := w.shape()
	if !ws.IsStatic() || !x.shape()[1].IsStatic() {
		n.unsupported("symbolic channels or kernel")
		return nil
	}
	M, Cg, C := ws[0].Off, ws[1].Off, x.shape()[1].Off
	K := ws.Sizes()[2:]
	if ks := n.ints("kernel_shape", nil); ks != nil && !equalInts(ks, K) {
		n.failf("kernel_shape %v does not match the weight %v", ks, ws)
		return nil
	}
	if group < 1 || C != Cg*group || M%group != 0 {
		n.failf("group %d does not divide input channels %d and weight %v", group, C, ws)
		return nil
	}
	for i := 0; i < sd; i++ {
		if strides[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[sd+i] < 0 {
			n.failf("bad strides %v, dilations %v or pads %v", strides, dil, pads)
			return nil
		}
	}
	if autoPad == "VALID" {
		pads = make([]int64, 2*sd)
	}
	if b := bias; b != nil && (b.rank() != 1 || b.shape()[0] != ir.StaticDim(M)) {
		n.failf("bias is %v, want [%d]", b.typ, M)
		return nil
	}
	depthwise := sd == 1 && group == C && M == C && Cg == 1 && strides[0] == 1
	if depthwise && (autoPad == "NOTSET" || autoPad == "VALID") {
		return []*val{n.op(ir.OpConv1d, ir.Attrs{"pads": pads, "dilation": dil[0]}, x, w, bias)}
	}
	S := x.shape()[2:]
	if !S.IsStatic() {
		n.unsupported("a convolution other than depthwise stride-1 1-D over symbolic spatial dims %v", S)
		return nil
	}
	switch autoPad {
	case "NOTSET", "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < sd; i++ {
			out := (S[i].Off + strides[i] - 1) / strides[i]
			total := max(0, (out-1)*strides[i]+(K[i]-1)*dil[i]+1-S[i].Off)
			lo := total / 2
			if autoPad == "SAME_LOWER" {
				lo = total - total/2
			}
			pads[i], pads[sd+i] = lo, total-lo
		}
	default:
		n.failf("auto_pad %q", clip(autoPad))
		return nil
	}
	return []*val{n.im2col(x, w, bias, pads, strides, dil, group)}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// zerosLike returns zeros of dtype dt and shape (an Expand of a scalar).
func (n *node) zeros(dt ir.DType, shape ir.Shape) *val {
	return n.op(ir.OpExpand, ir.Attrs{"shape": shape.Clone()}, scalar(dt, 0))
}

// padZeros pads axis of x with lo zeros before and hi after.
func (n *node) padZeros(x *val, axis int, lo, hi int64) *val {
	if lo == 0 && hi == 0 {
		return x
	}
	parts := []*val{}
	mk := func(k int64) *val {
		sh := x.shape().Clone()
		sh[axis] = ir.StaticDim(k)
		return n.zeros(x.dtype(), sh)
	}
	if lo > 0 {
		parts = append(parts, mk(lo))
	}
	parts = append(parts, x)
	if hi > 0 {
		parts = append(parts, mk(hi))
	}
	return n.op(ir.OpConcat, ir.Attrs{"axis": int64(axis)}, parts...)
}

// im2col lowers a general convolution (see convConv).
func (n *node) im2col(x, w, bias *val, pads, strides, dil []int64, group int64) *val {
	sd := x.rank() - 2
	ws := w.shape().Sizes()
	M, Cg, K := ws[0], ws[1], ws[2:]
	for i := 0; i < sd; i++ {
		x = n.padZeros(x, 2+i, pads[i], pads[sd+i])
	}
	if !n.ok() {
		return placeholder()
	}
	P := x.shape()[2:].Sizes()
	O := make([]int64, sd)
	kt, ot := int64(1), int64(1)
	for i := 0; i < sd; i++ {
		O[i] = (P[i]-(K[i]-1)*dil[i]-1)/strides[i] + 1
		if O[i] <= 0 {
			n.failf("the kernel does not fit the padded input %v", P)
			return placeholder()
		}
		kt *= K[i]
		ot *= O[i]
	}
	if kt*ot > maxIm2colIndices {
		n.unsupported("a convolution needing %d gather indices", kt*ot)
		return placeholder()
	}
	if !n.alloc(kt*ot, 8) {
		return placeholder()
	}
	idx, acc := windowIndex(P, K, O, strides, dil)
	N := x.shape()[0]
	C := x.shape()[1]
	flatX := n.reshape(x, ir.Shape{N, C, ir.StaticDim(acc)})
	cols := n.op(ir.OpGather, ir.Attrs{"axis": int64(2)}, flatX, constVal(ir.TensorFromInt64s(ir.I64, []int64{kt, ot}, idx)))
	cols = n.reshape(cols, ir.Shape{N, ir.StaticDim(group), ir.StaticDim(Cg * kt), ir.StaticDim(ot)})
	wm := n.reshape(w, ir.Static(group, M/group, Cg*kt))
	y := n.op(ir.OpMatMul, nil, wm, cols)
	y = n.reshape(y, append(ir.Shape{N, ir.StaticDim(M)}, ir.Static(O...)...))
	if bias != nil {
		bs := ir.Static(M)
		for i := 0; i < sd; i++ {
			bs = append(bs, ir.StaticDim(1))
		}
		y = n.op(ir.OpAdd, nil, y, n.reshape(bias, bs))
	}
	return y
}

// unflat writes the row-major multi-index of flat index i in shape.
func unflat(i int64, shape, idx []int64) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

// windowIndex lists, for each kernel offset k and output position o (both
// row-major over the spatial dims), the flat index into an input of
// spatial shape P that the window at o reads at offset k:
//
//	idx[k, o] = sum_i (o_i·strides_i + k_i·dil_i) · stride_i(P)
//
// and returns it with the number of elements of P.
func windowIndex(P, K, O, strides, dil []int64) ([]int64, int64) {
	sd := len(P)
	pstride := make([]int64, sd)
	acc := int64(1)
	for i := sd - 1; i >= 0; i-- {
		pstride[i] = acc
		acc *= P[i]
	}
	kt, ot := int64(1), int64(1)
	for i := 0; i < sd; i++ {
		kt *= K[i]
		ot *= O[i]
	}
	idx := make([]int64, 0, kt*ot)
	kIdx, oIdx := make([]int64, sd), make([]int64, sd)
	for k := int64(0); k < kt; k++ {
		unflat(k, K, kIdx)
		for o := int64(0); o < ot; o++ {
			unflat(o, O, oIdx)
			flat := int64(0)
			for i := 0; i < sd; i++ {
				flat += (oIdx[i]*strides[i] + kIdx[i]*dil[i]) * pstride[i]
			}
			idx = append(idx, flat)
		}
	}
	return idx, acc
}

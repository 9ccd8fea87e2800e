package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(11, convGatherElements, "GatherElements")
	register(7, convArgExtreme, "ArgMax", "ArgMin")
	register(7, convHardmax, "Hardmax")
}

// iota returns the constant 0, 1, …, n-1 of dtype i64 laid along axis of
// a rank-r tensor (the other dims 1).
func (n *node) iota(count int64, axis, r int) *val {
	if !n.alloc(count, 8) {
		return placeholder()
	}
	v := make([]int64, count)
	for i := range v {
		v[i] = int64(i)
	}
	shape := make([]int64, r)
	for i := range shape {
		shape[i] = 1
	}
	shape[axis] = count
	return constVal(ir.TensorFromInt64s(ir.I64, shape, v))
}

// convGatherElements: y[i…] = data[i… with the axis coordinate replaced
// by indices[i…]]. With static shapes it is a Gather from the flattened
// data at the flat index
//
//	sum_{d ≠ axis} i_d·stride_d + norm(indices[i…])·stride_axis
//
// (negative indices counting from the end of the axis).
func convGatherElements(n *node) []*val {
	data, idx := n.need(0), n.need(1)
	axis := n.normAxis(n.int("axis", 0), data.rank())
	if !n.ok() {
		return nil
	}
	r := data.rank()
	if idx.rank() != r || !idx.dtype().IsInt() {
		n.failf("indices are %v, want an integer tensor of rank %d", idx.typ, r)
		return nil
	}
	ds, is := data.shape(), idx.shape()
	if !ds.IsStatic() || !is.IsStatic() {
		n.unsupported("GatherElements over symbolic dims")
		return nil
	}
	stride := make([]int64, r)
	acc := int64(1)
	for d := r - 1; d >= 0; d-- {
		stride[d] = acc
		acc *= ds[d].Off
	}
	ix := n.cast(idx, ir.I64)
	size := scalar(ir.I64, float64(ds[axis].Off))
	ix = n.where(n.cmp(ix, scalar(ir.I64, 0), "lt"), n.op(ir.OpAdd, nil, ix, size), ix)
	flat := n.op(ir.OpMul, nil, ix, scalar(ir.I64, float64(stride[axis])))
	for d := 0; d < r; d++ {
		if d != axis && is[d].Off > 1 {
			off := n.op(ir.OpMul, nil, n.iota(is[d].Off, d, r), scalar(ir.I64, float64(stride[d])))
			flat = n.op(ir.OpAdd, nil, flat, off)
		}
	}
	flatData := n.reshape(data, ir.Shape{ir.StaticDim(acc)})
	return []*val{n.op(ir.OpGather, ir.Attrs{"axis": int64(0)}, flatData, flat)}
}

// convArgExtreme: ArgMax / ArgMin as the smallest (select_last_index: the
// largest) position along the axis where x equals its maximum (minimum):
//
//	m = ReduceMax(x);  y = min over i of (x[i] == m ? i : n)
//
// with the mins taken as -ReduceMax(-·). A NaN makes every position
// compare unequal (y = n).
func convArgExtreme(n *node) []*val {
	x := n.need(0)
	r := x.rank()
	axis := n.normAxis(n.int("axis", 0), r)
	keep := n.int("keepdims", 1) != 0
	last := n.int("select_last_index", 0) != 0
	if !n.ok() {
		return nil
	}
	d := x.shape()[axis]
	if !d.IsStatic() {
		n.unsupported("%s over a symbolic axis", n.p.GetOpType())
		return nil
	}
	red := ir.Attrs{"axes": []int64{int64(axis)}}
	v := x
	if x.dtype() == ir.Bool {
		v = n.cast(x, ir.I8)
	}
	if n.p.GetOpType() == "ArgMin" {
		if !v.dtype().IsFloat() && v.dtype() != ir.I8 {
			v = n.cast(v, ir.I64) // room to negate the minimum
		}
		v = n.op(ir.OpNeg, nil, v)
	}
	m := n.op(ir.OpReduceMax, red, v)
	hit := n.cmp(v, m, "eq")
	pos := n.iota(d.Off, axis, r)
	var y *val
	if last {
		y = n.op(ir.OpReduceMax, red, n.where(hit, pos, scalar(ir.I64, -1)))
	} else {
		miss := scalar(ir.I64, float64(d.Off))
		y = n.op(ir.OpNeg, nil, n.op(ir.OpReduceMax, red, n.op(ir.OpNeg, nil, n.where(hit, pos, miss))))
	}
	if !keep {
		sh := x.shape().Clone()
		y = n.reshape(y, append(sh[:axis:axis], sh[axis+1:]...))
	}
	return []*val{y}
}

// convHardmax: 1 at the first maximum along the axis, 0 elsewhere (opset
// 13 semantics: one axis; earlier opsets flatten at axis like Softmax).
func convHardmax(n *node) []*val {
	x := n.floatIn(0)
	def := int64(-1)
	if n.opset < 13 {
		def = 1
	}
	axis := n.normAxis(n.int("axis", def), x.rank())
	if !n.ok() {
		return nil
	}
	in := x
	if n.opset < 13 && axis != x.rank()-1 {
		a, ok1 := x.shape()[:axis].NumElements()
		b, ok2 := x.shape()[axis:].NumElements()
		if !ok1 || !ok2 {
			n.unsupported("flattening %v", x.shape())
			return nil
		}
		in = n.reshape(x, ir.Shape{a, b})
		axis = 1
	}
	d := in.shape()[axis]
	if !d.IsStatic() {
		n.unsupported("Hardmax over a symbolic axis")
		return nil
	}
	red := ir.Attrs{"axes": []int64{int64(axis)}}
	hit := n.cmp(in, n.op(ir.OpReduceMax, red, in), "eq")
	pos := n.iota(d.Off, axis, in.rank())
	first := n.op(ir.OpNeg, nil, n.op(ir.OpReduceMax, red, n.op(ir.OpNeg, nil, n.where(hit, pos, scalar(ir.I64, math.MaxInt32)))))
	y := n.where(n.cmp(pos, first, "eq"), n.like(in, 1), n.like(in, 0))
	return []*val{n.reshape(y, x.shape())}
}

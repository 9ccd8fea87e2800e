package onnx

import (
	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convReduce, "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSumSquare",
		"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")
	register(7, convSoftmax(false), "Softmax")
	register(7, convSoftmax(true), "LogSoftmax")
	register(17, convLayerNorm, "LayerNormalization")
	register(23, convRMSNorm, "RMSNormalization")
	register(11, convCumSum, "CumSum")
}

// convReduce converts the reductions. The axes are an attribute before
// opset 13 (ReduceSum) or 18 (the others) and an optional input after;
// with noop_with_empty_axes and no axes the input passes unchanged.
func convReduce(n *node) []*val {
	x := n.need(0)
	op := n.p.GetOpType()
	since := int64(18)
	if op == "ReduceSum" {
		since = 13
	}
	axes, given := n.axesArg(since, 1)
	keep := n.int("keepdims", 1) != 0
	if !n.ok() {
		return nil
	}
	if !given || len(axes) == 0 {
		if n.int("noop_with_empty_axes", 0) != 0 {
			return []*val{x}
		}
		given = false
	}
	attrs := ir.Attrs{"keepdims": keep}
	if given {
		na := n.normAxes(axes, x.rank())
		ax := make([]int64, len(na))
		for i, a := range na {
			ax[i] = int64(a)
		}
		attrs["axes"] = ax
	}
	sum := func(v *val) *val { return n.op(ir.OpReduceSum, attrs, v) }
	if x.dtype() == ir.Bool && (op == "ReduceMax" || op == "ReduceMin") {
		// any / all: reduce 0s and 1s as i8
		x = n.cast(x, ir.I8)
		y := n.op(ir.OpReduceMax, attrs, x)
		if op == "ReduceMin" {
			y = n.op(ir.OpNeg, nil, n.op(ir.OpReduceMax, attrs, n.op(ir.OpNeg, nil, x)))
		}
		return []*val{n.cast(y, ir.Bool)}
	}
	switch op {
	case "ReduceSum":
		return []*val{sum(x)}
	case "ReduceMean":
		return []*val{n.op(ir.OpReduceMean, attrs, x)}
	case "ReduceMax":
		return []*val{n.op(ir.OpReduceMax, attrs, x)}
	case "ReduceMin": // -max(-x)
		return []*val{n.op(ir.OpNeg, nil, n.op(ir.OpReduceMax, attrs, n.op(ir.OpNeg, nil, x)))}
	case "ReduceSumSquare":
		return []*val{sum(n.op(ir.OpMul, nil, x, x))}
	case "ReduceL1":
		return []*val{sum(n.abs(x))}
	case "ReduceL2":
		return []*val{n.op(ir.OpSqrt, nil, sum(n.op(ir.OpMul, nil, x, x)))}
	case "ReduceLogSum":
		return []*val{n.op(ir.OpLog, nil, sum(x))}
	case "ReduceLogSumExp":
		return []*val{n.op(ir.OpLog, nil, sum(n.op(ir.OpExp, nil, x)))}
	}
	return nil
}

// convSoftmax converts Softmax and LogSoftmax. Before opset 13 they act
// on x flattened to 2-D at axis (default 1); from 13 on one axis
// (default -1).
func convSoftmax(logarithm bool) converter {
	return func(n *node) []*val {
		x := n.floatIn(0)
		def := int64(-1)
		if n.opset < 13 {
			def = 1
		}
		axis := n.normAxis(n.int("axis", def), max(x.rank(), 1))
		if !n.ok() {
			return nil
		}
		in := x
		if x.rank() == 0 {
			n.failf("needs an input of rank ≥ 1")
			return nil
		}
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
		var y *val
		if logarithm { // x - max - log(sum(exp(x - max)))
			m := n.op(ir.OpReduceMax, ir.Attrs{"axes": []int64{int64(axis)}}, in)
			d := n.op(ir.OpSub, nil, in, m)
			s := n.op(ir.OpReduceSum, ir.Attrs{"axes": []int64{int64(axis)}}, n.op(ir.OpExp, nil, d))
			y = n.op(ir.OpSub, nil, d, n.op(ir.OpLog, nil, s))
		} else {
			y = n.op(ir.OpSoftmax, ir.Attrs{"axis": int64(axis)}, in)
		}
		return []*val{n.reshape(y, x.shape())}
	}
}

// stashType returns the dtype the normalizations compute in.
func (n *node) stashType() ir.DType {
	et := n.int("stash_type", int64(onnxpb.TensorProto_FLOAT))
	dt, ok := dtypeOf(int32(et))
	if !ok || !dt.IsFloat() {
		n.failf("stash_type %d is not a float type", et)
	}
	return dt
}

// normAxesFrom returns [axis, rank) as IR axes.
func (n *node) normAxesFrom(x *val) []int64 {
	axis := n.normAxis(n.int("axis", -1), x.rank())
	var axes []int64
	for a := axis; a < x.rank(); a++ {
		axes = append(axes, int64(a))
	}
	return axes
}

// convLayerNorm follows ONNX's function body: in the stash type,
//
//	mean = ReduceMean(x, axes), d = x - mean, var = ReduceMean(d·d)
//	inv = 1 / sqrt(var + eps), y = cast(d·inv)·scale + bias
//
// with the optional outputs mean and inv (keepdims).
func convLayerNorm(n *node) []*val {
	x, scale, bias := n.floatIn(0), n.need(1), n.arg(2)
	axes := n.normAxesFrom(x)
	st := n.stashType()
	eps := n.float("epsilon", 1e-5)
	if !n.ok() {
		return nil
	}
	xu := n.cast(x, st)
	red := ir.Attrs{"axes": axes}
	mean := n.op(ir.OpReduceMean, red, xu)
	d := n.op(ir.OpSub, nil, xu, mean)
	variance := n.op(ir.OpReduceMean, red, n.op(ir.OpMul, nil, d, d))
	std := n.op(ir.OpSqrt, nil, n.op(ir.OpAdd, nil, variance, n.cast(scalar(ir.F32, eps), st)))
	inv := n.op(ir.OpDiv, nil, scalar(st, 1), std)
	y := n.cast(n.op(ir.OpMul, nil, d, inv), x.dtype())
	y = n.op(ir.OpMul, nil, y, scale)
	if bias != nil {
		y = n.op(ir.OpAdd, nil, y, bias)
	}
	return []*val{y, mean, inv}
}

// convRMSNorm follows ONNX's function body: in the stash type,
// y = cast(x / sqrt(ReduceMean(x·x, axes) + eps)) · scale.
func convRMSNorm(n *node) []*val {
	x, scale := n.floatIn(0), n.need(1)
	axes := n.normAxesFrom(x)
	st := n.stashType()
	eps := n.float("epsilon", 1e-5)
	if !n.ok() {
		return nil
	}
	xu := n.cast(x, st)
	ms := n.op(ir.OpReduceMean, ir.Attrs{"axes": axes}, n.op(ir.OpMul, nil, xu, xu))
	rms := n.op(ir.OpSqrt, nil, n.op(ir.OpAdd, nil, ms, n.cast(scalar(ir.F32, eps), st)))
	y := n.cast(n.op(ir.OpDiv, nil, xu, rms), x.dtype())
	return []*val{n.op(ir.OpMul, nil, y, scale)}
}

func convCumSum(n *node) []*val {
	x := n.need(0)
	axis := n.constInts(1, "axis", nil)
	if !n.ok() {
		return nil
	}
	if len(axis) != 1 {
		n.failf("axis must have one element")
		return nil
	}
	a := n.normAxis(axis[0], x.rank())
	return []*val{n.op(ir.OpCumSum, ir.Attrs{"axis": int64(a),
		"exclusive": n.int("exclusive", 0) != 0, "reverse": n.int("reverse", 0) != 0}, x)}
}

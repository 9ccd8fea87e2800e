package ref

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// Kernels of the ops in ir/ops_onnx.go.

// evalWhere selects elements with broadcasting:
//
//	for i in y: y[i] = cond[bc(i)] ? a[ba(i)] : b[bb(i)]
//
// copying the chosen element's bytes, so every dtype passes unchanged.
func evalWhere(c *call) ([]*ir.Tensor, error) {
	cond, a, b := c.args[0], c.args[1], c.args[2]
	shape := c.outShape(0)
	bc, ba, bb := newBroadcaster(cond.Shape, shape), newBroadcaster(a.Shape, shape), newBroadcaster(b.Shape, shape)
	es := int64(a.DType.Size())
	n := product(shape)
	out := make([]byte, n*es)
	for i := int64(0); i < n; i++ {
		src, j := b, bb.index(i)
		if cond.Data[bc.index(i)] != 0 {
			src, j = a, ba.index(i)
		}
		copy(out[i*es:(i+1)*es], src.Data[j*es:(j+1)*es])
	}
	return []*ir.Tensor{{DType: a.DType, Shape: shape, Data: out}}, nil
}

// evalCompare compares elements with broadcasting:
//
//	for i in y: y[i] = a[ba(i)] cmp b[bb(i)]
//
// floats as float64 (every comparison with NaN is false except "ne"),
// integers and bools exactly as int64 (false = 0 < true = 1).
func evalCompare(c *call) ([]*ir.Tensor, error) {
	a, b := c.args[0], c.args[1]
	shape := c.outShape(0)
	ba, bb := newBroadcaster(a.Shape, shape), newBroadcaster(b.Shape, shape)
	cmp := c.at.StringAttr("cmp")
	n := product(shape)
	out := make([]int64, n)
	for i := int64(0); i < n; i++ {
		var lt, eq, unordered bool
		if a.DType.IsFloat() {
			x, y := a.At(int(ba.index(i))), b.At(int(bb.index(i)))
			lt, eq, unordered = x < y, x == y, math.IsNaN(x) || math.IsNaN(y)
		} else {
			x, y := a.IntAt(int(ba.index(i))), b.IntAt(int(bb.index(i)))
			lt, eq = x < y, x == y
		}
		var r bool
		switch cmp {
		case "eq":
			r = eq
		case "ne":
			r = !eq
		case "lt":
			r = lt
		case "le":
			r = lt || eq
		case "gt":
			r = !lt && !eq && !unordered
		case "ge":
			r = !lt && !unordered
		default:
			return nil, c.errorf("unknown comparison %q", cmp)
		}
		if r {
			out[i] = 1
		}
	}
	return []*ir.Tensor{intTensor(ir.Bool, shape, out)}, nil
}

// evalErf computes for i: y[i] = round(erf(x[i])).
func evalErf(c *call) ([]*ir.Tensor, error) {
	vals := c.args[0].Float64s()
	for i, x := range vals {
		vals[i] = math.Erf(x)
	}
	return []*ir.Tensor{floatTensor(c.out[0].DType, c.outShape(0), vals)}, nil
}

// evalReduceMax computes the maximum over the axes (all when absent):
//
//	m[o] = -inf (floats) or the type's minimum (integers)
//	for i in x (row-major): m[r(i)] = max(m[r(i)], x[i])    NaN wins
//
// r maps x's index to the result's, with the reduced axes at 0.
func evalReduceMax(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	axes, err := ir.ReduceAxes(c.at, len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	at, nOut := reduceIndex(x.Shape, axes)
	n := x.NumElements()
	if x.DType.IsFloat() {
		m := make([]float64, nOut)
		for o := range m {
			m[o] = math.Inf(-1)
		}
		for i := int64(0); i < n; i++ {
			o, v := at(i), x.At(int(i))
			if v > m[o] || math.IsNaN(v) {
				m[o] = v
			}
		}
		return []*ir.Tensor{floatTensor(c.out[0].DType, c.outShape(0), m)}, nil
	}
	lo, _ := intRange(x.DType)
	m := make([]int64, nOut)
	for o := range m {
		m[o] = lo
	}
	for i := int64(0); i < n; i++ {
		o := at(i)
		m[o] = max(m[o], x.IntAt(int(i)))
	}
	return []*ir.Tensor{intTensor(c.out[0].DType, c.outShape(0), m)}, nil
}

// axisLayout splits shape around axis: the product of the dims before it,
// its size and the product of the dims after it.
func axisLayout(shape []int64, axis int) (outer, n, inner int64) {
	return product(shape[:axis]), shape[axis], product(shape[axis+1:])
}

// evalCumSum computes running sums along the axis:
//
//	for o, k (the other dims): s = 0
//	    for t in 0..n-1 (n-1..0 when reverse):
//	        if exclusive: y[o,t,k] = s; s += x[o,t,k]
//	        else:         s += x[o,t,k]; y[o,t,k] = s
//
// s is float64 for floats (each y rounded once) and int64 for integers
// (wrapped to the width).
func evalCumSum(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	ax, err := normAxis(c.at.IntAttr("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	excl, rev := c.at.BoolAttr("exclusive"), c.at.BoolAttr("reverse")
	outer, n, inner := axisLayout(x.Shape, ax)
	total := x.NumElements()
	isFloat := x.DType.IsFloat()
	fo, io := make([]float64, total), make([]int64, total)
	for o := int64(0); o < outer; o++ {
		for k := int64(0); k < inner; k++ {
			fs, is := 0.0, int64(0)
			for s := int64(0); s < n; s++ {
				t := s
				if rev {
					t = n - 1 - s
				}
				i := (o*n+t)*inner + k
				if excl {
					fo[i], io[i] = fs, is
				}
				if isFloat {
					fs += x.At(int(i))
				} else {
					is += x.IntAt(int(i))
				}
				if !excl {
					fo[i], io[i] = fs, is
				}
			}
		}
	}
	if isFloat {
		return []*ir.Tensor{floatTensor(x.DType, x.Shape, fo)}, nil
	}
	return []*ir.Tensor{intTensor(x.DType, x.Shape, io)}, nil
}

// evalLinearScan runs the recurrence along the axis:
//
//	for o, k (the other dims): h = h0[o,k] (0 when absent)
//	    for t in 0..T-1: h = round(round(a[o,t,k] * h) + b[o,t,k]); y[o,t,k] = h
//
// with a and b broadcast to y's shape and round to y's dtype.
func evalLinearScan(c *call) ([]*ir.Tensor, error) {
	a, b, h0 := c.args[0], c.args[1], c.arg(2)
	shape := c.outShape(0)
	ax, err := normAxis(c.at.IntAttr("axis"), len(shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	dt := c.out[0].DType
	ba, bb := newBroadcaster(a.Shape, shape), newBroadcaster(b.Shape, shape)
	av, bv := a.Float64s(), b.Float64s()
	outer, n, inner := axisLayout(shape, ax)
	var hv []float64
	if h0 != nil {
		hv = h0.Float64s()
	}
	out := make([]float64, product(shape))
	for o := int64(0); o < outer; o++ {
		for k := int64(0); k < inner; k++ {
			h := 0.0
			if hv != nil {
				h = hv[o*inner+k]
			}
			for t := int64(0); t < n; t++ {
				i := (o*n+t)*inner + k
				h = roundTo(dt, roundTo(dt, av[ba.index(i)]*h)+bv[bb.index(i)])
				out[i] = h
			}
		}
	}
	return []*ir.Tensor{floatTensor(dt, shape, out)}, nil
}

package ref

import (
	"math"
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// reduceIndex maps each element of x (shape in) to the flat index of the
// reduction result it belongs to: the multi-index with the reduced axes set
// to 0, flattened in the keepdims shape (which has the same row-major order
// as the shape without the reduced dims).
func reduceIndex(in []int64, axes []int) (func(i int64) int64, int64) {
	kept := slices.Clone(in)
	for _, a := range axes {
		kept[a] = 1
	}
	st := strides(kept)
	j := make([]int64, len(in))
	return func(i int64) int64 {
		unflatten(i, in, j)
		o := int64(0)
		for d := range j {
			if kept[d] != 1 {
				o += j[d] * st[d]
			}
		}
		return o
	}, product(kept)
}

// evalReduce computes ReduceSum and ReduceMean over the axes (all axes when
// the attribute is absent):
//
//	for i in x (row-major): s[r(i)] += x[i]      r: x's index with reduced axes at 0
//	ReduceSum: y = s;  ReduceMean: y = s / count   (count = elements per output)
//
// Floats sum in float64 (a mean over no elements is NaN); integers sum
// exactly in int64 and the mean truncates toward zero (over no elements
// it is an error).
func evalReduce(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	axes, err := ir.ReduceAxes(c.at, len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	at, nOut := reduceIndex(x.Shape, axes)
	count := int64(1)
	for _, a := range axes {
		count *= x.Shape[a]
	}
	mean := c.v.Op == ir.OpReduceMean
	n := x.NumElements()
	if x.DType.IsFloat() {
		s := make([]float64, nOut)
		for i := int64(0); i < n; i++ {
			s[at(i)] += x.At(int(i))
		}
		if mean {
			for o := range s {
				s[o] /= float64(count)
			}
		}
		return []*ir.Tensor{floatTensor(c.out[0].DType, c.outShape(0), s)}, nil
	}
	if !x.DType.IsInt() {
		return nil, c.errorf("no kernel for %v operands", x.DType)
	}
	s := make([]int64, nOut)
	for i := int64(0); i < n; i++ {
		s[at(i)] += x.IntAt(int(i))
	}
	if mean {
		if count == 0 && nOut > 0 {
			return nil, c.errorf("integer mean over zero elements")
		}
		for o := range s {
			s[o] /= count
		}
	}
	return []*ir.Tensor{intTensor(c.out[0].DType, c.outShape(0), s)}, nil
}

// evalRMSNorm normalizes each row of the last axis (n elements), in
// float64:
//
//	ms = sum_j x[r, j]^2 / n
//	y[r, i] = x[r, i] / sqrt(ms + eps) * weight[i]
func evalRMSNorm(c *call) ([]*ir.Tensor, error) {
	x, w := c.args[0], c.args[1]
	eps := c.at.FloatAttr("eps")
	xv, wv := x.Float64s(), w.Float64s()
	n := x.Shape[len(x.Shape)-1]
	if int64(len(wv)) != n {
		return nil, c.errorf("weight has %d elements, rows have %d", len(wv), n)
	}
	y := make([]float64, len(xv))
	for r := int64(0); r*n < int64(len(xv)); r++ {
		row := xv[r*n : (r+1)*n]
		ms := 0.0
		for _, a := range row {
			ms += a * a
		}
		ms /= float64(n)
		d := math.Sqrt(ms + eps)
		for i, a := range row {
			y[r*n+int64(i)] = a / d * wv[i]
		}
	}
	return []*ir.Tensor{floatTensor(c.out[0].DType, c.outShape(0), y)}, nil
}

// evalSoftmax normalizes along axis, in float64: for every line of x
// along the axis,
//
//	m = max_j x[j];  e[j] = exp(x[j] - m);  y[j] = e[j] / sum_j e[j]
func evalSoftmax(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	ax, err := normAxis(c.at.IntAttr("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	outer, n, inner := product(x.Shape[:ax]), x.Shape[ax], product(x.Shape[ax+1:])
	xv := x.Float64s()
	y := make([]float64, len(xv))
	for o := int64(0); o < outer; o++ {
		for q := int64(0); q < inner; q++ {
			at := func(j int64) int64 { return (o*n+j)*inner + q }
			m := math.Inf(-1)
			for j := int64(0); j < n; j++ {
				m = max(m, xv[at(j)])
			}
			sum := 0.0
			for j := int64(0); j < n; j++ {
				y[at(j)] = math.Exp(xv[at(j)] - m)
				sum += y[at(j)]
			}
			for j := int64(0); j < n; j++ {
				y[at(j)] /= sum
			}
		}
	}
	return []*ir.Tensor{floatTensor(c.out[0].DType, c.outShape(0), y)}, nil
}

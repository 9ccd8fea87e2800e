package ref

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// unaryFloat holds the scalar function of each unary op on float operands,
// computed in float64; the result is then rounded to the operand dtype.
var unaryFloat = map[ir.Op]func(float64) float64{
	ir.OpNeg:      func(x float64) float64 { return -x },
	ir.OpExp:      math.Exp,
	ir.OpLog:      math.Log,
	ir.OpSqrt:     math.Sqrt,
	ir.OpRsqrt:    func(x float64) float64 { return 1 / math.Sqrt(x) },
	ir.OpSigmoid:  sigmoid,
	ir.OpSiLU:     silu,
	ir.OpSoftplus: softplus,
	ir.OpTanh:     math.Tanh,
	ir.OpRelu:     func(x float64) float64 { return max(x, 0) },
}

// unaryInt holds the scalar function of the unary ops allowed on integer
// operands, computed exactly in int64.
var unaryInt = map[ir.Op]func(int64) int64{
	ir.OpNeg:  func(x int64) int64 { return -x },
	ir.OpRelu: func(x int64) int64 { return max(x, 0) },
}

// sigmoid is 1 / (1 + exp(-x)).
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// silu is x · sigmoid(x).
func silu(x float64) float64 { return x * sigmoid(x) }

// softplus is log(1 + exp(x)), computed stably: x itself when x > 20 (where
// the two agree to double precision), log1p(exp(x)) otherwise.
func softplus(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// evalUnary computes a unary elementwise op:
//
//	for i: y[i] = round(f(x[i]))     f from unaryFloat / unaryInt
func evalUnary(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	shape := c.outShape(0)
	if x.DType.IsFloat() {
		f := unaryFloat[c.v.Op]
		if f == nil {
			return nil, c.errorf("no float kernel")
		}
		vals := x.Float64s()
		for i, a := range vals {
			vals[i] = f(a)
		}
		return []*ir.Tensor{floatTensor(c.out[0].DType, shape, vals)}, nil
	}
	f := unaryInt[c.v.Op]
	if f == nil || !x.DType.IsInt() {
		return nil, c.errorf("no kernel for %v operands", x.DType)
	}
	vals := x.Int64s()
	for i, a := range vals {
		vals[i] = f(a)
	}
	return []*ir.Tensor{intTensor(c.out[0].DType, shape, vals)}, nil
}

// broadcaster maps the flat index of an element of a broadcast result to
// the flat index of the operand element it reads (NumPy rules: shapes
// aligned on the right, size-1 operand dims repeat).
type broadcaster struct {
	out    []int64 // the result shape
	stride []int64 // per result dim: the operand stride, 0 where broadcast
}

// newBroadcaster returns the index map from result shape out to operand
// shape in (len(in) ≤ len(out), each dim equal or 1).
func newBroadcaster(in, out []int64) broadcaster {
	st := strides(in)
	b := broadcaster{out: out, stride: make([]int64, len(out))}
	for d := range out {
		j := d - (len(out) - len(in))
		if j >= 0 && in[j] != 1 {
			b.stride[d] = st[j]
		}
	}
	return b
}

// index returns the operand flat index read by result element i.
func (b broadcaster) index(i int64) int64 {
	off := int64(0)
	for d := len(b.out) - 1; d >= 0; d-- {
		if b.out[d] > 0 {
			off += (i % b.out[d]) * b.stride[d]
			i /= b.out[d]
		}
	}
	return off
}

// evalBinary computes a binary elementwise op with broadcasting:
//
//	for i in y: y[i] = round(a[bcast_a(i)] op b[bcast_b(i)])
//
// in float64 for float operands (Pow is math.Pow) and exactly in int64 for
// integer ones (Div truncates toward zero; a zero divisor is an error).
func evalBinary(c *call) ([]*ir.Tensor, error) {
	a, b := c.args[0], c.args[1]
	shape := c.outShape(0)
	n := product(shape)
	ba, bb := newBroadcaster(a.Shape, shape), newBroadcaster(b.Shape, shape)
	op := c.v.Op
	if a.DType.IsFloat() {
		av, bv := a.Float64s(), b.Float64s()
		out := make([]float64, n)
		for i := range out {
			x, y := av[ba.index(int64(i))], bv[bb.index(int64(i))]
			switch op {
			case ir.OpAdd:
				out[i] = x + y
			case ir.OpSub:
				out[i] = x - y
			case ir.OpMul:
				out[i] = x * y
			case ir.OpDiv:
				out[i] = x / y
			case ir.OpPow:
				out[i] = math.Pow(x, y)
			default:
				return nil, c.errorf("no float kernel")
			}
		}
		return []*ir.Tensor{floatTensor(c.out[0].DType, shape, out)}, nil
	}
	if !a.DType.IsInt() {
		return nil, c.errorf("no kernel for %v operands", a.DType)
	}
	av, bv := a.Int64s(), b.Int64s()
	out := make([]int64, n)
	for i := range out {
		x, y := av[ba.index(int64(i))], bv[bb.index(int64(i))]
		switch op {
		case ir.OpAdd:
			out[i] = x + y
		case ir.OpSub:
			out[i] = x - y
		case ir.OpMul:
			out[i] = x * y
		case ir.OpDiv:
			if y == 0 {
				return nil, c.errorf("integer division by zero at element %d", i)
			}
			out[i] = x / y // truncates; MinInt64 / -1 wraps to MinInt64
		default:
			return nil, c.errorf("no kernel for %v operands", a.DType)
		}
	}
	return []*ir.Tensor{intTensor(c.out[0].DType, shape, out)}, nil
}

// evalCast converts every element to the dtype "to":
//
//	float -> float:  round to nearest even (NaN and ±Inf kept)
//	int   -> float:  round to nearest even (exact int64 input)
//	float -> int:    truncate toward zero, saturating; NaN -> 0
//	int   -> int:    wrap to the width (two's complement)
//	any   -> bool:   x != 0 (NaN -> true);  bool -> any: 0 or 1
func evalCast(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	to := c.out[0].DType
	shape := c.outShape(0)
	n := int(x.NumElements())
	switch {
	case to == ir.Bool:
		out := make([]int64, n)
		for i := range out {
			if x.DType == ir.I64 && x.IntAt(i) != 0 || x.DType != ir.I64 && x.At(i) != 0 {
				out[i] = 1
			}
		}
		return []*ir.Tensor{intTensor(to, shape, out)}, nil
	case to.IsFloat() && x.DType.IsFloat():
		return []*ir.Tensor{floatTensor(to, shape, x.Float64s())}, nil
	case to.IsFloat():
		out := make([]float64, n)
		for i := range out {
			out[i] = intToFloat(to, x.IntAt(i))
		}
		return []*ir.Tensor{ir.TensorFromFloat64s(to, shape, out)}, nil
	case to.IsInt() && x.DType.IsFloat():
		out := make([]int64, n)
		for i := range out {
			out[i] = floatToInt(to, x.At(i))
		}
		return []*ir.Tensor{intTensor(to, shape, out)}, nil
	case to.IsInt():
		return []*ir.Tensor{intTensor(to, shape, x.Int64s())}, nil
	}
	return nil, c.errorf("cannot cast %v to %v", x.DType, to)
}

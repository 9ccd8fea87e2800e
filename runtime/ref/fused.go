package ref

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// The reference kernels of the fused ops of ir/ops_fused.go.

func init() {
	kernels[ir.OpAddRMSNorm] = evalAddRMSNorm
	kernels[ir.OpFusedElementwise] = evalFusedElementwise
}

// evalAddRMSNorm adds the residual, rounds the sum to f32, and normalizes
// each row of the last axis (n elements) of the sum, in float64:
//
//	sum[i] = f32(x[i] + residual[i])
//	ms = sum_j sum[r, j]^2 / n
//	normed[r, i] = sum[r, i] / sqrt(ms + eps) * weight[i]      (rounded to x's dtype)
func evalAddRMSNorm(c *call) ([]*ir.Tensor, error) {
	x, res, w := c.args[0], c.args[1], c.args[2]
	eps := c.at.FloatAttr("eps")
	xv, rv, wv := x.Float64s(), res.Float64s(), w.Float64s()
	n := x.Shape[len(x.Shape)-1]
	if len(rv) != len(xv) || int64(len(wv)) != n {
		return nil, c.errorf("x has %d elements, residual %d, weight %d for rows of %d", len(xv), len(rv), len(wv), n)
	}
	sum := make([]float64, len(xv))
	for i := range sum {
		sum[i] = roundTo(ir.F32, xv[i]+rv[i])
	}
	y := make([]float64, len(xv))
	for r := int64(0); r*n < int64(len(sum)); r++ {
		row := sum[r*n : (r+1)*n]
		ms := 0.0
		for _, a := range row {
			ms += a * a
		}
		d := math.Sqrt(ms/float64(n) + eps)
		for i, a := range row {
			y[r*n+int64(i)] = a / d * wv[i]
		}
	}
	return []*ir.Tensor{floatTensor(ir.F32, c.outShape(0), sum), floatTensor(c.out[1].DType, c.outShape(1), y)}, nil
}

// evalFusedElementwise evaluates the expression at every element of the
// result, each operand read at its broadcast index:
//
//	for i in y: y[i] = eval(expr, i)
//	eval(%k, i)        = x_k[bcast_k(i)]
//	eval(number, i)    = round(number)
//	eval(f(a, b), i)   = round(f(eval(a, i), eval(b, i)))   f as in the op of the same name
//
// in float64, every number and every call's result rounded to the dtype,
// so the result is exactly that of the unfused chain of ops.
func evalFusedElementwise(c *call) ([]*ir.Tensor, error) {
	e, err := ir.ParseExpr(c.at.Attrs.String("expr", ""), len(c.args))
	if err != nil {
		return nil, c.errorf("expr: %v", err)
	}
	dt := c.out[0].DType
	shape := c.outShape(0)
	n := product(shape)
	vals := make([][]float64, len(c.args))
	bc := make([]broadcaster, len(c.args))
	for k, a := range c.args {
		vals[k] = a.Float64s()
		bc[k] = newBroadcaster(a.Shape, shape)
	}
	out := make([]float64, n)
	var fail error
	var eval func(e *ir.Expr, i int64) float64
	eval = func(e *ir.Expr, i int64) float64 {
		switch e.Op {
		case ir.OpArg:
			return vals[e.Input][bc[e.Input].index(i)]
		case ir.OpConst:
			return roundTo(dt, e.Value)
		}
		if len(e.Args) == 1 {
			f := unaryFloat[e.Op]
			if f == nil {
				fail = c.errorf("no float kernel for %v", e.Op)
				return 0
			}
			return roundTo(dt, f(eval(e.Args[0], i)))
		}
		a, b := eval(e.Args[0], i), eval(e.Args[1], i)
		var r float64
		switch e.Op {
		case ir.OpAdd:
			r = a + b
		case ir.OpSub:
			r = a - b
		case ir.OpMul:
			r = a * b
		case ir.OpDiv:
			r = a / b
		case ir.OpPow:
			r = math.Pow(a, b)
		default:
			fail = c.errorf("no float kernel for %v", e.Op)
		}
		return roundTo(dt, r)
	}
	for i := range out {
		out[i] = eval(e, int64(i))
		if fail != nil {
			return nil, fail
		}
	}
	return []*ir.Tensor{floatTensor(dt, shape, out)}, nil
}

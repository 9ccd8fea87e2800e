package ref

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// TestAddRMSNorm checks hand-computed cases and agreement with Add
// followed by RMSNorm.
func TestAddRMSNorm(t *testing.T) {
	// sum = [3, 4]: mean square 12.5.
	s := math.Sqrt(12.5)
	got := eval(t, ir.OpAddRMSNorm, ir.Attrs{"eps": 0.0}, f32(shp(1, 2), 1, 2), f32(shp(1, 2), 2, 2), f32(shp(2), 1, 2))
	checkTensorClose(t, "sum", got[0], ir.F32, shp(1, 2), []float64{3, 4}, 0)
	checkTensorClose(t, "normed", got[1], ir.F32, shp(1, 2), []float64{3 / s, 8 / s}, 1e-7)

	// bf16 x, f32 residual: the sum stays f32 (1 + 2^-10 is not a bf16),
	// normed is rounded to bf16.
	got = eval(t, ir.OpAddRMSNorm, ir.Attrs{"eps": 0.0}, ten(ir.BF16, shp(2), 1, 1), f32(shp(2), 0x1p-10, 0), f32(shp(2), 1, 1))
	checkTensorClose(t, "bf16 sum", got[0], ir.F32, shp(2), []float64{1 + 0x1p-10, 1}, 0)
	if got[1].DType != ir.BF16 {
		t.Errorf("normed is %v, want bf16", got[1].DType)
	}

	r := rand.New(rand.NewPCG(3, 4))
	for _, shape := range [][]int64{{5}, {2, 3, 16}, {4, 1}} {
		n := product(shape)
		x, res := f32(shape, randVals(r, n, -3, 3)...), f32(shape, randVals(r, n, -3, 3)...)
		w := f32(shape[len(shape)-1:], randVals(r, shape[len(shape)-1], 0.5, 1.5)...)
		attrs := ir.Attrs{"eps": 1e-5}
		fused := eval(t, ir.OpAddRMSNorm, attrs, x, res, w)
		sum := eval(t, ir.OpAdd, nil, x, res)[0]
		norm := eval(t, ir.OpRMSNorm, attrs, sum, w)[0]
		if !fused[0].Equal(sum) || !fused[1].Equal(norm) {
			t.Errorf("%v: AddRMSNorm differs from Add + RMSNorm", shape)
		}
	}
}

// TestFusedElementwise checks that the fused expression computes exactly
// what the chain of ops computes, rounding included, with broadcasting and
// numbers.
func TestFusedElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(dt ir.DType, shape ...int64) *ir.Tensor {
		return ten(dt, shape, randVals(r, product(shape), -2, 2)...)
	}
	// chain evaluates the expression with one EvalOp per call.
	var chain func(t *testing.T, e *ir.Expr, in []*ir.Tensor, dt ir.DType) *ir.Tensor
	chain = func(t *testing.T, e *ir.Expr, in []*ir.Tensor, dt ir.DType) *ir.Tensor {
		switch e.Op {
		case ir.OpArg:
			return in[e.Input]
		case ir.OpConst:
			return ten(dt, shp(), e.Value)
		}
		var args []*ir.Tensor
		for _, a := range e.Args {
			args = append(args, chain(t, a, in, dt))
		}
		return eval(t, e.Op, nil, args...)[0]
	}
	tests := []struct {
		name string
		expr string
		in   []*ir.Tensor
	}{
		{"silu gate", "mul(silu(%0), sigmoid(%1))", []*ir.Tensor{rnd(ir.F32, 2, 3), rnd(ir.F32, 2, 3)}},
		{"bias broadcast", "softplus(add(%0, %1))", []*ir.Tensor{rnd(ir.F32, 2, 3, 4), rnd(ir.F32, 4)}},
		{"outer broadcast", "div(exp(%0), add(%1, 1.5))", []*ir.Tensor{rnd(ir.F32, 3, 1), rnd(ir.F32, 1, 5)}},
		{"every function", "add(pow(relu(%0), 2), sub(tanh(neg(%0)), mul(rsqrt(add(sqrt(exp(%0)), 1)), log(add(%0, 3)))))",
			[]*ir.Tensor{rnd(ir.F32, 7)}},
		{"operand used twice", "mul(%0, add(%0, %1))", []*ir.Tensor{rnd(ir.F64, 4), rnd(ir.F64, 4)}},
		{"bf16", "mul(add(%0, 0.1), %1)", []*ir.Tensor{rnd(ir.BF16, 6), rnd(ir.BF16, 6)}},
		{"f16", "silu(sub(%0, %1))", []*ir.Tensor{rnd(ir.F16, 2, 2), rnd(ir.F16, 2, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := eval(t, ir.OpFusedElementwise, ir.Attrs{"expr": tt.expr}, tt.in...)[0]
			e, err := ir.ParseExpr(tt.expr, len(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			want := chain(t, e, tt.in, tt.in[0].DType)
			if !got.Equal(want) {
				t.Errorf("fused %v\nchain %v", got.Float64s(), want.Float64s())
			}
		})
	}
	// Rounding after every call: in bf16, (1 + 2^-8) + 2^-8 is 1 + 2^-8
	// rounded (to 1) plus 2^-8, rounded again to 1; one rounding of the
	// exact sum would give 1 + 2^-7.
	got := eval(t, ir.OpFusedElementwise, ir.Attrs{"expr": "add(add(%0, %1), %1)"},
		ten(ir.BF16, shp(1), 1), ten(ir.BF16, shp(1), 0x1p-8))[0]
	checkTensorClose(t, "bf16 double rounding", got, ir.BF16, shp(1), []float64{1}, 0)
}

// TestFusedErrors checks that operands not matching the value are errors.
func TestFusedErrors(t *testing.T) {
	v, err := newValue(ir.OpFusedElementwise, ir.Attrs{"expr": "exp(%0)"}, f32(shp(3), 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EvalOp(v, []*ir.Tensor{f32(shp(2), 1, 2)}); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wrong operand shape: got %v", err)
	}
	v, err = newValue(ir.OpAddRMSNorm, ir.Attrs{"eps": 1e-5}, f32(shp(2, 2), 1, 2, 3, 4), f32(shp(2, 2), 1, 2, 3, 4), f32(shp(2), 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EvalOp(v, []*ir.Tensor{f32(shp(2, 2), 1, 2, 3, 4), f32(shp(2, 2), 1, 2, 3, 4)}); err == nil {
		t.Errorf("missing weight: no error")
	}
}

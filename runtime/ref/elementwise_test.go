package ref

import (
	"math"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestBinary(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name  string
		op    ir.Op
		a, b  *ir.Tensor
		dt    ir.DType
		shape []int64
		want  []float64
		tol   float64
	}{
		{"add row broadcast", ir.OpAdd, f32(shp(2, 3), 1, 2, 3, 4, 5, 6), f32(shp(3), 10, 20, 30),
			ir.F32, shp(2, 3), []float64{11, 22, 33, 14, 25, 36}, 0},
		{"add outer broadcast", ir.OpAdd, f32(shp(2, 1), 1, 2), f32(shp(1, 3), 10, 20, 30),
			ir.F32, shp(2, 3), []float64{11, 21, 31, 12, 22, 32}, 0},
		{"add scalar", ir.OpAdd, f32(shp(), 0.5), f32(shp(2), 1, 2), ir.F32, shp(2), []float64{1.5, 2.5}, 0},
		{"sub broadcast left", ir.OpSub, f32(shp(1), 10), f32(shp(2, 2), 1, 2, 3, 4),
			ir.F32, shp(2, 2), []float64{9, 8, 7, 6}, 0},
		{"mul", ir.OpMul, f32(shp(3), 1.5, -2, 0), f32(shp(3), 2, 3, -1), ir.F32, shp(3), []float64{3, -6, 0}, 0},
		{"div", ir.OpDiv, f32(shp(3), 1, -1, 0), f32(shp(3), 4, 0, 0), ir.F32, shp(3), []float64{0.25, -inf, math.NaN()}, 0},
		// 1/3 in f32 is 0.3333333432674408 (nearest f32), not the float64.
		{"div rounds to f32", ir.OpDiv, f32(shp(1), 1), f32(shp(1), 3), ir.F32, shp(1), []float64{0.3333333432674408}, 0},
		{"pow", ir.OpPow, f32(shp(3), 2, 9, 4), f32(shp(3), 3, 0.5, -1), ir.F32, shp(3), []float64{8, 3, 0.25}, 0},
		{"f64 keeps precision", ir.OpAdd, f64(shp(1), 1), f64(shp(1), 1e-12), ir.F64, shp(1), []float64{1 + 1e-12}, 0},
		// bf16 has 8 significant bits: the ulp at 1 is 2^-7.
		{"bf16 add rounds ties to even", ir.OpAdd, ten(ir.BF16, shp(3), 1, 1, 1.0078125),
			ten(ir.BF16, shp(3), 0x1p-8, 3*0x1p-9, 0x1p-8), ir.BF16, shp(3),
			[]float64{1, 1.0078125, 1.015625}, 0},
		{"bf16 mul rounds", ir.OpMul, ten(ir.BF16, shp(1), 1.0078125), ten(ir.BF16, shp(1), 1.0078125),
			ir.BF16, shp(1), []float64{1.015625}, 0},
		// f16 has 11 significant bits: the ulp at 2048 is 2; max finite 65504.
		{"f16 add rounds", ir.OpAdd, ten(ir.F16, shp(4), 2048, 2050, 65504, 65504),
			ten(ir.F16, shp(4), 1, 1, 15, 32), ir.F16, shp(4), []float64{2048, 2052, 65504, inf}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, tc.op, nil, tc.a, tc.b)
			checkTensorClose(t, tc.name, got[0], tc.dt, tc.shape, tc.want, tc.tol)
		})
	}
}

func TestIntegerBinary(t *testing.T) {
	tests := []struct {
		name string
		op   ir.Op
		dt   ir.DType
		a, b []int64
		want []int64
	}{
		{"add", ir.OpAdd, ir.I64, []int64{1, -2, 1 << 60}, []int64{2, 3, 1 << 60}, []int64{3, 1, 1 << 61}},
		{"sub", ir.OpSub, ir.I32, []int64{1, -2, 7}, []int64{2, 3, -7}, []int64{-1, -5, 14}},
		{"mul wraps i8", ir.OpMul, ir.I8, []int64{16, -3, 100}, []int64{16, 5, 2}, []int64{0, -15, -56}},
		{"div truncates", ir.OpDiv, ir.I64, []int64{7, -7, 7, -7}, []int64{2, 2, -2, -2}, []int64{3, -3, -3, 3}},
		{"div min by -1 wraps", ir.OpDiv, ir.I64, []int64{math.MinInt64}, []int64{-1}, []int64{math.MinInt64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := int64(len(tc.a))
			a := ir.TensorFromInt64s(tc.dt, shp(n), tc.a)
			b := ir.TensorFromInt64s(tc.dt, shp(n), tc.b)
			got := eval(t, tc.op, nil, a, b)
			checkInts(t, tc.name, got[0], tc.dt, shp(n), tc.want)
		})
	}
	err := evalErr(t, ir.OpDiv, nil, i64(shp(2), 1, 2), i64(shp(2), 1, 0))
	if err == nil || !strings.Contains(err.Error(), "division by zero") || !strings.Contains(err.Error(), "Div") {
		t.Errorf("integer division by zero: err = %v, want an error naming Div", err)
	}
}

func TestUnary(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name string
		op   ir.Op
		x    *ir.Tensor
		want []float64
		tol  float64
	}{
		{"neg", ir.OpNeg, f32(shp(3), 1, -2, 0), []float64{-1, 2, 0}, 0},
		{"exp", ir.OpExp, f64(shp(3), 0, 1, -inf), []float64{1, math.E, 0}, 1e-15},
		{"log", ir.OpLog, f64(shp(4), 1, math.E, 0, -1), []float64{0, 1, -inf, math.NaN()}, 1e-15},
		{"sqrt", ir.OpSqrt, f32(shp(3), 4, 2.25, 0), []float64{2, 1.5, 0}, 0},
		{"rsqrt", ir.OpRsqrt, f32(shp(2), 4, 0.25), []float64{0.5, 2}, 0},
		{"sigmoid", ir.OpSigmoid, f64(shp(4), 0, 1, -1000, 1000), []float64{0.5, 0.7310585786300049, 0, 1}, 1e-15},
		{"silu", ir.OpSiLU, f64(shp(3), 0, 1, -2), []float64{0, 0.7310585786300049, -0.23840584404423515}, 1e-15},
		// softplus(0) = ln 2; above 20 it is x; softplus(-30) = log1p(e^-30).
		// Around the threshold: softplus(19.5) = 19.5 + log1p(e^-19.5) is not
		// 19.5 in float64; above 20 the result is x exactly.
		{"softplus", ir.OpSoftplus, f64(shp(8), 0, 30, -30, 1000, 1, 5, 19.5, 20.5),
			[]float64{math.Ln2, 30, 9.357622968839299e-14, 1000, 1.3132616875182228, 5.006715348489118,
				19.500000003398267, 20.5}, 1e-15},
		{"tanh", ir.OpTanh, f64(shp(3), 0, 0.5, -inf), []float64{0, 0.46211715726000974, -1}, 1e-15},
		{"relu", ir.OpRelu, f32(shp(4), -1, 0, 2.5, math.NaN()), []float64{0, 0, 2.5, math.NaN()}, 0},
		// exp(1) = 2.71875 in bf16 (ulp 2^-6 in [2, 4)).
		{"exp rounds to bf16", ir.OpExp, ten(ir.BF16, shp(1), 1), []float64{2.71875}, 0},
		{"sigmoid rounds to f16", ir.OpSigmoid, ten(ir.F16, shp(1), 1), []float64{0.73095703125}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, tc.op, nil, tc.x)
			checkTensorClose(t, tc.name, got[0], tc.x.DType, tc.x.Shape, tc.want, tc.tol)
		})
	}
}

func TestIntegerUnary(t *testing.T) {
	x := ir.TensorFromInt64s(ir.I32, shp(3), []int64{-5, 0, 7})
	checkInts(t, "neg", eval(t, ir.OpNeg, nil, x)[0], ir.I32, shp(3), []int64{5, 0, -7})
	checkInts(t, "relu", eval(t, ir.OpRelu, nil, x)[0], ir.I32, shp(3), []int64{0, 0, 7})
	y := ir.TensorFromInt64s(ir.I8, shp(1), []int64{-128})
	checkInts(t, "neg wraps", eval(t, ir.OpNeg, nil, y)[0], ir.I8, shp(1), []int64{-128})
}

func TestCast(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		x    *ir.Tensor
		to   ir.DType
		want []float64 // for float results
		ints []int64   // for integer and bool results
	}{
		{"f32 to i32 truncates and saturates", f32(shp(5), 1.9, -1.9, nan, 3e10, -3e10), ir.I32,
			nil, []int64{1, -1, 0, math.MaxInt32, math.MinInt32}},
		{"f64 to i8 saturates", f64(shp(3), 127.9, 300, -129), ir.I8, nil, []int64{127, 127, -128}},
		{"f32 to bool", f32(shp(4), 0, math.Copysign(0, -1), 2, nan), ir.Bool, nil, []int64{0, 0, 1, 1}},
		{"i64 to bool", i64(shp(3), 0, -1, 1<<62), ir.Bool, nil, []int64{0, 1, 1}},
		{"i64 to i8 wraps", i64(shp(3), 300, -129, 5), ir.I8, nil, []int64{44, 127, 5}},
		{"bool to f32", ten(ir.Bool, shp(2), 1, 0), ir.F32, []float64{1, 0}, nil},
		{"bool to i64", ten(ir.Bool, shp(2), 1, 0), ir.I64, nil, []int64{1, 0}},
		// 2^24+1 is a tie between 2^24 and 2^24+2 in f32: even is 2^24.
		{"i64 to f32 rounds", i64(shp(2), 1<<24+1, 1<<24+3), ir.F32, []float64{1 << 24, 1<<24 + 4}, nil},
		// 2^60+2^52+1 lies just above the bf16 tie 2^60·(1+2^-8): one rounding
		// goes up; rounding through float64 first would land on the tie and
		// go down to 2^60.
		{"i64 to bf16 rounds once", i64(shp(1), 1<<60+1<<52+1), ir.BF16, []float64{1<<60 + 1<<53}, nil},
		// Exact ties beyond 2^53: to even (down from 2^60+2^52, up from
		// 2^60+2^53+2^52); negative values mirror.
		{"i64 to bf16 ties to even", i64(shp(3), 1<<60+1<<52, 1<<60+1<<53+1<<52, -(1<<60 + 1<<53 + 1<<52)), ir.BF16,
			[]float64{1 << 60, 1<<60 + 1<<54, -(1<<60 + 1<<54)}, nil},
		// Likewise 1+2^-8+2^-30: through f32 it would become the tie 1+2^-8.
		{"f64 to bf16 rounds once", f64(shp(2), 1+0x1p-8+0x1p-30, 1+0x1p-8), ir.BF16, []float64{1.0078125, 1}, nil},
		{"f64 to f16 overflow and subnormal", f64(shp(3), 1e6, 0x1p-24, 0x1p-26), ir.F16,
			[]float64{math.Inf(1), 0x1p-24, 0}, nil},
		{"f32 to f64 exact", f32(shp(1), 0.1), ir.F64, []float64{float64(float32(0.1))}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, ir.OpCast, ir.Attrs{"to": tc.to}, tc.x)[0]
			if tc.ints != nil {
				checkInts(t, tc.name, got, tc.to, tc.x.Shape, tc.ints)
				return
			}
			checkTensorClose(t, tc.name, got, tc.to, tc.x.Shape, tc.want, 0)
		})
	}
}

// TestRoundingMatchesHalf checks the float64 -> f16/bf16 rounding against
// the package half encoders on values that are exact in float32 (where a
// single rounding through float32 is exact).
func TestRoundingMatchesHalf(t *testing.T) {
	for _, dt := range []ir.DType{ir.F16, ir.BF16} {
		for i := uint32(0); i < 1<<20; i++ {
			x := float64(math.Float32frombits(i*4093 + i>>7)) // spread over all exponents
			if math.IsNaN(x) {
				continue
			}
			want := ir.TensorFromFloat64s(dt, shp(1), []float64{x}).At(0)
			if got := roundTo(dt, x); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("roundTo(%v, %g) = %g, package half gives %g", dt, x, got, want)
			}
		}
	}
}

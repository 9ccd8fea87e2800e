package ref

import (
	"math"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func boolT(shape []int64, vals ...int64) *ir.Tensor { return ir.TensorFromInt64s(ir.Bool, shape, vals) }

func TestWhere(t *testing.T) {
	cond := boolT(shp(2, 1), 1, 0)
	a := f32(shp(3), 1, 2, 3)
	b := f32(shp(2, 3), -1, -2, -3, -4, -5, -6)
	got := eval(t, ir.OpWhere, nil, cond, a, b)[0]
	checkTensorClose(t, "where", got, ir.F32, shp(2, 3), []float64{1, 2, 3, -4, -5, -6}, 0)
	// bytes pass unchanged: a bool payload and an int64 beyond 2^53
	big := int64(1)<<60 + 1
	gi := eval(t, ir.OpWhere, nil, boolT(shp(2), 1, 0), i64(shp(2), big, 0), i64(shp(), 7))[0]
	checkInts(t, "where i64", gi, ir.I64, shp(2), []int64{big, 7})
}

func TestCompare(t *testing.T) {
	nan := math.NaN()
	a := f32(shp(4), 1, 2, nan, 3)
	b := f32(shp(), 2)
	tests := []struct {
		cmp  string
		want []int64
	}{
		{"eq", []int64{0, 1, 0, 0}},
		{"ne", []int64{1, 0, 1, 1}},
		{"lt", []int64{1, 0, 0, 0}},
		{"le", []int64{1, 1, 0, 0}},
		{"gt", []int64{0, 0, 0, 1}},
		{"ge", []int64{0, 1, 0, 1}},
	}
	for _, tc := range tests {
		got := eval(t, ir.OpCompare, ir.Attrs{"cmp": tc.cmp}, a, b)[0]
		checkInts(t, "compare "+tc.cmp, got, ir.Bool, shp(4), tc.want)
	}
	// integers compare exactly (these two differ only beyond 2^53)
	x, y := int64(1)<<60, int64(1)<<60+1
	got := eval(t, ir.OpCompare, ir.Attrs{"cmp": "lt"}, i64(shp(2), x, y), i64(shp(2), y, x))[0]
	checkInts(t, "compare i64", got, ir.Bool, shp(2), []int64{1, 0})
	got = eval(t, ir.OpCompare, ir.Attrs{"cmp": "gt"}, boolT(shp(2), 1, 0), boolT(shp(2), 0, 0))[0]
	checkInts(t, "compare bool", got, ir.Bool, shp(2), []int64{1, 0})
}

func TestErf(t *testing.T) {
	// erf(0) = 0, erf(±inf) = ±1, erf(0.5) = 0.5204998778130465 (A&S table 7.1)
	got := eval(t, ir.OpErf, nil, f64(shp(4), 0, 0.5, math.Inf(1), math.Inf(-1)))[0]
	checkTensorClose(t, "erf", got, ir.F64, shp(4), []float64{0, 0.5204998778130465, 1, -1}, 1e-15)
}

func TestReduceMax(t *testing.T) {
	x := f32(shp(2, 3), 1, 5, -2, -7, -1, -3)
	got := eval(t, ir.OpReduceMax, ir.Attrs{"axes": []int64{1}, "keepdims": false}, x)[0]
	checkTensorClose(t, "max rows", got, ir.F32, shp(2), []float64{5, -1}, 0)
	got = eval(t, ir.OpReduceMax, nil, x)[0]
	checkTensorClose(t, "max all", got, ir.F32, shp(1, 1), []float64{5}, 0)
	got = eval(t, ir.OpReduceMax, ir.Attrs{"axes": []int64{0}}, f32(shp(2, 2), math.NaN(), 1, 0, 2))[0]
	checkTensorClose(t, "max NaN", got, ir.F32, shp(1, 2), []float64{math.NaN(), 2}, 0)
	got = eval(t, ir.OpReduceMax, ir.Attrs{"axes": []int64{1}}, f32(shp(2, 0)))[0]
	checkTensorClose(t, "max empty", got, ir.F32, shp(2, 1), []float64{math.Inf(-1), math.Inf(-1)}, 0)
	gi := eval(t, ir.OpReduceMax, ir.Attrs{"axes": []int64{1}}, ten(ir.I32, shp(2, 0)))[0]
	checkInts(t, "max empty i32", gi, ir.I32, shp(2, 1), []int64{math.MinInt32, math.MinInt32})
	gi = eval(t, ir.OpReduceMax, ir.Attrs{"axes": []int64{0}}, i64(shp(3), -4, -9, -5))[0]
	checkInts(t, "max i64", gi, ir.I64, shp(1), []int64{-4})
}

func TestCumSum(t *testing.T) {
	x := f32(shp(2, 3), 1, 2, 3, 4, 5, 6)
	tests := []struct {
		name  string
		attrs ir.Attrs
		want  []float64
	}{
		{"rows", ir.Attrs{"axis": int64(1)}, []float64{1, 3, 6, 4, 9, 15}},
		{"cols", ir.Attrs{"axis": int64(0)}, []float64{1, 2, 3, 5, 7, 9}},
		{"exclusive", ir.Attrs{"axis": int64(-1), "exclusive": true}, []float64{0, 1, 3, 0, 4, 9}},
		{"reverse", ir.Attrs{"axis": int64(1), "reverse": true}, []float64{6, 5, 3, 15, 11, 6}},
		{"reverse exclusive", ir.Attrs{"axis": int64(1), "reverse": true, "exclusive": true}, []float64{5, 3, 0, 11, 6, 0}},
	}
	for _, tc := range tests {
		got := eval(t, ir.OpCumSum, tc.attrs, x)[0]
		checkTensorClose(t, tc.name, got, ir.F32, shp(2, 3), tc.want, 0)
	}
	// int8 wraps: 100 + 100 = -56
	gi := eval(t, ir.OpCumSum, ir.Attrs{"axis": int64(0)}, ten(ir.I8, shp(2), 100, 100))[0]
	checkInts(t, "i8 wrap", gi, ir.I8, shp(2), []int64{100, -56})
}

func TestLinearScan(t *testing.T) {
	// h[t] = a[t]·h[t-1] + b[t] over axis 1 of [2, 3], h0 = [1, 10]
	a := f32(shp(2, 3), 2, 0.5, 1, 1, 1, 1)
	b := f32(shp(2, 3), 1, 1, 1, 1, 2, 3)
	h0 := f32(shp(2), 1, 10)
	got := eval(t, ir.OpLinearScan, ir.Attrs{"axis": int64(1)}, a, b, h0)[0]
	// row 0: 2·1+1 = 3, 0.5·3+1 = 2.5, 2.5+1 = 3.5; row 1: 11, 13, 16
	checkTensorClose(t, "scan", got, ir.F32, shp(2, 3), []float64{3, 2.5, 3.5, 11, 13, 16}, 0)
	// broadcast a scalar decay, no h0: a running sum over axis 0
	got = eval(t, ir.OpLinearScan, nil, f32(shp(), 1), f32(shp(3, 2), 1, 2, 3, 4, 5, 6))[0]
	checkTensorClose(t, "sum", got, ir.F32, shp(3, 2), []float64{1, 2, 4, 6, 9, 12}, 0)
	// each step rounds like a Mul then an Add in f32: 1 + 2^-24 rounds to
	// 1 (ties to even) at every step, while a float64 state would reach
	// 1 + 2^-23 after two steps, which f32 represents.
	eps := math.Ldexp(1, -24)
	got = eval(t, ir.OpLinearScan, nil, f32(shp(1), 1), f32(shp(3), 1, eps, eps))[0]
	checkTensorClose(t, "rounding", got, ir.F32, shp(3), []float64{1, 1, 1}, 0)
}

package ir

import (
	"math"
	"testing"
)

func TestTensorFromFloat64sRounding(t *testing.T) {
	tests := []struct {
		dt   DType
		v    float64
		want float64
	}{
		{BF16, 1 + math.Ldexp(1, -8) + math.Ldexp(1, -30), 1.0078125}, // just above a tie: up (double rounding gave 1)
		{BF16, 1 + math.Ldexp(1, -8), 1},                              // exact tie: to even
		{F16, 1 + math.Ldexp(1, -11) + math.Ldexp(1, -40), 1 + math.Ldexp(1, -10)},
		{F16, 70000, math.Inf(1)},
		{I8, 300, 127},
		{I8, -1e9, -128},
		{I32, math.NaN(), 0},
		{I64, 1e300, math.MaxInt64},
		{I32, -2.9, -2},
	}
	for _, tt := range tests {
		got := TensorFromFloat64s(tt.dt, []int64{1}, []float64{tt.v}).At(0)
		if got != tt.want {
			t.Errorf("%v(%v) = %v, want %v", tt.dt, tt.v, got, tt.want)
		}
	}
}

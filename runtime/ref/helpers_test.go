package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// newValue builds op(args){attrs} in a fresh function whose arguments have
// the static types of the given tensors (nil: absent operand).
func newValue(op ir.Op, attrs ir.Attrs, args ...*ir.Tensor) (*ir.Value, error) {
	f := ir.NewFunc("t")
	vals := make([]*ir.Value, len(args))
	for i, a := range args {
		if a != nil {
			vals[i] = f.NewArg(fmt.Sprintf("a%d", i), a.Type())
		}
	}
	return f.Append(op, attrs, vals...)
}

// eval builds op(args){attrs} and evaluates it with EvalOp, failing the
// test on any error.
func eval(t *testing.T, op ir.Op, attrs ir.Attrs, args ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	v, err := newValue(op, attrs, args...)
	if err != nil {
		t.Fatalf("building %v: %v", op, err)
	}
	res, err := EvalOp(v, args)
	if err != nil {
		t.Fatalf("EvalOp: %v", err)
	}
	return res
}

// evalErr builds op(args){attrs} and returns EvalOp's error (failing the
// test when building fails).
func evalErr(t *testing.T, op ir.Op, attrs ir.Attrs, args ...*ir.Tensor) error {
	t.Helper()
	v, err := newValue(op, attrs, args...)
	if err != nil {
		t.Fatalf("building %v: %v", op, err)
	}
	_, err = EvalOp(v, args)
	return err
}

// ten returns a tensor of dtype dt and shape with the given values
// (encoded by ir.TensorFromFloat64s).
func ten(dt ir.DType, shape []int64, vals ...float64) *ir.Tensor {
	return ir.TensorFromFloat64s(dt, shape, vals)
}

// zeros returns a tensor of zeros.
func zeros(dt ir.DType, shape ...int64) *ir.Tensor {
	return ten(dt, shape, make([]float64, product(shape))...)
}

// f32 returns an f32 tensor.
func f32(shape []int64, vals ...float64) *ir.Tensor { return ten(ir.F32, shape, vals...) }

// f64 returns an f64 tensor.
func f64(shape []int64, vals ...float64) *ir.Tensor { return ten(ir.F64, shape, vals...) }

// i64 returns an i64 tensor.
func i64(shape []int64, vals ...int64) *ir.Tensor { return ir.TensorFromInt64s(ir.I64, shape, vals) }

// shp is a shape literal.
func shp(d ...int64) []int64 { return d }

// seq returns 0, 1, ..., n-1 as float64s.
func seq(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i)
	}
	return v
}

// randVals returns n values uniform in [lo, hi).
func randVals(r *rand.Rand, n int64, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return v
}

// checkTensorClose fails unless got has dtype dt, the shape and values
// within tol of want (absolute, or relative to |want| when larger than 1).
// NaNs must match NaNs; infinities must be equal.
func checkTensorClose(t *testing.T, name string, got *ir.Tensor, dt ir.DType, shape []int64, want []float64, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil tensor", name)
	}
	if got.DType != dt || fmt.Sprint(got.Shape) != fmt.Sprint(shape) {
		t.Fatalf("%s: got %v%v, want %v%v", name, got.DType, got.Shape, dt, shape)
	}
	g := got.Float64s()
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(g), len(want))
	}
	bad := 0
	for i := range g {
		if !near(g[i], want[i], tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (tol %g)", name, i, g[i], want[i], tol)
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d values differ", name, bad)
	}
}

// near reports whether a is within tol of b (scaled by |b| when |b| > 1).
func near(a, b, tol float64) bool {
	switch {
	case math.IsNaN(b):
		return math.IsNaN(a)
	case math.IsInf(b, 0) || math.IsInf(a, 0):
		return a == b
	}
	return math.Abs(a-b) <= tol*max(1, math.Abs(b))
}

// checkInts fails unless got has dtype dt, the shape and exactly the
// integer values want.
func checkInts(t *testing.T, name string, got *ir.Tensor, dt ir.DType, shape []int64, want []int64) {
	t.Helper()
	if got.DType != dt || fmt.Sprint(got.Shape) != fmt.Sprint(shape) {
		t.Fatalf("%s: got %v%v, want %v%v", name, got.DType, got.Shape, dt, shape)
	}
	if g := got.Int64s(); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", name, g, want)
	}
}

package cpu

import (
	"math"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// elementwiseCases covers the binary, unary and Cast kernels.
func elementwiseCases() []kcase {
	none := ir.Attrs{}
	return []kcase{
		{name: "same shape", op: ir.OpAdd, attrs: none, args: []*opnd{f32s(2, 3, 4), f32s(2, 3, 4)}},
		{name: "row vector", op: ir.OpAdd, attrs: none, args: []*opnd{f32s(2, 3, 4), f32s(4)}},
		{name: "both broadcast", op: ir.OpAdd, attrs: none, args: []*opnd{f32s(2, 1, 4), f32s(3, 1)}},
		{name: "column", op: ir.OpAdd, attrs: none, args: []*opnd{f32s(3, 1), f32s(3, 5)}},
		{name: "scalar b", op: ir.OpSub, attrs: none, args: []*opnd{f32s(3, 4), f32s()}},
		{name: "scalar a", op: ir.OpSub, attrs: none, args: []*opnd{f32s(), f32s(3, 4)}},
		{name: "outer", op: ir.OpMul, attrs: none, args: []*opnd{f32s(4, 1), f32s(1, 5)}},
		{name: "middle", op: ir.OpMul, attrs: none, args: []*opnd{f32s(2, 3, 4), f32s(2, 1, 4)}},
		{name: "f32", op: ir.OpDiv, attrs: none, args: []*opnd{f32s(3, 4), f32s(3, 4).in(0.5, 2)}},
		{name: "f32 broadcast", op: ir.OpDiv, attrs: none, args: []*opnd{f32s(2, 3), f32s(2, 1).in(-2, -0.5)}},
		{name: "f32", op: ir.OpPow, attrs: none, args: []*opnd{f32s(2, 3).in(0.1, 3), f32s(3).in(-2, 2)}},
		{name: "negative base", op: ir.OpPow, attrs: none, args: []*opnd{f32s(4).in(-2, 2), f32s(4).ints(-3, 3)}},
		{name: "i64 broadcast", op: ir.OpAdd, attrs: none, args: []*opnd{i64s(-100, 100, 2, 3), i64s(-100, 100, 3)}},
		{name: "i64", op: ir.OpSub, attrs: none, args: []*opnd{i64s(-100, 100, 4), i64s(-100, 100, 2, 1)}},
		{name: "i64", op: ir.OpMul, attrs: none, args: []*opnd{i64s(-1000, 1000, 3, 4), i64s(-1000, 1000, 3, 4)}},
		{name: "i64 truncates", op: ir.OpDiv, attrs: none, args: []*opnd{i64s(-50, 50, 3, 4), (&opnd{dt: ir.I64, shape: []int64{4}}).nonzero(-7, 7)}},
		{name: "i32 wraps", op: ir.OpAdd, attrs: none, args: []*opnd{
			(&opnd{dt: ir.I32, shape: []int64{6}}).ints(1<<30, 1<<31-1), (&opnd{dt: ir.I32, shape: []int64{6}}).ints(1<<30, 1<<31-1)}},
		{name: "i8 wraps", op: ir.OpMul, attrs: none, args: []*opnd{
			(&opnd{dt: ir.I8, shape: []int64{6}}).ints(-128, 127), (&opnd{dt: ir.I8, shape: []int64{6}}).ints(-128, 127)}},

		{name: "f32", op: ir.OpNeg, attrs: none, args: []*opnd{f32s(3, 4)}, exact: true},
		{name: "i64", op: ir.OpNeg, attrs: none, args: []*opnd{i64s(-9, 9, 5)}},
		{name: "f32", op: ir.OpExp, attrs: none, args: []*opnd{f32s(3, 4).in(-20, 20)}},
		{name: "f32", op: ir.OpLog, attrs: none, args: []*opnd{f32s(3, 4).in(0.001, 100)}},
		{name: "f32", op: ir.OpSqrt, attrs: none, args: []*opnd{f32s(3, 4).in(0, 100)}},
		{name: "f32", op: ir.OpRsqrt, attrs: none, args: []*opnd{f32s(3, 4).in(0.001, 100)}},
		{name: "f32", op: ir.OpSigmoid, attrs: none, args: []*opnd{f32s(3, 4).in(-20, 20)}},
		{name: "f32", op: ir.OpSiLU, attrs: none, args: []*opnd{f32s(3, 4).in(-20, 20)}},
		{name: "f32", op: ir.OpSoftplus, attrs: none, args: []*opnd{f32s(4, 8).in(-40, 40)}},
		{name: "f32", op: ir.OpTanh, attrs: none, args: []*opnd{f32s(3, 4).in(-5, 5)}},
		{name: "f32", op: ir.OpRelu, attrs: none, args: []*opnd{f32s(3, 4)}, exact: true},
		{name: "i64", op: ir.OpRelu, attrs: none, args: []*opnd{i64s(-9, 9, 7)}},

		{name: "f32 to i64 truncates", op: ir.OpCast, attrs: ir.Attrs{"to": ir.I64}, args: []*opnd{f32s(4, 5).in(-100, 100)}},
		{name: "f32 to i32 saturates", op: ir.OpCast, attrs: ir.Attrs{"to": ir.I32}, args: []*opnd{f32s(12).in(-5e9, 5e9)}},
		{name: "f32 to bool", op: ir.OpCast, attrs: ir.Attrs{"to": ir.Bool}, args: []*opnd{f32s(9).withZeros()}},
		{name: "i64 to f32", op: ir.OpCast, attrs: ir.Attrs{"to": ir.F32}, args: []*opnd{i64s(-1<<40, 1<<40, 8)}, exact: true},
		{name: "i64 to bf16", op: ir.OpCast, attrs: ir.Attrs{"to": ir.BF16}, args: []*opnd{i64s(-5000, 5000, 8)}, exact: true},
		{name: "i64 to i8 wraps", op: ir.OpCast, attrs: ir.Attrs{"to": ir.I8}, args: []*opnd{i64s(-1000, 1000, 8)}},
		{name: "i64 to bool", op: ir.OpCast, attrs: ir.Attrs{"to": ir.Bool}, args: []*opnd{i64s(-1, 1, 9)}},
		{name: "f32 to bf16", op: ir.OpCast, attrs: ir.Attrs{"to": ir.BF16}, args: []*opnd{f32s(16).in(-1e3, 1e3)}, exact: true},
		{name: "f32 to f16", op: ir.OpCast, attrs: ir.Attrs{"to": ir.F16}, args: []*opnd{f32s(16).in(-1e5, 1e5)}, exact: true},
		{name: "f32 to f16 subnormal", op: ir.OpCast, attrs: ir.Attrs{"to": ir.F16}, args: []*opnd{f32s(16).in(-1e-6, 1e-6)}, exact: true},
		{name: "f32 to f64", op: ir.OpCast, attrs: ir.Attrs{"to": ir.F64}, args: []*opnd{f32s(5)}, exact: true},
	}
}

// TestExp32 checks the fast float32 exponential (and its inlined slice
// form) against math.Exp over its fast range, and at and beyond its ends.
func TestExp32(t *testing.T) {
	worst := 0.0
	var xs []float32
	for i := 0; i <= 200000; i++ {
		xs = append(xs, float32(expMin+(expMax-expMin)*float64(i)/200000))
	}
	ys := append([]float32(nil), xs...)
	expInPlace(ys)
	for i, x := range xs {
		want := math.Exp(float64(x))
		got := float64(exp32(x))
		if float64(ys[i]) != got {
			t.Fatalf("expInPlace(%v) = %v, exp32 gives %v", x, ys[i], got)
		}
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 3e-7 {
		t.Errorf("exp32: worst relative error %.3g over [%v, %v], want ≤ 3e-7", worst, expMin, expMax)
	}
	for _, x := range []float32{0, -100, -87.34, -1e-30, 1e-30, 88.72, 88.8, 100,
		float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())} {
		want := float32(math.Exp(float64(x)))
		got := exp32(x)
		y := []float32{x}
		expInPlace(y)
		ok := math.Abs(float64(got-want)) <= 3e-7*float64(want) || got == want || (got != got && want != want)
		if !ok || (y[0] != got && got == got) {
			t.Errorf("exp32(%v) = %v, expInPlace %v, want %v", x, got, y[0], want)
		}
	}
}

// TestSoftplus32 checks the float32 softplus of the scans against the
// float64 formula of the reference.
func TestSoftplus32(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 100000; i++ {
		x := float32(-80 + 120*float64(i)/100000)
		want := softplus64(float64(x))
		got := float64(softplus32(x))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 1e-6 {
		t.Errorf("softplus32: worst relative error %.3g over [-80, 40], want ≤ 1e-6", worst)
	}
	if got := softplus32(float32(math.NaN())); got == got {
		t.Errorf("softplus32(NaN) = %v", got)
	}
	if got := softplus32(float32(math.Inf(1))); !math.IsInf(float64(got), 1) {
		t.Errorf("softplus32(+Inf) = %v", got)
	}
	if got := softplus32(-200); got != 0 {
		t.Errorf("softplus32(-200) = %v, want 0", got)
	}
}

// TestElementwiseInPlace checks that elementwise kernels may write their
// result over an operand of the same shape (the executor plans that).
func TestElementwiseInPlace(t *testing.T) {
	for _, c := range []kcase{
		{name: "add a", op: ir.OpAdd, attrs: ir.Attrs{}, args: []*opnd{f32s(2, 3, 4), f32s(4)}},
		{name: "mul b", op: ir.OpMul, attrs: ir.Attrs{}, args: []*opnd{f32s(3, 1), f32s(3, 5)}},
		{name: "sub i64", op: ir.OpSub, attrs: ir.Attrs{}, args: []*opnd{i64s(-9, 9, 2, 3), i64s(-9, 9, 2, 3)}},
		{name: "silu", op: ir.OpSiLU, attrs: ir.Attrs{}, args: []*opnd{f32s(7).in(-5, 5)}},
		{name: "cast bf16", op: ir.OpCast, attrs: ir.Attrs{"to": ir.BF16}, args: []*opnd{f32s(7)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := c.build(t)
			// Alias the result with the operand of its shape (a copy, so the
			// reference operands stay intact).
			k := 0
			if !sameShape(b.in[0].Shape, b.out[0].Shape) {
				k = 1
			}
			x := *b.in[k]
			x.F32, x.I64 = append([]float32(nil), x.F32...), append([]int64(nil), x.I64...)
			b.in[k], b.out[0] = &x, &x
			if err := b.run(new(Scratch)); err != nil {
				t.Fatal(err)
			}
			b.check(t, false)
		})
	}
}

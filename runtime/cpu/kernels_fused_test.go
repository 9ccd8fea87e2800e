package cpu

import (
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// fusedCases covers AddRMSNorm (ranks 1 to 3, odd widths) and
// FusedElementwise (every function, numbers, operands used twice,
// broadcasting of leading, middle and trailing dims, scalars, blocks
// longer than feBlock, a symbolic shape).
func fusedCases() []kcase {
	fe := func(expr string) ir.Attrs { return ir.Attrs{"expr": expr} }
	return []kcase{
		{name: "3-d", op: ir.OpAddRMSNorm, attrs: ir.Attrs{"eps": 1e-5}, args: []*opnd{f32s(2, 3, 16), f32s(2, 3, 16), f32s(16)}},
		{name: "odd width", op: ir.OpAddRMSNorm, attrs: ir.Attrs{"eps": 1e-6}, args: []*opnd{f32s(5, 33).in(-10, 10), f32s(5, 33), f32s(33)}},
		{name: "rank 1", op: ir.OpAddRMSNorm, attrs: ir.Attrs{"eps": 0.5}, args: []*opnd{f32s(7).in(-0.1, 0.1), f32s(7).in(-0.1, 0.1), f32s(7)}},

		{name: "silu gate", op: ir.OpFusedElementwise, attrs: fe("mul(silu(%0), sigmoid(%1))"), args: []*opnd{f32s(3, 5), f32s(3, 5)}},
		{name: "bias softplus", op: ir.OpFusedElementwise, attrs: fe("softplus(add(%0, %1))"), args: []*opnd{f32s(2, 3, 40).in(-30, 30), f32s(40)}},
		{name: "outer broadcast", op: ir.OpFusedElementwise, attrs: fe("div(exp(%0), add(%1, 1.5))"), args: []*opnd{f32s(7, 1), f32s(1, 9)}},
		{name: "middle broadcast", op: ir.OpFusedElementwise, attrs: fe("sub(mul(%0, %1), %2)"), args: []*opnd{f32s(3, 4, 5), f32s(3, 1, 5), f32s()}},
		{name: "every function", op: ir.OpFusedElementwise,
			attrs: fe("add(pow(relu(%0), 2), sub(tanh(neg(%0)), mul(rsqrt(add(sqrt(exp(%0)), 1)), log(add(%0, 3)))))"),
			args:  []*opnd{f32s(6, 11)}},
		{name: "operand twice", op: ir.OpFusedElementwise, attrs: fe("mul(%0, add(%0, %1))"), args: []*opnd{f32s(300), f32s(300)}},
		{name: "long blocks", op: ir.OpFusedElementwise, attrs: fe("add(mul(%1, %0), %2)"), args: []*opnd{f32s(5, 131), f32s(131), f32s(5, 1)}},
		{name: "symbolic", op: ir.OpFusedElementwise, attrs: fe("silu(%0)"), args: []*opnd{f32s(2, 3).sym(ir.SymDim("B"), ir.StaticDim(3))}},
		{name: "empty", op: ir.OpFusedElementwise, attrs: fe("exp(%0)"), args: []*opnd{f32s(0, 3)}},
	}
}

// TestFusedKernelErrors checks that operands that do not fit the value
// are errors naming it, not panics.
func TestFusedKernelErrors(t *testing.T) {
	f := ir.NewFunc("t")
	x := f.NewArg("x", ir.TensorType(ir.F32, ir.Static(2, 3)))
	b := f.NewArg("b", ir.TensorType(ir.F32, ir.Static(3)))
	v, err := f.Append(ir.OpFusedElementwise, ir.Attrs{"expr": "add(%0, %1)"}, x, b)
	if err != nil {
		t.Fatal(err)
	}
	ten := func(shape ...int) *Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return &Tensor{DType: ir.F32, Shape: shape, F32: make([]float32, n)}
	}
	var s Scratch
	for _, tc := range []struct {
		name    string
		in, out []*Tensor
	}{
		{"operand does not broadcast", []*Tensor{ten(2, 3), ten(4)}, []*Tensor{ten(2, 3)}},
		{"operand larger than result", []*Tensor{ten(2, 3), ten(2, 2, 3)}, []*Tensor{ten(2, 3)}},
		{"operand missing", []*Tensor{ten(2, 3)}, []*Tensor{ten(2, 3)}},
		{"result missing", []*Tensor{ten(2, 3), ten(3)}, nil},
	} {
		if err := fusedElementwiseKernel(&s, v, tc.in, tc.out); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	w := f.NewArg("w", ir.TensorType(ir.F32, ir.Static(3)))
	n, err := f.Append(ir.OpAddRMSNorm, ir.Attrs{"eps": 1e-5}, x, x, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := addRMSNormKernel(&s, n, []*Tensor{ten(2, 3), ten(3, 2), ten(3)}, []*Tensor{ten(2, 3), ten(2, 3)}); err == nil {
		t.Errorf("AddRMSNorm with a residual of another shape: no error")
	}
	if err := addRMSNormKernel(&s, n, []*Tensor{ten(2, 3), ten(2, 3), ten(2)}, []*Tensor{ten(2, 3), ten(2, 3)}); err == nil {
		t.Errorf("AddRMSNorm with a short weight: no error")
	}
}

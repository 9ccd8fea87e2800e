package cuda

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// opForms are the C forms of the elementwise ops in f32; %[1]s and %[2]s
// stand for the operands.
var opForms = map[ir.Op]string{
	ir.OpNeg:      "-%[1]s",
	ir.OpExp:      "expf(%[1]s)",
	ir.OpLog:      "logf(%[1]s)",
	ir.OpSqrt:     "sqrtf(%[1]s)",
	ir.OpRsqrt:    "rsqrtf(%[1]s)",
	ir.OpSigmoid:  "sigmoid(%[1]s)",
	ir.OpSiLU:     "silu(%[1]s)",
	ir.OpSoftplus: "softplus(%[1]s)",
	ir.OpTanh:     "tanhf(%[1]s)",
	ir.OpRelu:     "fmaxf(%[1]s, 0.0f)",
	ir.OpCast:     "%[1]s",
	ir.OpAdd:      "(%[1]s + %[2]s)",
	ir.OpSub:      "(%[1]s - %[2]s)",
	ir.OpMul:      "(%[1]s * %[2]s)",
	ir.OpDiv:      "(%[1]s / %[2]s)",
	ir.OpPow:      "powf(%[1]s, %[2]s)",
}

func init() {
	for op := range opForms {
		register(op, genElementwise)
	}
	register(ir.OpFusedElementwise, genElementwise)
}

// operandNames are the f32 locals the operands of an elementwise kernel
// are read into (FusedElementwise has at most ir.MaxExprInputs operands).
const operandNames = "abcdefghijklmnop"

// applyOp renders op applied to the C expressions args.
func applyOp(op ir.Op, args ...string) string {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	return fmt.Sprintf(opForms[op], vals...)
}

// exprC renders a FusedElementwise expression over the operand locals.
// Each call's result is rounded to dt, as the unfused ops round it, and
// numbers are rounded to dt.
func exprC(e *ir.Expr, dt ir.DType) string {
	switch e.Op {
	case ir.OpArg:
		return operandNames[e.Input : e.Input+1]
	case ir.OpConst:
		return f32Literal(roundTo(dt, e.Value))
	}
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = exprC(a, dt)
	}
	return roundC(dt, applyOp(e.Op, args...))
}

// roundTo rounds x to the nearest value of dt.
func roundTo(dt ir.DType, x float64) float64 {
	return ir.TensorFromFloat64s(dt, []int64{}, []float64{x}).Float64s()[0]
}

// roundC wraps the f32 expression c in a rounding to dt when dt is
// narrower than f32.
func roundC(dt ir.DType, c string) string {
	switch dt {
	case ir.BF16:
		return "round_bf16(" + c + ")"
	case ir.F16:
		return "round_f16(" + c + ")"
	}
	return c
}

// genElementwise emits a unary or binary elementwise op, a Cast between
// float types, or a FusedElementwise chain as a pointwise kernel that
// computes in f32:
//
//	y[i] = f(a[bcast_a(i)], b[bcast_b(i)], ...)
//
// with the operands broadcast to y's shape (NumPy rules). A fused chain
// rounds every intermediate result to y's dtype, as the unfused ops do.
func genElementwise(fg *funcGen, v *ir.Value) error {
	out := v.Type
	if !out.DType.IsFloat() {
		return fmt.Errorf("%s on %v: the CUDA target computes elementwise ops on float types only", v.Op, out.DType)
	}
	k := newKernel("elementwise", v.Op.String())
	k.out("y", out.DType, fg.result(v, 0), layout(out))
	pw := &pointwise{dims: dimsOf(out.Shape), out: dense(out.Shape)}
	var formula string
	switch v.Op {
	case ir.OpFusedElementwise:
		src := v.Attrs.String("expr", "")
		e, err := ir.ParseExpr(src, len(v.Args))
		if err != nil {
			return err
		}
		pw.expr = exprC(e, out.DType)
		formula = "the expression " + src + " with %i the i-th operand"
	default:
		args := make([]string, len(v.Args))
		for i := range args {
			args[i] = operandNames[i : i+1]
		}
		pw.expr = applyOp(v.Op, args...)
		formula = pw.expr
	}
	for i, a := range v.Args {
		if !a.Type.DType.IsFloat() {
			return fmt.Errorf("%s of %v: the CUDA target computes elementwise ops on float types only", v.Op, a.Type.DType)
		}
		k.in(fmt.Sprintf("x%d", i), a.Type.DType, fg.operand(v, i), layout(a.Type)+", read into "+operandNames[i:i+1])
		pw.ins = append(pw.ins, broadcastView(a.Type.Shape, out.Shape))
	}
	k.doc = []string{
		fmt.Sprintf("%s: y = %s, elementwise over %s (operands broadcast).", v.Op, formula, shapeText(out.Shape)),
		"One thread per element of y; f32 arithmetic" + roundingNote(v.Op, out.DType) + ".",
	}
	pw.emit(k)
	fg.launch(k, v)
	return nil
}

// roundingNote says how an elementwise kernel rounds.
func roundingNote(op ir.Op, dt ir.DType) string {
	if op == ir.OpFusedElementwise && (dt == ir.BF16 || dt == ir.F16) {
		return ", every intermediate result rounded to " + dt.String()
	}
	return ", rounded once to y's type"
}

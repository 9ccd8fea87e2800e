package ir

import (
	"fmt"
	"math"
)

// The fused ops of the fusion passes that are not state-space ops (those
// are in ops_ssm.go).
//
// AddRMSNorm(x, residual, weight) {eps} -> (sum, normed) is the residual
// add of a pre-norm block followed by the RMSNorm of the next block, with
// the residual stream kept in f32:
//
//	sum[...]       = f32(x[...] + residual[...])                       f32, x's shape
//	normed[..., i] = sum[..., i] / sqrt(mean_j(sum[..., j]²) + eps) · weight[i]   x's dtype
//
// x is a float tensor of rank ≥ 1; residual has x's shape (no
// broadcasting) and x's dtype or f32; weight is a float vector of the size
// of x's last dim. normed normalizes the f32 sum, accumulating in at least
// f32.
//
// FusedElementwise(x0, xs...) {expr} -> y applies an expression of
// elementwise ops to its operands, which broadcast (NumPy rules) to the
// result shape and all have one float dtype, the result's. The expression
// language (ParseExpr) is
//
//	expr   = input | number | call
//	input  = "%" index                 operand index, 0-based, no leading zeros
//	number = a finite decimal float     e.g. 2, -0.5, 1e-05
//	call   = name "(" expr { "," expr } ")"
//	name   = neg | exp | log | sqrt | rsqrt | sigmoid | silu | softplus | tanh | relu   (one argument)
//	       | add | sub | mul | div | pow                                               (two arguments)
//
// with optional spaces around tokens, for example
// "mul(silu(%0), add(%1, 1))". Each name is the op of the same name
// (Neg, Exp, …, Pow) with that op's formula; every call's result is
// rounded to the dtype, exactly as the unfused chain of ops rounds, and a
// number is rounded to the dtype where it is used. Every operand must be
// used; an expression has at most MaxExprLen bytes, MaxExprNodes calls
// and numbers and inputs together, nesting depth MaxExprDepth, and the op
// at most MaxExprInputs operands.

// defineFusedOps fills the op table entries of this file.
func defineFusedOps() {
	builtinOps[OpAddRMSNorm] = &OpInfo{Name: "AddRMSNorm", Flags: Fused, Infer: inferAddRMSNorm,
		Args:  []ArgSpec{{Name: "x"}, {Name: "residual"}, {Name: "weight"}},
		Attrs: []AttrSpec{{Name: "eps", Kind: AttrFloat, Required: true}},
		Formula: "sum = f32(x + residual); normed[..., i] = sum[..., i] / sqrt(mean_j(sum[..., j]^2) + eps) * weight[i] " +
			"-> (sum, normed in x's dtype)"}
	builtinOps[OpFusedElementwise] = &OpInfo{Name: "FusedElementwise", Flags: Elementwise | Fused,
		Infer: inferFusedElementwise,
		Args:  []ArgSpec{{Name: "x0"}, {Name: "xs", Variadic: true}},
		Attrs: []AttrSpec{{Name: "expr", Kind: AttrString, Required: true}},
		Formula: "y[i] = expr(x0[bcast(i)], x1[bcast(i)], ...): a tree of elementwise ops on the operands (%0, %1, ...) " +
			"and numbers, each op's result rounded to the dtype"}
}

func inferAddRMSNorm(v *Value) (Type, error) {
	x, r, w := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	if !x.DType.IsFloat() || !w.DType.IsFloat() {
		return Type{}, fmt.Errorf("AddRMSNorm: x is %v, weight %v; want float types", x.DType, w.DType)
	}
	if r.DType != x.DType && r.DType != F32 {
		return Type{}, fmt.Errorf("AddRMSNorm: residual is %v, want %v or f32", r.DType, x.DType)
	}
	if !r.Shape.Equal(x.Shape) {
		return Type{}, fmt.Errorf("AddRMSNorm: residual %v and x %v differ in shape", r.Shape, x.Shape)
	}
	if x.Shape.Rank() == 0 || w.Shape.Rank() != 1 || w.Shape[0] != x.Shape[x.Shape.Rank()-1] {
		return Type{}, fmt.Errorf("AddRMSNorm: weight %v does not match the last dim of x %v", w.Shape, x.Shape)
	}
	if eps := v.FloatAttr("eps"); eps < 0 || math.IsNaN(eps) || math.IsInf(eps, 0) {
		return Type{}, fmt.Errorf("AddRMSNorm: eps is %v, want a finite value ≥ 0", eps)
	}
	return TupleType(TensorType(F32, x.Shape), x), nil
}

func inferFusedElementwise(v *Value) (Type, error) {
	if len(v.Args) > MaxExprInputs {
		return Type{}, fmt.Errorf("FusedElementwise: %d operands, at most %d", len(v.Args), MaxExprInputs)
	}
	dt := v.Args[0].Type.DType
	if !dt.IsFloat() {
		return Type{}, fmt.Errorf("FusedElementwise: operands are %v, want a float type", dt)
	}
	shape := v.Args[0].Type.Shape
	for i, a := range v.Args[1:] {
		if a.Type.DType != dt {
			return Type{}, fmt.Errorf("FusedElementwise: operand %d is %v, operand 0 %v", i+1, a.Type.DType, dt)
		}
		s, err := Broadcast(shape, a.Type.Shape)
		if err != nil {
			return Type{}, fmt.Errorf("FusedElementwise: operand %d: %v", i+1, err)
		}
		shape = s
	}
	if _, err := ParseExpr(v.Attrs.String("expr", ""), len(v.Args)); err != nil {
		return Type{}, fmt.Errorf("FusedElementwise: expr: %v", err)
	}
	return TensorType(dt, shape), nil
}

package passes

import (
	"math"
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// Rules is the canonicalization rule table. Each rule's Doc gives its
// pattern and result; c stands for a constant whose elements are all equal.
var Rules = []Rule{
	{Name: "add-zero", Op: ir.OpAdd, Doc: "x + 0 => x",
		Match: func(v *ir.Value) bool { return splatIs(v.Args[1], 0) || splatIs(v.Args[0], 0) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			return other(v, 0)
		}},
	{Name: "sub-zero", Op: ir.OpSub, Doc: "x - 0 => x",
		Match:   func(v *ir.Value) bool { return splatIs(v.Args[1], 0) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "mul-one", Op: ir.OpMul, Doc: "x * 1 => x",
		Match:   func(v *ir.Value) bool { return splatIs(v.Args[1], 1) || splatIs(v.Args[0], 1) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return other(v, 1) }},
	{Name: "div-one", Op: ir.OpDiv, Doc: "x / 1 => x",
		Match:   func(v *ir.Value) bool { return splatIs(v.Args[1], 1) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "const-right", Op: ir.OpAdd, Doc: "c + x => x + c (constants on the right of commutative ops)",
		Match:   constLeft,
		Rewrite: swapArgs},
	{Name: "const-right-mul", Op: ir.OpMul, Doc: "c * x => x * c",
		Match:   constLeft,
		Rewrite: swapArgs},
	{Name: "neg-neg", Op: ir.OpNeg, Doc: "-(-x) => x",
		Match:   func(v *ir.Value) bool { return v.Args[0].Op == ir.OpNeg },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0].Args[0] }},
	{Name: "sub-neg", Op: ir.OpSub, Doc: "x - (-y) => x + y",
		Match: func(v *ir.Value) bool { return v.Args[1].Op == ir.OpNeg },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			return r.Op(ir.OpAdd, nil, v.Args[0], v.Args[1].Args[0])
		}},
	{Name: "cast-same", Op: ir.OpCast, Doc: "cast<T>(x: T) => x",
		Match:   func(v *ir.Value) bool { return v.Args[0].Type.DType == v.Attrs.DType("to") },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "cast-widen-narrow", Op: ir.OpCast, Doc: "cast<T>(cast<W>(x: T)) => x when W holds every T exactly",
		Match: func(v *ir.Value) bool {
			in := v.Args[0]
			return in.Op == ir.OpCast && in.Args[0].Type.DType == v.Attrs.DType("to") &&
				widens(in.Args[0].Type.DType, in.Attrs.DType("to"))
		},
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0].Args[0] }},
	{Name: "reshape-same", Op: ir.OpReshape, Doc: "reshape(x) to x's own shape => x",
		Match:   func(v *ir.Value) bool { return v.Args[0].Type.Shape.Equal(v.Type.Shape) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "reshape-reshape", Op: ir.OpReshape, Doc: "reshape(reshape(x)) => reshape(x)",
		Match: func(v *ir.Value) bool { return v.Args[0].Op == ir.OpReshape },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			return r.Op(ir.OpReshape, v.Attrs.Clone(), v.Args[0].Args[0])
		}},
	{Name: "transpose-identity", Op: ir.OpTranspose, Doc: "transpose(x, identity) => x",
		Match: func(v *ir.Value) bool {
			for i, p := range v.Attrs.Ints("perm") {
				if int64(i) != p {
					return false
				}
			}
			return true
		},
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "transpose-transpose", Op: ir.OpTranspose, Doc: "transpose(transpose(x, p), q) => transpose(x, p∘q)",
		Match: func(v *ir.Value) bool { return v.Args[0].Op == ir.OpTranspose },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			p, q := v.Args[0].Attrs.Ints("perm"), v.Attrs.Ints("perm")
			perm := make([]int64, len(q))
			for i := range q {
				perm[i] = p[q[i]]
			}
			return r.Op(ir.OpTranspose, ir.Attrs{"perm": perm}, v.Args[0].Args[0])
		}},
	{Name: "expand-same", Op: ir.OpExpand, Doc: "expand(x) to x's own shape => x",
		Match:   func(v *ir.Value) bool { return v.Args[0].Type.Shape.Equal(v.Type.Shape) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "slice-full", Op: ir.OpSlice, Doc: "slice covering all of x => x",
		Match:   func(v *ir.Value) bool { return v.Args[0].Type.Shape.Equal(v.Type.Shape) && stepsOne(v) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "concat-one", Op: ir.OpConcat, Doc: "concat(x) => x",
		Match:   func(v *ir.Value) bool { return len(v.Args) == 1 },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return v.Args[0] }},
	{Name: "silu", Op: ir.OpMul, Doc: "x * sigmoid(x) => silu(x)",
		Match: func(v *ir.Value) bool { return siluArg(v) != nil },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			return r.Op(ir.OpSiLU, nil, siluArg(v))
		}},
	{Name: "softplus", Op: ir.OpLog, Doc: "log(exp(x) + 1) => softplus(x)",
		Match: func(v *ir.Value) bool {
			a := v.Args[0]
			return a.Op == ir.OpAdd && a.Args[0].Op == ir.OpExp && splatIs(a.Args[1], 1)
		},
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			return r.Op(ir.OpSoftplus, nil, v.Args[0].Args[0].Args[0])
		}},
	{Name: "div-sqrt", Op: ir.OpDiv, Doc: "x / sqrt(y) => x * rsqrt(y)",
		Match: func(v *ir.Value) bool { return v.Args[1].Op == ir.OpSqrt },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value {
			rs := r.Op(ir.OpRsqrt, nil, v.Args[1].Args[0])
			return r.Op(ir.OpMul, nil, v.Args[0], rs)
		}},
	{Name: "pow-two", Op: ir.OpPow, Doc: "x ** 2 => x * x",
		Match:   func(v *ir.Value) bool { return splatIs(v.Args[1], 2) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return r.Op(ir.OpMul, nil, v.Args[0], v.Args[0]) }},
	{Name: "pow-half", Op: ir.OpPow, Doc: "x ** 0.5 => sqrt(x)",
		Match:   func(v *ir.Value) bool { return splatIs(v.Args[1], 0.5) },
		Rewrite: func(r *Rewriter, v *ir.Value) *ir.Value { return r.Op(ir.OpSqrt, nil, v.Args[0]) }},
}

// splat returns the common value of a constant whose elements are all
// equal.
func splat(v *ir.Value) (float64, bool) {
	if v == nil || v.Op != ir.OpConst {
		return 0, false
	}
	t := v.Attrs.Tensor("value")
	n := int(t.NumElements())
	if n == 0 {
		return 0, false
	}
	x := t.At(0)
	for i := 1; i < n; i++ {
		if t.At(i) != x {
			return 0, false
		}
	}
	return x, true
}

func splatIs(v *ir.Value, want float64) bool {
	x, ok := splat(v)
	return ok && x == want && !math.IsNaN(x)
}

// other returns the operand of binary v that is not the constant c on side
// i (for x op c and c op x).
func other(v *ir.Value, c float64) *ir.Value {
	if splatIs(v.Args[1], c) {
		return v.Args[0]
	}
	return v.Args[1]
}

func constLeft(v *ir.Value) bool {
	return v.Args[0].Op == ir.OpConst && v.Args[1].Op != ir.OpConst
}

func swapArgs(r *Rewriter, v *ir.Value) *ir.Value {
	return r.Op(v.Op, v.Attrs.Clone(), v.Args[1], v.Args[0])
}

// siluArg returns x when v is x*sigmoid(x) or sigmoid(x)*x.
func siluArg(v *ir.Value) *ir.Value {
	a, b := v.Args[0], v.Args[1]
	if b.Op == ir.OpSigmoid && b.Args[0] == a {
		return a
	}
	if a.Op == ir.OpSigmoid && a.Args[0] == b {
		return b
	}
	return nil
}

// widens reports whether every value of dtype from is exactly a value of
// dtype to.
func widens(from, to ir.DType) bool {
	exact := map[ir.DType][]ir.DType{
		ir.F16:  {ir.F32, ir.F64},
		ir.BF16: {ir.F32, ir.F64},
		ir.F32:  {ir.F64},
		ir.I8:   {ir.I32, ir.I64, ir.F16, ir.BF16, ir.F32, ir.F64},
		ir.I32:  {ir.I64, ir.F64},
		ir.Bool: {ir.I8, ir.I32, ir.I64},
	}
	return slices.Contains(exact[from], to)
}

func stepsOne(v *ir.Value) bool {
	for _, s := range v.Attrs.Ints("steps") {
		if s != 1 {
			return false
		}
	}
	return true
}

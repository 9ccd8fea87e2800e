package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	for op, irOp := range map[string]ir.Op{"Add": ir.OpAdd, "Sub": ir.OpSub, "Mul": ir.OpMul, "Div": ir.OpDiv} {
		register(7, convArith(irOp), op)
	}
	register(7, convPow, "Pow")
	for op, irOp := range map[string]ir.Op{"Neg": ir.OpNeg, "Exp": ir.OpExp, "Log": ir.OpLog, "Sqrt": ir.OpSqrt,
		"Sigmoid": ir.OpSigmoid, "Softplus": ir.OpSoftplus, "Tanh": ir.OpTanh, "Relu": ir.OpRelu} {
		register(7, convUnary(irOp), op)
	}
	register(9, convUnary(ir.OpErf), "Erf")
	register(7, func(n *node) []*val { x := n.need(0); return []*val{n.op(ir.OpDiv, nil, n.like(x, 1), x)} }, "Reciprocal")
	register(7, func(n *node) []*val { return []*val{n.abs(n.need(0))} }, "Abs")
	register(9, convSign, "Sign")
	register(7, convMinMax("gt"), "Max")
	register(7, convMinMax("lt"), "Min")
	register(7, convSumMean(false), "Sum")
	register(7, convSumMean(true), "Mean")
	register(7, convClip, "Clip")
	register(7, convActivation, "LeakyRelu", "Elu", "Selu", "ThresholdedRelu", "HardSigmoid", "Softsign", "Celu", "HardSwish", "Mish", "Gelu")
	register(7, convPRelu, "PRelu")
	for op, cmp := range map[string]string{"Equal": "eq", "Less": "lt", "Greater": "gt"} {
		register(7, convCompare(cmp), op)
	}
	register(12, convCompare("le"), "LessOrEqual")
	register(12, convCompare("ge"), "GreaterOrEqual")
	register(7, convLogic, "And", "Or", "Xor")
	register(7, func(n *node) []*val { x := n.need(0); return []*val{n.cmp(x, n.like(x, 0), "eq")} }, "Not")
	register(9, func(n *node) []*val { x := n.need(0); return []*val{n.cmp(x, x, "ne")} }, "IsNaN")
	register(10, convIsInf, "IsInf")
	register(9, convWhere, "Where")
	register(7, convCast, "Cast")
	register(15, convCastLike, "CastLike")
}

// like returns a scalar constant of x's dtype.
func (n *node) like(x *val, v float64) *val { return scalar(x.dtype(), v) }

// cmp emits Compare(a, b){cmp}.
func (n *node) cmp(a, b *val, cmp string) *val {
	return n.op(ir.OpCompare, ir.Attrs{"cmp": cmp}, a, b)
}

// where emits Where(c, a, b).
func (n *node) where(c, a, b *val) *val { return n.op(ir.OpWhere, nil, c, a, b) }

// abs is Where(x < 0, -x, x).
func (n *node) abs(x *val) *val {
	return n.where(n.cmp(x, n.like(x, 0), "lt"), n.op(ir.OpNeg, nil, x), x)
}

// floatIn returns input i, failing unless it is a float tensor.
func (n *node) floatIn(i int) *val {
	x := n.need(i)
	if n.ok() && !x.dtype().IsFloat() {
		n.unsupported("%v operands", x.dtype())
	}
	return x
}

func convUnary(op ir.Op) converter {
	return func(n *node) []*val { return []*val{n.op(op, nil, n.need(0))} }
}

// convArith converts Add, Sub, Mul and Div; on shape values (integer
// vectors of dims) it computes with the dims.
func convArith(op ir.Op) converter {
	return func(n *node) []*val {
		a, b := n.need(0), n.need(1)
		if r := n.symArith(op, a, b); r != nil {
			return []*val{r}
		}
		if a.dtype() != b.dtype() && n.ok() {
			n.failf("operand dtypes differ: %v and %v", a.dtype(), b.dtype())
		}
		return []*val{n.op(op, nil, a, b)}
	}
}

// symArith computes elementwise arithmetic on dims when an operand holds
// symbolic dims; nil when it does not apply.
func (n *node) symArith(op ir.Op, a, b *val) *val {
	if a.dims == nil && b.dims == nil {
		return nil
	}
	da, ok1 := a.symDims()
	db, ok2 := b.symDims()
	if !ok1 || !ok2 {
		return nil
	}
	m := max(len(da), len(db))
	if len(da) != m && len(da) != 1 || len(db) != m && len(db) != 1 {
		return nil
	}
	out := make([]ir.Dim, m)
	for i := range out {
		x, y := da[min(i, len(da)-1)], db[min(i, len(db)-1)]
		var ok bool
		switch op {
		case ir.OpAdd:
			out[i], ok = ir.AddDims(x, y)
		case ir.OpSub:
			out[i], ok = ir.SubDims(x, y)
		case ir.OpMul:
			out[i], ok = ir.MulDims(x, y)
		case ir.OpDiv:
			out[i], ok = divDims(x, y)
		}
		if !ok {
			n.unsupported("shape arithmetic %v %v %v", x, op, y)
			return placeholder()
		}
	}
	return dimsVal(a.dtype(), out, a.rank() == 0 && b.rank() == 0)
}

// divDims returns a/b when it is exact: static operands dividing evenly,
// equal dims, or a symbolic monomial divided by a static factor or by one
// of its symbols.
func divDims(a, b ir.Dim) (ir.Dim, bool) {
	switch {
	case a == b && b != ir.StaticDim(0):
		return ir.StaticDim(1), true
	case b.IsStatic() && b.Off != 0:
		if a.IsStatic() {
			if a.Off%b.Off != 0 {
				return ir.Dim{}, false
			}
			return ir.StaticDim(a.Off / b.Off), true
		}
		if a.K%b.Off == 0 && a.Off%b.Off == 0 {
			return ir.Dim{K: a.K / b.Off, S: a.S, Off: a.Off / b.Off}, true
		}
	case !b.IsStatic() && b.Off == 0 && a.Off == 0 && !a.IsStatic() && a.K%b.K == 0:
		rest, ok := removeFactors(a.S, b.S)
		if !ok {
			return ir.Dim{}, false
		}
		if rest == "" {
			return ir.StaticDim(a.K / b.K), true
		}
		return ir.Dim{K: a.K / b.K, S: rest}, true
	}
	return ir.Dim{}, false
}

// removeFactors removes the symbols of product sub from product s.
func removeFactors(s, sub string) (string, bool) {
	have := splitSym(s)
	for _, f := range splitSym(sub) {
		found := false
		for i, h := range have {
			if h == f {
				have = append(have[:i], have[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	out := ""
	for i, h := range have {
		if i > 0 {
			out += "*"
		}
		out += h
	}
	return out, true
}

func splitSym(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '*' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// convPow: the exponent is cast to the base's type; integer bases are
// raised in f64 (exact below 2^53) and converted back.
func convPow(n *node) []*val {
	x, y := n.need(0), n.need(1)
	if !n.ok() {
		return nil
	}
	if !x.dtype().IsFloat() {
		if !x.dtype().IsInt() {
			n.failf("base is %v", x.dtype())
			return nil
		}
		p := n.op(ir.OpPow, nil, n.cast(x, ir.F64), n.cast(y, ir.F64))
		return []*val{n.cast(p, x.dtype())}
	}
	return []*val{n.op(ir.OpPow, nil, x, n.cast(y, x.dtype()))}
}

func convSign(n *node) []*val {
	x := n.need(0)
	zero := n.like(x, 0)
	neg := n.where(n.cmp(x, zero, "lt"), n.like(x, -1), zero)
	return []*val{n.where(n.cmp(x, zero, "gt"), n.like(x, 1), neg)}
}

// convMinMax folds Max (keep = "gt") or Min ("lt") over its operands:
// y = Where(a keep b, a, b), with NaN in a propagating.
func convMinMax(keep string) converter {
	return func(n *node) []*val {
		if len(n.in) == 0 {
			n.failf("needs at least one input")
			return nil
		}
		y := n.need(0)
		for i := 1; i < len(n.in); i++ {
			b := n.need(i)
			pick := n.where(n.cmp(y, y, "ne"), scalar(ir.Bool, 1), n.cmp(y, b, keep))
			y = n.where(pick, y, b)
		}
		return []*val{y}
	}
}

func convSumMean(mean bool) converter {
	return func(n *node) []*val {
		if len(n.in) == 0 {
			n.failf("needs at least one input")
			return nil
		}
		y := n.need(0)
		for i := 1; i < len(n.in); i++ {
			y = n.op(ir.OpAdd, nil, y, n.need(i))
		}
		if mean {
			y = n.op(ir.OpDiv, nil, y, n.like(y, float64(len(n.in))))
		}
		return []*val{y}
	}
}

// convClip: y = min(max(x, lo), hi), the bounds from attributes before
// opset 11 and from optional inputs after.
func convClip(n *node) []*val {
	x := n.need(0)
	var lo, hi *val
	if n.opset < 11 {
		lo = n.like(x, n.float("min", math.Inf(-1)))
		hi = n.like(x, n.float("max", math.Inf(1)))
	} else {
		lo, hi = n.arg(1), n.arg(2)
	}
	y := x
	if lo != nil {
		y = n.where(n.cmp(y, lo, "lt"), lo, y)
	}
	if hi != nil {
		y = n.where(n.cmp(y, hi, "gt"), hi, y)
	}
	return []*val{y}
}

// convActivation converts the activations ONNX defines by formulas.
func convActivation(n *node) []*val {
	x := n.floatIn(0)
	c := func(v float64) *val { return n.like(x, v) }
	mul := func(a, b *val) *val { return n.op(ir.OpMul, nil, a, b) }
	add := func(a, b *val) *val { return n.op(ir.OpAdd, nil, a, b) }
	expm1 := func(v *val) *val { return n.op(ir.OpSub, nil, n.op(ir.OpExp, nil, v), c(1)) }
	clamp01 := func(v *val) *val {
		v = n.where(n.cmp(v, c(0), "lt"), c(0), v)
		return n.where(n.cmp(v, c(1), "gt"), c(1), v)
	}
	switch n.p.GetOpType() {
	case "LeakyRelu": // x < 0 ? alpha·x : x
		return []*val{n.where(n.cmp(x, c(0), "lt"), mul(x, c(n.float("alpha", 0.01))), x)}
	case "Elu": // x < 0 ? alpha·(exp(x) - 1) : x
		return []*val{n.where(n.cmp(x, c(0), "lt"), mul(c(n.float("alpha", 1)), expm1(x)), x)}
	case "Selu": // gamma · (x > 0 ? x : alpha·exp(x) - alpha)
		alpha, gamma := n.float("alpha", 1.67326319217681884765625), n.float("gamma", 1.05070102214813232421875)
		neg := n.op(ir.OpSub, nil, mul(c(alpha), n.op(ir.OpExp, nil, x)), c(alpha))
		return []*val{mul(n.where(n.cmp(x, c(0), "gt"), x, neg), c(gamma))}
	case "ThresholdedRelu": // x > alpha ? x : 0
		return []*val{n.where(n.cmp(x, c(n.float("alpha", 1)), "gt"), x, c(0))}
	case "HardSigmoid": // max(0, min(1, alpha·x + beta))
		return []*val{clamp01(add(mul(x, c(n.float("alpha", 0.2))), c(n.float("beta", 0.5))))}
	case "HardSwish": // x · max(0, min(1, x/6 + 1/2))
		return []*val{mul(x, clamp01(add(mul(x, c(1.0/6)), c(0.5))))}
	case "Softsign": // x / (1 + |x|)
		return []*val{n.op(ir.OpDiv, nil, x, add(c(1), n.abs(x)))}
	case "Celu": // max(0, x) + min(0, alpha·(exp(x/alpha) - 1))
		alpha := n.float("alpha", 1)
		e := mul(c(alpha), expm1(n.op(ir.OpDiv, nil, x, c(alpha))))
		pos := n.where(n.cmp(x, c(0), "gt"), x, c(0))
		return []*val{add(pos, n.where(n.cmp(e, c(0), "lt"), e, c(0)))}
	case "Mish": // x · tanh(softplus(x))
		return []*val{mul(x, n.op(ir.OpTanh, nil, n.op(ir.OpSoftplus, nil, x)))}
	case "Gelu":
		half := mul(c(0.5), x)
		switch n.str("approximate", "none") {
		case "none": // x/2 · (1 + erf(x/√2))
			return []*val{mul(half, add(c(1), n.op(ir.OpErf, nil, mul(x, c(1/math.Sqrt2)))))}
		case "tanh": // x/2 · (1 + tanh(√(2/π) · (x + 0.044715·x³)))
			x3 := mul(mul(x, x), x)
			inner := mul(c(math.Sqrt(2/math.Pi)), add(x, mul(c(0.044715), x3)))
			return []*val{mul(half, add(c(1), n.op(ir.OpTanh, nil, inner)))}
		}
		n.failf("approximate must be none or tanh")
	}
	return nil
}

func convPRelu(n *node) []*val {
	x, slope := n.floatIn(0), n.need(1)
	return []*val{n.where(n.cmp(x, n.like(x, 0), "lt"), n.op(ir.OpMul, nil, x, slope), x)}
}

// convCompare converts the comparisons; on shape values it decides them
// at import time when it can (static dims, or equal symbolic ones).
func convCompare(cmp string) converter {
	return func(n *node) []*val {
		a, b := n.need(0), n.need(1)
		if r := symCompare(a, b, cmp); r != nil {
			return []*val{r}
		}
		return []*val{n.cmp(a, b, cmp)}
	}
}

// symCompare compares shape values element by element when every result
// is known; nil otherwise.
func symCompare(a, b *val, cmp string) *val {
	if a.dims == nil && b.dims == nil {
		return nil
	}
	da, ok1 := a.symDims()
	db, ok2 := b.symDims()
	m := max(len(da), len(db))
	if !ok1 || !ok2 || len(da) != m && len(da) != 1 || len(db) != m && len(db) != 1 {
		return nil
	}
	out := make([]int64, m)
	for i := range out {
		x, y := da[min(i, len(da)-1)], db[min(i, len(db)-1)]
		var r bool
		switch {
		case x == y:
			r = cmp == "eq" || cmp == "le" || cmp == "ge"
		case x.IsStatic() && y.IsStatic():
			r = cmp == "ne" || cmp == "lt" && x.Off < y.Off || cmp == "gt" && x.Off > y.Off ||
				cmp == "le" && x.Off < y.Off || cmp == "ge" && x.Off > y.Off
		default:
			return nil
		}
		if r {
			out[i] = 1
		}
	}
	shape := []int64{int64(m)}
	if a.rank() == 0 && b.rank() == 0 {
		shape = nil
	}
	return constVal(ir.TensorFromInt64s(ir.Bool, shape, out))
}

// convLogic: And = Where(a, b, false), Or = Where(a, true, b), Xor = a != b.
func convLogic(n *node) []*val {
	a, b := n.need(0), n.need(1)
	if n.ok() && (a.dtype() != ir.Bool || b.dtype() != ir.Bool) {
		n.failf("operands are %v and %v, want bool", a.dtype(), b.dtype())
	}
	f, t := scalar(ir.Bool, 0), scalar(ir.Bool, 1)
	switch n.p.GetOpType() {
	case "And":
		return []*val{n.where(a, b, f)}
	case "Or":
		return []*val{n.where(a, t, b)}
	}
	return []*val{n.cmp(a, b, "ne")}
}

func convIsInf(n *node) []*val {
	x := n.floatIn(0)
	pos, neg := n.int("detect_positive", 1) != 0, n.int("detect_negative", 1) != 0
	isPos := n.cmp(x, n.like(x, math.Inf(1)), "eq")
	isNeg := n.cmp(x, n.like(x, math.Inf(-1)), "eq")
	switch {
	case pos && neg:
		return []*val{n.where(isPos, scalar(ir.Bool, 1), isNeg)}
	case pos:
		return []*val{isPos}
	case neg:
		return []*val{isNeg}
	}
	return []*val{n.cmp(x, n.like(x, math.NaN()), "eq")} // all false
}

func convWhere(n *node) []*val { return []*val{n.where(n.need(0), n.need(1), n.need(2))} }

// convCast converts Cast; integer casts of shape values keep their dims.
func convCast(n *node) []*val {
	x := n.need(0)
	et := n.int("to", 0)
	to, ok := dtypeOf(int32(et))
	if !ok {
		n.fail(unsupportedDType(int32(et)))
		return nil
	}
	return []*val{n.cast(x, to)}
}

// cast converts x to dtype to (nothing when it already is).
func (n *node) cast(x *val, to ir.DType) *val {
	if x.dtype() == to {
		return x
	}
	if x.dims != nil && to.IsInt() {
		return &val{typ: ir.TensorType(to, x.typ.Shape), dims: x.dims}
	}
	return n.op(ir.OpCast, ir.Attrs{"to": to}, x)
}

func convCastLike(n *node) []*val {
	return []*val{n.cast(n.need(0), n.need(1).dtype())}
}

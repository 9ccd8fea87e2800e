package passes

import (
	"math"
	"slices"
	"strconv"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseElementwise merges trees of elementwise float ops into one
// FusedElementwise: the root op r, of type T[S], absorbs each operand
// that is itself a unary or binary elementwise op of ir.ExprFuncs with
// type T[S] used only by its parent (not a result), recursively; what is
// not absorbed becomes an operand of the fused op:
//
//	Add(SiLU(x), Mul(y, Sigmoid(z)))  =>  FusedElementwise(x, y, z){expr = "add(silu(%0), mul(%1, sigmoid(%2)))"}
//
// Operands must have shape S, or be constants (Const, Param) that
// broadcast to S; a one-element Const becomes a number in the
// expression. An op with any other operand (a value that broadcasts) is
// not fused. A tree needs at least two ops, at least one operand that is
// not a constant (constant trees are constfold's), and fits the limits of
// the expression language (deeper ops become operands). Run after the
// other fusions, which match these ops. Counter: fused/elementwise (trees)
// and fused/elementwise-ops (ops merged).
func fuseElementwise(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	absorbed := map[*ir.Value]bool{}
	body := slices.Clone(f.Body)
	for i := len(body) - 1; i >= 0; i-- {
		r := body[i]
		if absorbed[r] || !fusable(r) || len(r.Users) == 0 && !f.IsResult(r) {
			continue
		}
		g := &feGroup{u: u, shape: r.Type.Shape, dtype: r.Type.DType, absorbed: absorbed}
		e := g.build(r, 1)
		if e == nil || len(g.nodes) < 1 || !slices.ContainsFunc(g.inputs, func(v *ir.Value) bool { return !isConstant(v) }) {
			continue
		}
		t := u.begin(append(g.nodes, r)...)
		fe := t.op(ir.OpFusedElementwise, ir.Attrs{"expr": e.String()}, g.inputs...)
		if !t.commit([]*ir.Value{r}, []*ir.Value{fe}) {
			continue
		}
		for _, v := range g.nodes {
			absorbed[v] = true
		}
		c.Count("fused/elementwise", 1)
		c.Count("fused/elementwise-ops", len(g.nodes)+1)
	}
	return u.finish()
}

// fusable reports whether v is an op the expression language can apply.
func fusable(v *ir.Value) bool {
	_, ok := ir.ExprFuncName(v.Op)
	return ok && !v.Type.IsTuple() && v.Type.DType.IsFloat()
}

// isConstant reports whether v is known before the function runs.
func isConstant(v *ir.Value) bool { return v.Op == ir.OpConst || v.Op == ir.OpParam }

// feGroup is a tree being merged.
type feGroup struct {
	u        *fuser
	shape    ir.Shape
	dtype    ir.DType
	absorbed map[*ir.Value]bool
	nodes    []*ir.Value // absorbed ops below the root
	inputs   []*ir.Value
	size     int // expression nodes so far
}

// build returns the expression of op v (in the tree at depth) or nil when
// one of its operands cannot be an operand of the fused op or the limits
// are exceeded.
func (g *feGroup) build(v *ir.Value, depth int) *ir.Expr {
	e := &ir.Expr{Op: v.Op}
	if g.size++; g.size > ir.MaxExprNodes {
		return nil
	}
	for _, a := range v.Args {
		if depth+2 <= ir.MaxExprDepth && g.absorbable(a, v) {
			nNodes, nInputs, size := len(g.nodes), len(g.inputs), g.size
			g.nodes = append(g.nodes, a)
			if sub := g.build(a, depth+1); sub != nil {
				e.Args = append(e.Args, sub)
				continue
			}
			// a stays an operand (it has the tree's type)
			g.nodes, g.inputs, g.size = g.nodes[:nNodes], g.inputs[:nInputs], size
		}
		if g.size++; g.size > ir.MaxExprNodes {
			return nil
		}
		if x, ok := splat(a); ok && a.Op == ir.OpConst && a.Type.DType == g.dtype && !math.IsInf(x, 0) && !math.IsNaN(x) &&
			int(a.Attrs.Tensor("value").NumElements()) == 1 && g.broadcastsTo(a) {
			if g.dtype == ir.F32 { // the shortest decimal that is this f32
				x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 32), 64)
			}
			e.Args = append(e.Args, &ir.Expr{Op: ir.OpConst, Value: x})
			continue
		}
		if !a.Type.Shape.Equal(g.shape) && !(isConstant(a) && g.broadcastsTo(a)) {
			return nil
		}
		k := slices.Index(g.inputs, a)
		if k < 0 {
			if len(g.inputs) == ir.MaxExprInputs {
				return nil
			}
			k = len(g.inputs)
			g.inputs = append(g.inputs, a)
		}
		e.Args = append(e.Args, &ir.Expr{Op: ir.OpArg, Input: k})
	}
	return e
}

// absorbable reports whether operand a of v can join the tree.
func (g *feGroup) absorbable(a, v *ir.Value) bool {
	return fusable(a) && !g.absorbed[a] && a.Type.Equal(ir.TensorType(g.dtype, g.shape)) && g.u.onlyUser(a, v)
}

// broadcastsTo reports whether a broadcasts to the tree's shape without
// changing it.
func (g *feGroup) broadcastsTo(a *ir.Value) bool {
	s, err := ir.Broadcast(a.Type.Shape, g.shape)
	return err == nil && s.Equal(g.shape)
}

package passes

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// This file holds what the fusion passes (fuse-*.go) share: a fuser that
// builds replacement values with an order check and restores topological
// order at the end, and matching helpers.
//
// A fusion replaces a pattern — a set of values ending in the values whose
// uses move to the fused op's results — by one op appended at the end of
// the body. Its operands must not depend on the pattern (txn.independent
// checks, searching back from an operand only as far as the pattern's
// first value in the order the pass started from). When the pass ends, the body is put back in
// topological order, stably (each value moves up only as far as its first
// user needs), and the values the fusions left unused are removed.

// fuser is the state of one fusion pass over one function.
type fuser struct {
	c       *Context
	f       *ir.Func
	pos     map[*ir.Value]int
	changed bool
}

func newFuser(c *Context, f *ir.Func) *fuser {
	u := &fuser{c: c, f: f, pos: make(map[*ir.Value]int, len(f.Body)+len(f.Args))}
	for _, a := range f.Args {
		u.pos[a] = -1
	}
	for i, v := range f.Body {
		u.pos[v] = i
	}
	return u
}

// first returns the smallest original position among vals.
func (u *fuser) first(vals ...*ir.Value) int {
	p := len(u.f.Body)
	for _, v := range vals {
		if q, ok := u.pos[v]; ok && q < p {
			p = q
		}
	}
	return p
}

// onlyUser reports whether user is the single use of v and v is not a
// result of the function.
func (u *fuser) onlyUser(v, user *ir.Value) bool {
	return len(v.Users) == 1 && v.Users[0] == user && !u.f.IsResult(v)
}

// finish restores the body's order and removes dead values when a fusion
// fired.
func (u *fuser) finish() error {
	if !u.changed {
		return nil
	}
	if err := reorder(u.f); err != nil {
		return err
	}
	return dce(&Context{}, u.f)
}

// txn builds the values of one fusion; on any error abort removes them.
type txn struct {
	u       *fuser
	p       int                // the pattern's first position
	pattern map[*ir.Value]bool // the values the fusion replaces or makes dead
	added   []*ir.Value
	err     error
}

// begin starts a fusion of the pattern made of vals.
func (u *fuser) begin(vals ...*ir.Value) *txn {
	t := &txn{u: u, p: u.first(vals...), pattern: make(map[*ir.Value]bool, len(vals))}
	for _, v := range vals {
		t.pattern[v] = true
	}
	return t
}

// independent reports whether v may be an operand of the fused op: it
// does not depend on a value of the pattern. Sources and values placed
// before the pattern's first value cannot; others are searched through
// their operands down to those.
func (t *txn) independent(v *ir.Value) bool {
	if v == nil {
		return true
	}
	seen := map[*ir.Value]bool{v: true}
	stack := []*ir.Value{v}
	for len(stack) > 0 {
		w := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if t.pattern[w] {
			return false
		}
		if q, ok := t.u.pos[w]; w.Op.Info().Has(ir.Source) || ok && q < t.p {
			continue
		}
		for _, a := range w.Args {
			if a != nil && !seen[a] {
				seen[a] = true
				stack = append(stack, a)
			}
		}
	}
	return true
}

// op appends op(args){attrs}, recording the first error.
func (t *txn) op(op ir.Op, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	if t.err != nil {
		return nil
	}
	for i, a := range args {
		if a == nil && !t.optional(op, i) {
			t.err = fmt.Errorf("%v: operand %d missing", op, i)
			return nil
		}
	}
	v, err := t.u.f.Append(op, attrs, args...)
	if err != nil {
		t.err = err
		return nil
	}
	t.u.pos[v] = t.p
	t.added = append(t.added, v)
	return v
}

func (t *txn) optional(op ir.Op, i int) bool {
	specs := op.Info().Args
	return i < len(specs) && specs[i].Optional
}

// param appends a Param of a weight the fusion created.
func (t *txn) param(name string, typ ir.Type) *ir.Value {
	if t.err != nil {
		return nil
	}
	v := t.u.f.Param(name, typ)
	t.u.pos[v] = t.p
	t.added = append(t.added, v)
	return v
}

// tuple appends a multi-result op and its Extracts.
func (t *txn) tuple(op ir.Op, attrs ir.Attrs, args ...*ir.Value) []*ir.Value {
	v := t.op(op, attrs, args...)
	if v == nil {
		return nil
	}
	out := make([]*ir.Value, len(v.Type.Elems))
	for i := range out {
		out[i] = t.op(ir.OpExtract, ir.Attrs{"index": int64(i)}, v)
	}
	return out
}

// view returns v's data (row-major) in shape s: v or a value on its chain
// of Reshapes that has shape s and may be an operand, or a new Reshape of
// the chain's root. Absent v stays absent.
func (t *txn) view(v *ir.Value, s ir.Shape) *ir.Value {
	if v == nil || t.err != nil {
		return nil
	}
	w := v
	for {
		if w.Type.Shape.Equal(s) && t.independent(w) {
			return w
		}
		if w.Op != ir.OpReshape {
			break
		}
		w = w.Args[0]
	}
	if !t.independent(w) {
		t.err = fmt.Errorf("%v depends on the pattern", w)
		return nil
	}
	return t.op(ir.OpReshape, ir.Attrs{"shape": s.Clone()}, w)
}

// need records an error unless every value may be an operand.
func (t *txn) need(vals ...*ir.Value) {
	for _, v := range vals {
		if t.err == nil && !t.independent(v) {
			t.err = fmt.Errorf("%v depends on the pattern", v)
		}
	}
}

// commit replaces each old value's uses with the matching new value when
// no error occurred and every type agrees; otherwise it removes what the
// transaction built. It reports whether the fusion happened.
func (t *txn) commit(olds, news []*ir.Value) bool {
	ok := t.err == nil && len(olds) == len(news)
	for i := 0; ok && i < len(olds); i++ {
		ok = news[i] != nil && olds[i].Type.Equal(news[i].Type)
	}
	if !ok {
		t.u.f.Remove(t.added...)
		for _, v := range t.added {
			delete(t.u.pos, v)
		}
		return false
	}
	for i, old := range olds {
		t.u.f.ReplaceUses(old, news[i])
	}
	t.u.changed = true
	return true
}

// reorder puts f's body back in topological order, keeping the existing
// order wherever it is valid: each value is placed after its operands, an
// operand placed late is pulled up to just before its first user. It fails
// on a cycle (a fusion bug).
func reorder(f *ir.Func) error {
	const (
		unseen = iota
		onStack
		placed
	)
	state := make(map[*ir.Value]uint8, len(f.Body)+len(f.Args))
	for _, a := range f.Args {
		state[a] = placed
	}
	out := make([]*ir.Value, 0, len(f.Body))
	type frame struct {
		v *ir.Value
		i int
	}
	var stack []frame
	for _, root := range f.Body {
		if state[root] == placed {
			continue
		}
		state[root] = onStack
		stack = append(stack[:0], frame{v: root})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.i < len(top.v.Args) {
				a := top.v.Args[top.i]
				top.i++
				switch {
				case a == nil || state[a] == placed:
				case state[a] == onStack:
					return fmt.Errorf("internal error: the fused graph has a cycle through %v", a.LongString())
				default:
					state[a] = onStack
					stack = append(stack, frame{v: a})
				}
				continue
			}
			state[top.v] = placed
			out = append(out, top.v)
			stack = stack[:len(stack)-1]
		}
	}
	f.Body = out
	return nil
}

// stripReshape follows Reshapes down to the value whose data they view.
func stripReshape(v *ir.Value) *ir.Value {
	for v != nil && v.Op == ir.OpReshape {
		v = v.Args[0]
	}
	return v
}

// isZero reports whether v is all zeros: a zero splat Const, or an
// Expand or Reshape of one.
func isZero(v *ir.Value) bool {
	for v != nil && (v.Op == ir.OpExpand || v.Op == ir.OpReshape) {
		v = v.Args[0]
	}
	return splatIs(v, 0)
}

// factor is a leaf of a product tree: value v, whose data the product
// reads in shape (v's own shape, or the shape of a Reshape view of a
// product that contains it).
type factor struct {
	v     *ir.Value
	shape ir.Shape
}

// factors flattens the product tree rooted at the Mul root into its
// leaves. The tree descends into Mul operands used only by their parent,
// and into Reshapes (used only by their parent) of such Muls whose
// operands have the Mul's shape: a view of an unbroadcast product is the
// product of the views. interior collects the tree's nodes below root.
func (u *fuser) factors(root *ir.Value, interior *[]*ir.Value) []factor {
	var out []factor
	var walk func(w *ir.Value, view ir.Shape, parent *ir.Value)
	walk = func(w *ir.Value, view ir.Shape, parent *ir.Value) {
		private := parent == nil || u.onlyUser(w, parent)
		switch {
		case private && w.Op == ir.OpMul && (view == nil || unbroadcast(w)):
			if parent != nil {
				*interior = append(*interior, w)
			}
			for _, a := range w.Args {
				walk(a, view, w)
			}
			return
		case private && parent != nil && w.Op == ir.OpReshape && w.Args[0].Op == ir.OpMul &&
			unbroadcast(w.Args[0]) && u.onlyUser(w.Args[0], w):
			if view == nil {
				view = w.Type.Shape
			}
			*interior = append(*interior, w, w.Args[0])
			for _, a := range w.Args[0].Args {
				walk(a, view, w.Args[0])
			}
			return
		}
		s := view
		if s == nil {
			s = w.Type.Shape
		}
		out = append(out, factor{w, s})
	}
	walk(root, nil, nil)
	return out
}

// unbroadcast reports whether both operands of binary v have v's shape.
func unbroadcast(v *ir.Value) bool {
	return v.Args[0].Type.Shape.Equal(v.Type.Shape) && v.Args[1].Type.Shape.Equal(v.Type.Shape)
}

// normAxes returns v's reduction axes normalized for rank r, or nil.
func normAxes(v *ir.Value, r int) []int {
	axes, err := ir.ReduceAxes(v, r)
	if err != nil {
		return nil
	}
	return axes
}

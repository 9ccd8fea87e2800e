package passes

import (
	"fmt"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// Limits of constant folding.
const (
	// maxInlineElems is the largest folded result kept inline as a Const;
	// larger results become module weights (when the module has weights
	// bound) so the text IR stays readable.
	maxInlineElems = 16
	// maxFoldElems bounds the size of any folded result, so folding never
	// allocates more than a weight-sized tensor.
	maxFoldElems = 1 << 26
)

// constfold evaluates, with the reference interpreter, every value whose
// operands are all constants: inline Consts, and Params when the module has
// their weights bound (this is how A = -exp(A_log) or a transposed weight is
// computed once at compile time). A single-result value becomes a Const, or
// a new weight "fold.<func>.<id>" when larger than maxInlineElems; a
// tuple-typed value folds into its Extract users.
func constfold(c *Context, f *ir.Func) error {
	for i := 0; i < len(f.Body); i++ {
		v := f.Body[i]
		info := v.Op.Info()
		if info.Has(ir.Source) || v.Op == ir.OpExtract || (len(v.Users) == 0 && !f.IsResult(v)) {
			continue
		}
		args, ok := constArgs(c, v)
		if !ok || !v.Type.IsTuple() && !fits(v.Type) {
			continue
		}
		if v.Type.IsTuple() {
			for _, e := range v.Type.Elems {
				if !fits(e) {
					ok = false
				}
			}
			if !ok {
				continue
			}
		}
		res, err := ref.EvalOp(v, args)
		if err != nil {
			return fmt.Errorf("folding %s: %w", v.LongString(), err)
		}
		if !v.Type.IsTuple() {
			w, err := materialize(c, f, v, res[0])
			if err != nil {
				return err
			}
			if w != nil {
				f.ReplaceUses(v, w)
				c.Count("folded", 1)
			}
			continue
		}
		for _, u := range append([]*ir.Value(nil), v.Users...) {
			if u.Op != ir.OpExtract {
				continue
			}
			w, err := materialize(c, f, u, res[u.Attrs.Int("index", 0)])
			if err != nil {
				return err
			}
			if w != nil {
				f.ReplaceUses(u, w)
				c.Count("folded", 1)
			}
		}
	}
	return nil
}

// fits reports whether t is static and small enough to fold.
func fits(t ir.Type) bool {
	if !t.Shape.IsStatic() {
		return false
	}
	n, _ := t.Shape.NumElements()
	return n.Off <= maxFoldElems
}

// constArgs returns the constant tensors of v's operands, or ok = false if
// some operand is not constant.
func constArgs(c *Context, v *ir.Value) ([]*ir.Tensor, bool) {
	args := make([]*ir.Tensor, len(v.Args))
	for i, a := range v.Args {
		switch {
		case a == nil:
		case a.Op == ir.OpConst:
			args[i] = a.Attrs.Tensor("value")
		case a.Op == ir.OpParam && c.Module != nil && c.Module.Weights != nil:
			w := c.Module.Weights[a.Attrs.String("name", "")]
			if w == nil {
				return nil, false
			}
			args[i] = w
		default:
			return nil, false
		}
	}
	return args, true
}

// materialize makes the folded value t available just before v: inline
// when small, as a new weight when large and the module binds weights;
// nil when it cannot be placed.
func materialize(c *Context, f *ir.Func, v *ir.Value, t *ir.Tensor) (*ir.Value, error) {
	if t.NumElements() <= maxInlineElems {
		return f.InsertBefore(v, ir.OpConst, ir.Attrs{"value": t})
	}
	if c.Module == nil || c.Module.Weights == nil {
		return nil, nil
	}
	// The same fold in two functions (prefill and step) shares one weight.
	key := foldKey(v)
	name, ok := c.folded[key]
	if !ok {
		name = fmt.Sprintf("fold.%s.%d", f.Name, v.ID)
		for k := 1; c.Module.Weights[name] != nil; k++ {
			name = fmt.Sprintf("fold.%s.%d.%d", f.Name, v.ID, k)
		}
		c.Module.Weights[name] = t
		if c.folded == nil {
			c.folded = map[string]string{}
		}
		c.folded[key] = name
	}
	return f.InsertDeclaredBefore(v, ir.OpParam, ir.Attrs{"name": name}, t.Type())
}

// foldKey identifies what a folded value computes across functions: its
// op, attributes and operands, operands named by weight name or by their
// inline data. Extract values add the tuple's key.
func foldKey(v *ir.Value) string {
	var b strings.Builder
	b.WriteString(v.Op.String())
	for _, k := range v.Attrs.Keys() {
		fmt.Fprintf(&b, " %s=%s", k, ir.FormatAttr(v.Attrs[k]))
	}
	for _, a := range v.Args {
		switch {
		case a == nil:
			b.WriteString(" _")
		case a.Op == ir.OpParam:
			fmt.Fprintf(&b, " w:%q", a.Attrs.String("name", ""))
		case a.Op == ir.OpConst:
			fmt.Fprintf(&b, " c:%s", ir.FormatAttr(a.Attrs["value"]))
		default:
			fmt.Fprintf(&b, " (%s)", foldKey(a))
		}
	}
	return b.String()
}

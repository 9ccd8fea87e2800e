package passes

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// Rule is one canonicalization: when a value with op Op satisfies Match,
// Rewrite returns the value that replaces it (an existing value, or new ones
// inserted before it through the Rewriter).
type Rule struct {
	Name    string
	Op      ir.Op
	Doc     string // "pattern => result"
	Match   func(v *ir.Value) bool
	Rewrite func(r *Rewriter, v *ir.Value) *ir.Value
}

// Rewriter inserts new values just before the value being rewritten.
type Rewriter struct {
	f     *ir.Func
	pos   *ir.Value
	err   error
	added []*ir.Value
}

// Op inserts op(args){attrs} before the value being rewritten.
func (r *Rewriter) Op(op ir.Op, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	if r.err != nil {
		return nil
	}
	v, err := r.f.InsertBefore(r.pos, op, attrs, args...)
	if err != nil {
		r.err = err
		return nil
	}
	r.added = append(r.added, v)
	return v
}

// maxCanonRounds bounds the fixed-point iteration; each round that changes
// something shrinks or normalizes the function, so real inputs settle in a
// few rounds.
const maxCanonRounds = 16

// canonicalize applies the rule table (Rules) until nothing matches.
// A rule fires only when its replacement has exactly the type of the value
// it replaces, so rewrites never change shapes by broadcasting.
func canonicalize(c *Context, f *ir.Func) error {
	byOp := map[ir.Op][]*Rule{}
	for i := range Rules {
		byOp[Rules[i].Op] = append(byOp[Rules[i].Op], &Rules[i])
	}
	for round := 0; round < maxCanonRounds; round++ {
		changed := false
		for i := 0; i < len(f.Body); i++ {
			v := f.Body[i]
			if len(v.Users) == 0 && !f.IsResult(v) {
				continue // dead: dce's business
			}
			for _, rule := range byOp[v.Op] {
				if !rule.Match(v) {
					continue
				}
				r := &Rewriter{f: f, pos: v}
				w := rule.Rewrite(r, v)
				if r.err != nil {
					return r.err
				}
				if w == nil || w == v || !w.Type.Equal(v.Type) {
					// rejected: drop what the rewrite built, newest first
					for k := len(r.added) - 1; k >= 0; k-- {
						f.Remove(r.added[k])
					}
					continue
				}
				f.ReplaceUses(v, w)
				c.Count("rule/"+rule.Name, 1)
				changed = true
				// the inserted values moved v further down: resume after it
				for f.Body[i] != v {
					i++
				}
				break
			}
		}
		if !changed {
			return nil
		}
		// drop what the round orphaned so later matches see single uses
		if err := dce(&Context{}, f); err != nil {
			return err
		}
	}
	return nil
}

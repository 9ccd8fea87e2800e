package passes

import "github.com/ssmc-dev/ssmc/ir"

// dce removes values whose results are never used: a value is live when it
// is a result of the function or an operand of a live value. Every IR op is
// pure, so nothing else keeps a value alive. Unused arguments stay: they
// are the function's interface.
func dce(c *Context, f *ir.Func) error {
	live := make(map[*ir.Value]bool, len(f.Body))
	for _, r := range f.Results {
		live[r] = true
	}
	for i := len(f.Body) - 1; i >= 0; i-- {
		v := f.Body[i]
		if !live[v] {
			continue
		}
		for _, a := range v.Args {
			if a != nil {
				live[a] = true
			}
		}
	}
	var dead []*ir.Value
	for _, v := range f.Body {
		if !live[v] {
			dead = append(dead, v)
		}
	}
	if len(dead) > 0 {
		f.Remove(dead...)
		c.Count("removed", len(dead))
	}
	return nil
}

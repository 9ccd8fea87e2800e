package passes

import (
	"fmt"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// cse merges values that apply the same op to the same operands with the
// same attributes and type: the later one's uses move to the earlier one
// (dce then removes it). Operands of commutative ops are compared as an
// unordered pair; two Params with the same name, and two Consts with equal
// data, are the same value.
//
// Values are visited in order, so an operand has always been merged before
// its users are hashed, and one walk reaches the fixed point.
func cse(c *Context, f *ir.Func) error {
	seen := map[string]*ir.Value{}
	for _, v := range f.Body {
		key := cseKey(v)
		if w, ok := seen[key]; ok {
			f.ReplaceUses(v, w)
			c.Count("merged", 1)
			continue
		}
		seen[key] = v
	}
	return nil
}

// cseKey is a string that is equal for values that compute the same thing.
func cseKey(v *ir.Value) string {
	var b strings.Builder
	b.WriteString(v.Op.String())
	b.WriteByte('(')
	args := v.Args
	if v.Op.Info().Has(ir.Commutative) && len(args) >= 2 && args[0] != nil && args[1] != nil && idOf(args[1]) < idOf(args[0]) {
		args = append([]*ir.Value{args[1], args[0]}, args[2:]...)
	}
	for _, a := range args {
		fmt.Fprintf(&b, "%s,", idOf(a))
	}
	b.WriteString(") {")
	for _, k := range v.Attrs.Keys() {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(ir.FormatAttr(v.Attrs[k]))
		b.WriteByte(',')
	}
	b.WriteString("} : ")
	b.WriteString(v.Type.String())
	return b.String()
}

// idOf names a value uniquely within a function for cseKey; IDs are unique
// in a verified function, and "_" stands for an absent operand.
func idOf(v *ir.Value) string {
	if v == nil {
		return "_"
	}
	return fmt.Sprintf("%08d", v.ID)
}

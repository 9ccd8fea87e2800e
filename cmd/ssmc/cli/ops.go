package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

var opsCmd = &command{
	name:  "ops",
	args:  "[OP...]",
	short: "describe the IR's ops (generated from the op table)",
	long: `
Ops prints the IR's op table, or the entries of the named ops: each op's
operands (? optional, ... variadic), attributes with their kinds and
defaults, flags, and reference formula. The text comes from the op table
itself, so it is always current.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		return func(c *ctx, args []string) error {
			ops := ir.Ops()
			if len(args) > 0 {
				ops = ops[:0:0]
				for _, name := range args {
					op, ok := ir.Lookup(name)
					if !ok {
						return fmt.Errorf("unknown op %q (run 'ssmc ops' for the list)", name)
					}
					ops = append(ops, op)
				}
			}
			for i, op := range ops {
				if i > 0 {
					fmt.Fprintln(c.stdout)
				}
				writeOp(c.stdout, op.Info())
			}
			return nil
		}
	},
}

// writeOp describes one op-table entry.
func writeOp(w io.Writer, info *ir.OpInfo) {
	args := make([]string, len(info.Args))
	for i, a := range info.Args {
		args[i] = a.Name
		switch {
		case a.Variadic:
			args[i] += "..."
		case a.Optional:
			args[i] += "?"
		}
	}
	fmt.Fprintf(w, "%s(%s)\n", info.Name, strings.Join(args, ", "))
	if len(info.Attrs) > 0 {
		attrs := make([]string, len(info.Attrs))
		for i, a := range info.Attrs {
			attrs[i] = formatAttrSpec(a)
		}
		fmt.Fprintf(w, "    attributes: %s\n", strings.Join(attrs, "; "))
	}
	if f := flagNames(info.Flags); f != "" {
		fmt.Fprintf(w, "    flags:      %s\n", f)
	}
	fmt.Fprintf(w, "    formula:    %s\n", info.Formula)
}

// formatAttrSpec renders "name: kind (required)", "name: kind = default"
// or "name: kind in {a, b}".
func formatAttrSpec(a ir.AttrSpec) string {
	s := a.Name + ": " + a.Kind.String()
	if len(a.Enum) > 0 {
		s += " in {" + strings.Join(a.Enum, ", ") + "}"
	}
	switch {
	case a.Required:
		s += " (required)"
	case a.Default != nil:
		s += " = " + ir.FormatAttr(a.Default)
	default:
		s += " (optional)"
	}
	return s
}

// opFlagNames names the op flags in bit order.
var opFlagNames = []struct {
	flag ir.OpFlags
	name string
}{
	{ir.Elementwise, "Elementwise"},
	{ir.Commutative, "Commutative"},
	{ir.Fused, "Fused"},
	{ir.Stateful, "Stateful"},
	{ir.Source, "Source"},
}

// flagNames renders a flag set as "Fused, Stateful"; bits without a name
// here show as hex.
func flagNames(f ir.OpFlags) string {
	var names []string
	for _, n := range opFlagNames {
		if f&n.flag != 0 {
			names = append(names, n.name)
			f &^= n.flag
		}
	}
	if f != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(f)))
	}
	return strings.Join(names, ", ")
}

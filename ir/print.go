package ir

import (
	"fmt"
	"io"
	"strings"
)

// Print renders m in the canonical text format. Functions are renumbered
// first, so printing is deterministic and parsing the result back gives the
// same text.
func Print(m *Module) string {
	var b strings.Builder
	for i, f := range m.Funcs {
		if i > 0 {
			b.WriteByte('\n')
		}
		writeFunc(&b, f)
	}
	return b.String()
}

// PrintFunc renders one function.
func PrintFunc(f *Func) string {
	var b strings.Builder
	writeFunc(&b, f)
	return b.String()
}

// Fprint writes the canonical text of m to w.
func Fprint(w io.Writer, m *Module) error {
	_, err := io.WriteString(w, Print(m))
	return err
}

func writeFunc(b *strings.Builder, f *Func) {
	f.Renumber()
	fmt.Fprintf(b, "func @%s(", f.Name)
	for i, a := range f.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%%%s: %v", a.Name, a.Type)
	}
	b.WriteString(") -> (")
	for i, r := range f.Results {
		if i > 0 {
			b.WriteString(", ")
		}
		if i < len(f.ResultNames) && f.ResultNames[i] != "" {
			b.WriteString(f.ResultNames[i])
			b.WriteString(": ")
		}
		if r != nil {
			b.WriteString(r.Type.String())
		} else {
			b.WriteString("<nil>")
		}
	}
	b.WriteString(") {\n")
	for _, v := range f.Body {
		b.WriteString("  ")
		b.WriteString(FormatValue(v))
		b.WriteByte('\n')
	}
	b.WriteString("  return")
	for i, r := range f.Results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(r.String())
	}
	b.WriteString("\n}\n")
}

// FormatValue renders one body line: %3 = Op(%1, _, %x) {k = v} : type.
func FormatValue(v *Value) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v = %s(", v, v.Op)
	args := v.Args
	for len(args) > 0 && args[len(args)-1] == nil {
		args = args[:len(args)-1]
	}
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	if len(v.Attrs) > 0 {
		b.WriteString(" {")
		for i, k := range v.Attrs.Keys() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteString(" = ")
			b.WriteString(FormatAttr(v.Attrs[k]))
		}
		b.WriteByte('}')
	}
	b.WriteString(" : ")
	b.WriteString(v.Type.String())
	return b.String()
}

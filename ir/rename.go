package ir

import (
	"sort"
	"strings"
)

// RenameSymbol renames the size symbol old to new throughout f: in the
// types of its arguments and values (tuple elements included) and in
// shape attributes (Reshape's target, for example). A symbol inside a
// product ("B*L") is renamed as a factor. Renaming to a symbol f already
// uses merges the two sizes, which the verifier then checks.
func (f *Func) RenameSymbol(old, new string) {
	if old == new || old == "" || new == "" {
		return
	}
	f.mapShapes(func(d Dim) Dim {
		fs := strings.Split(d.S, "*")
		for j := range fs {
			if fs[j] == old {
				fs[j] = new
			}
		}
		sort.Strings(fs)
		d.S = strings.Join(fs, "*")
		return d
	})
}

// SubstituteSymbol fixes the size symbol name to value throughout f, as
// RenameSymbol renames it: a dim K·name + Off becomes the static
// K·value + Off, a product K·name·S stays symbolic as (K·value)·S. Call
// VerifyFunc afterwards: ops whose checks depended on the symbol are
// checked anew.
func (f *Func) SubstituteSymbol(name string, value int64) {
	f.mapShapes(func(d Dim) Dim {
		var rest []string
		found := false
		for _, fct := range strings.Split(d.S, "*") {
			if fct == name && !found {
				found = true
				continue
			}
			rest = append(rest, fct)
		}
		if !found {
			return d
		}
		k := d.K * value
		if len(rest) == 0 || k == 0 {
			return Dim{Off: k + d.Off}
		}
		return Dim{K: k, S: strings.Join(rest, "*"), Off: d.Off}
	})
}

// mapShapes replaces every symbolic dim d of f's argument and value types
// (tuple elements included) and shape attributes by fn(d).
func (f *Func) mapShapes(fn func(Dim) Dim) {
	shape := func(s Shape) Shape {
		if s == nil {
			return nil
		}
		out := s.Clone()
		for i, d := range out {
			if d.S != "" {
				out[i] = fn(d)
			}
		}
		return out
	}
	var typ func(Type) Type
	typ = func(t Type) Type {
		if !t.IsTuple() {
			return TensorType(t.DType, shape(t.Shape))
		}
		elems := make([]Type, len(t.Elems))
		for i, e := range t.Elems {
			elems[i] = typ(e)
		}
		return TupleType(elems...)
	}
	for _, a := range f.Args {
		a.Type = typ(a.Type)
	}
	for _, v := range f.Body {
		v.Type = typ(v.Type)
		for k, a := range v.Attrs {
			if s, ok := a.(Shape); ok {
				v.Attrs[k] = shape(s)
			}
		}
	}
}

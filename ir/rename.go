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
	for _, a := range f.Args {
		a.Type = renameInType(a.Type, old, new)
	}
	for _, v := range f.Body {
		v.Type = renameInType(v.Type, old, new)
		for k, a := range v.Attrs {
			if s, ok := a.(Shape); ok {
				v.Attrs[k] = renameInShape(s, old, new)
			}
		}
	}
}

func renameInType(t Type, old, new string) Type {
	if t.IsTuple() {
		elems := make([]Type, len(t.Elems))
		for i, e := range t.Elems {
			elems[i] = renameInType(e, old, new)
		}
		return TupleType(elems...)
	}
	return TensorType(t.DType, renameInShape(t.Shape, old, new))
}

func renameInShape(s Shape, old, new string) Shape {
	if s == nil {
		return nil
	}
	out := s.Clone()
	for i, d := range out {
		if d.S == "" {
			continue
		}
		f := strings.Split(d.S, "*")
		for j := range f {
			if f[j] == old {
				f[j] = new
			}
		}
		sort.Strings(f)
		out[i].S = strings.Join(f, "*")
	}
	return out
}

// SubstituteSymbol fixes the size symbol name to value throughout f, as
// RenameSymbol renames it: a dim K·name + Off becomes the static
// K·value + Off, a product K·name·S stays symbolic as (K·value)·S. Call
// VerifyFunc afterwards: ops whose checks depended on the symbol are
// checked anew.
func (f *Func) SubstituteSymbol(name string, value int64) {
	sub := func(s Shape) Shape {
		if s == nil {
			return nil
		}
		out := s.Clone()
		for i, d := range out {
			if d.S == "" {
				continue
			}
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
				continue
			}
			k := d.K * value
			if len(rest) == 0 || k == 0 {
				out[i] = Dim{Off: k + d.Off}
			} else {
				out[i] = Dim{K: k, S: strings.Join(rest, "*"), Off: d.Off}
			}
		}
		return out
	}
	var typ func(t Type) Type
	typ = func(t Type) Type {
		if t.IsTuple() {
			elems := make([]Type, len(t.Elems))
			for i, e := range t.Elems {
				elems[i] = typ(e)
			}
			return TupleType(elems...)
		}
		return TensorType(t.DType, sub(t.Shape))
	}
	for _, a := range f.Args {
		a.Type = typ(a.Type)
	}
	for _, v := range f.Body {
		v.Type = typ(v.Type)
		for k, a := range v.Attrs {
			if s, ok := a.(Shape); ok {
				v.Attrs[k] = sub(s)
			}
		}
	}
}

package ir

import (
	"errors"
	"fmt"
	"strings"
)

// VerifyError is one problem the verifier found, naming the function and
// the value.
type VerifyError struct {
	Func  string
	Value *Value // nil for function-level problems
	Msg   string
}

func (e *VerifyError) Error() string {
	prefix := ""
	if e.Value != nil {
		if p := e.Value.Pos.String(); p != "" {
			prefix = p + ": "
		}
		return fmt.Sprintf("%s@%s: %v = %s: %s", prefix, e.Func, e.Value, e.Value.Op, e.Msg)
	}
	return fmt.Sprintf("@%s: %s", e.Func, e.Msg)
}

// maxVerifyErrors bounds how many problems one Verify call reports.
const maxVerifyErrors = 10

// Verify checks every function of m; see VerifyFunc. When m has weights
// bound, every Param must name a weight of the declared dtype and shape.
func Verify(m *Module) error {
	var errs []error
	names := map[string]bool{}
	for _, f := range m.Funcs {
		if names[f.Name] {
			errs = append(errs, &VerifyError{Func: f.Name, Msg: "function defined twice"})
		}
		names[f.Name] = true
		if err := VerifyFunc(f); err != nil {
			errs = append(errs, err)
		}
		if m.Weights != nil {
			for _, v := range f.Body {
				if v.Op != OpParam {
					continue
				}
				name := v.Attrs.String("name", "")
				w := m.Weights[name]
				switch {
				case w == nil:
					errs = append(errs, &VerifyError{f.Name, v, fmt.Sprintf("no weight named %q", name)})
				case !w.Type().Equal(v.Type):
					errs = append(errs, &VerifyError{f.Name, v, fmt.Sprintf("weight %q is %v, Param says %v", name, w.Type(), v.Type)})
				}
			}
		}
	}
	return errors.Join(errs...)
}

// VerifyFunc checks f: operand counts and attributes against the op table,
// every type recomputed from the op table, topological order, no dangling
// or foreign operands, use lists, tuples used only through Extract, and the
// results. It reports up to ten problems.
func VerifyFunc(f *Func) error {
	var errs []error
	bad := func(v *Value, format string, args ...any) {
		if len(errs) < maxVerifyErrors {
			errs = append(errs, &VerifyError{f.Name, v, fmt.Sprintf(format, args...)})
		}
	}
	defined := map[*Value]bool{}
	ids := map[int]*Value{}
	argNames := map[string]bool{}
	uses := map[*Value]int{}
	for _, a := range f.Args {
		if a.Op != OpArg {
			bad(a, "is in the argument list but is not an Arg")
		}
		if a.Name == "" || argNames[a.Name] {
			bad(a, "argument name %q is empty or repeated", a.Name)
		}
		argNames[a.Name] = true
		if a.Type.IsTuple() || a.Type.DType == InvalidDType {
			bad(a, "argument type %v is not a tensor type", a.Type)
		}
		defined[a] = true
		ids[a.ID] = a
	}
	params := map[string]*Value{}
	for _, v := range f.Body {
		if v.fn != f {
			bad(v, "belongs to another function")
		}
		if v.Op == OpArg {
			bad(v, "Arg in the body")
			continue
		}
		if defined[v] {
			bad(v, "appears twice in the body")
		}
		if o := ids[v.ID]; o != nil {
			bad(v, "ID %d already used by %v", v.ID, o.Op)
		}
		ids[v.ID] = v
		for i, a := range v.Args {
			if a == nil {
				continue
			}
			uses[a]++
			switch {
			case a.fn != f:
				bad(v, "operand %d (%v) belongs to another function or was removed", i, a)
			case !defined[a]:
				bad(v, "operand %d (%v) is not defined before its use", i, a)
			case a.Type.IsTuple() && v.Op != OpExtract:
				bad(v, "operand %d (%v) is a tuple; only Extract takes tuples", i, a)
			}
		}
		if t, err := InferType(v); err != nil {
			bad(v, "%s", strings.TrimPrefix(err.Error(), v.Op.String()+": "))
		} else if !t.Equal(v.Type) {
			bad(v, "type is %v, the op table gives %v", v.Type, t)
		}
		if v.Op == OpParam {
			name := v.Attrs.String("name", "")
			if o := params[name]; o != nil && !o.Type.Equal(v.Type) {
				bad(v, "weight %q is also used as %v", name, o.Type)
			}
			params[name] = v
		}
		defined[v] = true
	}
	for _, v := range f.Values() {
		if len(v.Users) != uses[v] {
			bad(v, "use list has %d entries, %d uses found", len(v.Users), uses[v])
			continue
		}
		for _, u := range v.Users {
			if !defined[u] || u.fn != f {
				bad(v, "use list names %v, which is not in the function", u)
			}
		}
	}
	if len(f.Results) == 0 {
		bad(nil, "no results")
	}
	if f.ResultNames != nil && len(f.ResultNames) != len(f.Results) {
		bad(nil, "%d result names for %d results", len(f.ResultNames), len(f.Results))
	}
	for i, r := range f.Results {
		switch {
		case r == nil || !defined[r]:
			bad(nil, "result %d is not a value of the function", i)
		case r.Type.IsTuple():
			bad(r, "is returned as result %d but is a tuple", i)
		}
	}
	return errors.Join(errs...)
}

package ir

import (
	"fmt"
	"slices"
)

// Value is one SSA value: an op applied to operands, with attributes and a
// result type. Args entries may be nil for absent optional operands.
type Value struct {
	// ID is dense within a function after Renumber; printing renumbers.
	ID int
	// Op is the operation; Info() gives its op-table entry.
	Op Op
	// Args are the operands, in the order of the op's ArgSpecs.
	Args []*Value
	// Attrs are the op's attributes.
	Attrs Attrs
	// Type is the result type (a tuple for multi-result ops).
	Type Type
	// Name is the argument name of an Arg value ("" otherwise).
	Name string
	// Users lists the values that use this one as an operand, once per use.
	Users []*Value
	// Pos is where the value was parsed from, if it was.
	Pos Pos

	fn *Func
}

// Pos is a position in an IR text file.
type Pos struct {
	File      string
	Line, Col int
}

// String renders file:line:col, or "" when unknown.
func (p Pos) String() string {
	if p.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Func returns the function v belongs to.
func (v *Value) Func() *Func { return v.fn }

// String returns "%ID" (or "%name" for arguments).
func (v *Value) String() string {
	if v == nil {
		return "_"
	}
	if v.Op == OpArg {
		return "%" + v.Name
	}
	return fmt.Sprintf("%%%d", v.ID)
}

// LongString describes v with its op and type, for error messages.
func (v *Value) LongString() string {
	return fmt.Sprintf("%v = %s : %v", v, v.Op, v.Type)
}

// Arg returns operand i, or nil if it is absent or out of range.
func (v *Value) Arg(i int) *Value {
	if i < len(v.Args) {
		return v.Args[i]
	}
	return nil
}

// SetArg replaces operand i, keeping use lists up to date.
func (v *Value) SetArg(i int, w *Value) {
	if old := v.Args[i]; old != nil {
		old.removeUser(v)
	}
	v.Args[i] = w
	if w != nil {
		w.Users = append(w.Users, v)
	}
}

func (v *Value) removeUser(u *Value) {
	if i := slices.Index(v.Users, u); i >= 0 {
		v.Users = slices.Delete(v.Users, i, i+1)
	}
}

// Func is a function: typed arguments, a body of values in topological
// order, and results.
type Func struct {
	// Name is the function's name without the "@".
	Name string
	// Args are the runtime inputs (OpArg values), in order.
	Args []*Value
	// Body holds every other value, each after its operands.
	Body []*Value
	// Results are the returned values; ResultNames optionally name them.
	Results     []*Value
	ResultNames []string

	nextID int
}

// NewFunc returns an empty function.
func NewFunc(name string) *Func { return &Func{Name: name} }

// NewArg adds a runtime input.
func (f *Func) NewArg(name string, t Type) *Value {
	v := &Value{ID: f.nextID, Op: OpArg, Name: name, Type: t, fn: f}
	f.nextID++
	f.Args = append(f.Args, v)
	return v
}

// newValue makes a value without placing it in the body.
func (f *Func) newValue(op Op, attrs Attrs, args []*Value) (*Value, error) {
	args = padArgs(op, args)
	v := &Value{ID: f.nextID, Op: op, Args: args, Attrs: attrs, fn: f}
	if err := checkArity(v); err != nil {
		return nil, err
	}
	t, err := InferType(v)
	if err != nil {
		return nil, err
	}
	v.Type = t
	f.nextID++
	for _, a := range args {
		if a != nil {
			a.Users = append(a.Users, v)
		}
	}
	return v, nil
}

// padArgs extends the operands of a non-variadic op with nil (absent) up to
// the op's full arity, the canonical in-memory form: passes can then set any
// optional operand with SetArg.
func padArgs(op Op, args []*Value) []*Value {
	specs := op.Info().Args
	if len(specs) > 0 && specs[len(specs)-1].Variadic || len(args) >= len(specs) {
		return args
	}
	return append(args, make([]*Value, len(specs)-len(args))...)
}

// Append adds op(args){attrs} at the end of the body, inferring its type
// from the op table.
func (f *Func) Append(op Op, attrs Attrs, args ...*Value) (*Value, error) {
	v, err := f.newValue(op, attrs, args)
	if err != nil {
		return nil, err
	}
	f.Body = append(f.Body, v)
	return v, nil
}

// InsertBefore adds op(args){attrs} to the body just before pos.
func (f *Func) InsertBefore(pos *Value, op Op, attrs Attrs, args ...*Value) (*Value, error) {
	i := slices.Index(f.Body, pos)
	if i < 0 {
		return nil, fmt.Errorf("InsertBefore: %v is not in @%s", pos, f.Name)
	}
	v, err := f.newValue(op, attrs, args)
	if err != nil {
		return nil, err
	}
	f.Body = slices.Insert(f.Body, i, v)
	return v, nil
}

// AppendDeclared adds a value whose type is given rather than inferred
// (Param and Const, and the parser, which checks the given type later in the
// verifier).
func (f *Func) AppendDeclared(op Op, attrs Attrs, t Type, args ...*Value) *Value {
	args = padArgs(op, args)
	v := &Value{ID: f.nextID, Op: op, Args: args, Attrs: attrs, Type: t, fn: f}
	f.nextID++
	for _, a := range args {
		if a != nil {
			a.Users = append(a.Users, v)
		}
	}
	f.Body = append(f.Body, v)
	return v
}

// InsertDeclaredBefore adds a value with a given type just before pos (for
// Param values that passes create).
func (f *Func) InsertDeclaredBefore(pos *Value, op Op, attrs Attrs, t Type, args ...*Value) (*Value, error) {
	i := slices.Index(f.Body, pos)
	if i < 0 {
		return nil, fmt.Errorf("InsertDeclaredBefore: %v is not in @%s", pos, f.Name)
	}
	v := f.AppendDeclared(op, attrs, t, args...)
	f.Body = slices.Insert(f.Body[:len(f.Body)-1], i, v)
	return v, nil
}

// Param adds a weight: a value bound to external storage by name.
func (f *Func) Param(name string, t Type) *Value {
	return f.AppendDeclared(OpParam, Attrs{"name": name}, t)
}

// Const adds a constant with inline data.
func (f *Func) Const(t *Tensor) *Value {
	return f.AppendDeclared(OpConst, Attrs{"value": t}, t.Type())
}

// SetResults sets the returned values and their (optional) names.
func (f *Func) SetResults(vals []*Value, names []string) {
	f.Results = vals
	f.ResultNames = names
}

// ReplaceUses makes every use of old (operands and results) use new instead.
func (f *Func) ReplaceUses(old, new *Value) {
	for _, u := range slices.Clone(old.Users) {
		for i, a := range u.Args {
			if a == old {
				u.SetArg(i, new)
			}
		}
	}
	for i, r := range f.Results {
		if r == old {
			f.Results[i] = new
		}
	}
}

// IsResult reports whether v is returned by f.
func (f *Func) IsResult(v *Value) bool { return slices.Contains(f.Results, v) }

// Remove deletes values from the body and drops their uses of operands. The
// removed values must not be used by values that stay.
func (f *Func) Remove(dead ...*Value) {
	set := make(map[*Value]bool, len(dead))
	for _, v := range dead {
		set[v] = true
		for i := range v.Args {
			if v.Args[i] != nil {
				v.SetArg(i, nil)
			}
		}
	}
	f.Body = slices.DeleteFunc(f.Body, func(v *Value) bool { return set[v] })
}

// Renumber gives arguments and body values dense IDs in order.
func (f *Func) Renumber() {
	id := 0
	for _, v := range f.Args {
		v.ID = id
		id++
	}
	for _, v := range f.Body {
		v.ID = id
		id++
	}
	f.nextID = id
}

// Values returns the arguments followed by the body.
func (f *Func) Values() []*Value {
	return append(slices.Clone(f.Args), f.Body...)
}

// Clone returns a deep copy of f (attribute values are shared; they are
// immutable).
func (f *Func) Clone() *Func {
	g := &Func{Name: f.Name, ResultNames: slices.Clone(f.ResultNames), nextID: f.nextID}
	m := make(map[*Value]*Value, len(f.Args)+len(f.Body))
	for _, v := range f.Args {
		w := &Value{ID: v.ID, Op: v.Op, Name: v.Name, Type: v.Type, Attrs: v.Attrs.Clone(), Pos: v.Pos, fn: g}
		m[v] = w
		g.Args = append(g.Args, w)
	}
	for _, v := range f.Body {
		w := &Value{ID: v.ID, Op: v.Op, Name: v.Name, Type: v.Type, Attrs: v.Attrs.Clone(), Pos: v.Pos, fn: g}
		w.Args = make([]*Value, len(v.Args))
		for i, a := range v.Args {
			if a != nil {
				w.Args[i] = m[a]
				m[a].Users = append(m[a].Users, w)
			}
		}
		m[v] = w
		g.Body = append(g.Body, w)
	}
	for _, r := range f.Results {
		g.Results = append(g.Results, m[r])
	}
	return g
}

// Module is a compilation unit: functions that share one set of weights.
type Module struct {
	Funcs []*Func
	// Weights binds Param names to data; nil when the module is text only.
	Weights map[string]*Tensor
}

// Func returns the function named name, or nil.
func (m *Module) Func(name string) *Func {
	for _, f := range m.Funcs {
		if f.Name == name {
			return f
		}
	}
	return nil
}

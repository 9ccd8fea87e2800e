package ir

import (
	"fmt"
	"strings"
)

// Op identifies an operation; its behaviour is described by its OpInfo.
type Op uint16

// OpFlags are properties of an op that passes query.
type OpFlags uint32

// The op flags.
const (
	// Elementwise: each output element depends only on the operand
	// elements at the same (broadcast) index.
	Elementwise OpFlags = 1 << iota
	// Commutative: the first two operands may be swapped.
	Commutative
	// Fused: a composite op that the fusion passes produce and the code
	// generator emits as one kernel.
	Fused
	// Stateful: the op reads or writes a recurrent state operand/result.
	Stateful
	// Source: the op has no operands and its type is declared, not
	// inferred (Arg, Param, Const).
	Source
)

// ArgSpec describes one operand position.
type ArgSpec struct {
	Name     string
	Optional bool // may be absent (nil, printed "_")
	Variadic bool // last position only: zero or more further operands
}

// AttrSpec describes one attribute.
type AttrSpec struct {
	Name     string
	Kind     AttrKind
	Required bool
	// Default is the value used when an optional attribute is absent.
	Default any
	// Enum, when non-empty, lists the allowed string values.
	Enum []string
}

// OpInfo is an op's entry in the op table.
type OpInfo struct {
	Name  string
	Args  []ArgSpec
	Attrs []AttrSpec
	Flags OpFlags
	// Infer computes the result type from the operand types and attributes,
	// checking the op's dtype and shape rules. For Source ops it validates
	// and returns the declared type.
	Infer func(v *Value) (Type, error)
	// Formula is the one-line reference semantics.
	Formula string
}

// Has reports whether the op has all of the flags f.
func (o *OpInfo) Has(f OpFlags) bool { return o.Flags&f == f }

// MinArgs is the number of operands that must be present.
func (o *OpInfo) MinArgs() int {
	n := 0
	for _, a := range o.Args {
		if !a.Optional && !a.Variadic {
			n++
		}
	}
	return n
}

// Attr returns the spec of attribute name, or nil.
func (o *OpInfo) Attr(name string) *AttrSpec {
	for i := range o.Attrs {
		if o.Attrs[i].Name == name {
			return &o.Attrs[i]
		}
	}
	return nil
}

var (
	opTable  []*OpInfo
	opByName = map[string]Op{}
)

// Register adds an op to the table and returns its Op. Packages that define
// new ops (gradient ops, new SSM forms) call it from init. It panics on a
// duplicate name or a malformed entry: the op table is program data.
func Register(info *OpInfo) Op {
	if _, dup := opByName[info.Name]; dup {
		panic("ir: duplicate op " + info.Name)
	}
	if info.Infer == nil {
		panic("ir: op " + info.Name + " has no Infer")
	}
	for i, a := range info.Args {
		if a.Variadic && i != len(info.Args)-1 {
			panic("ir: op " + info.Name + ": variadic operand not last")
		}
	}
	op := Op(len(opTable))
	opTable = append(opTable, info)
	opByName[info.Name] = op
	return op
}

// Info returns the op's table entry.
func (o Op) Info() *OpInfo { return opTable[o] }

// String returns the op's name.
func (o Op) String() string {
	if int(o) < len(opTable) {
		return opTable[o].Name
	}
	return fmt.Sprintf("op(%d)", uint16(o))
}

// Lookup returns the op named name.
func Lookup(name string) (Op, bool) {
	op, ok := opByName[name]
	return op, ok
}

// Ops returns every registered op in registration order.
func Ops() []Op {
	ops := make([]Op, len(opTable))
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// checkArity checks operand count and presence against the op's ArgSpecs.
func checkArity(v *Value) error {
	info := v.Op.Info()
	specs := info.Args
	variadic := len(specs) > 0 && specs[len(specs)-1].Variadic
	if len(v.Args) > len(specs) && !variadic {
		return fmt.Errorf("%s takes at most %d operands, has %d", info.Name, len(specs), len(v.Args))
	}
	for i, s := range specs {
		if s.Variadic {
			break
		}
		if i >= len(v.Args) || v.Args[i] == nil {
			if !s.Optional {
				return fmt.Errorf("%s: operand %d (%s) is required", info.Name, i, s.Name)
			}
		}
	}
	if variadic {
		for i := len(specs) - 1; i < len(v.Args); i++ {
			if v.Args[i] == nil {
				return fmt.Errorf("%s: variadic operand %d is absent", info.Name, i)
			}
		}
	}
	for i, a := range v.Args {
		if a != nil && a.Type.IsTuple() && v.Op != OpExtract {
			return fmt.Errorf("%s: operand %d is a tuple; use Extract", info.Name, i)
		}
	}
	return nil
}

// checkAttrs checks attribute names, kinds and enums against the schema.
func checkAttrs(v *Value) error {
	info := v.Op.Info()
	for _, k := range v.Attrs.Keys() {
		s := info.Attr(k)
		if s == nil {
			return fmt.Errorf("%s has no attribute %q", info.Name, k)
		}
		if got := kindOf(v.Attrs[k]); got != s.Kind {
			return fmt.Errorf("%s: attribute %s must be %v, is %v", info.Name, k, s.Kind, got)
		}
		if len(s.Enum) > 0 {
			str := v.Attrs[k].(string)
			ok := false
			for _, e := range s.Enum {
				ok = ok || e == str
			}
			if !ok {
				return fmt.Errorf("%s: attribute %s = %q, want one of %s", info.Name, k, str, strings.Join(s.Enum, ", "))
			}
		}
	}
	for _, s := range info.Attrs {
		if s.Required {
			if _, ok := v.Attrs[s.Name]; !ok {
				return fmt.Errorf("%s: attribute %s is required", info.Name, s.Name)
			}
		}
	}
	return nil
}

// InferType checks v's attributes and operands against the op table and
// returns the type the op produces.
func InferType(v *Value) (Type, error) {
	if err := checkArity(v); err != nil {
		return Type{}, err
	}
	if err := checkAttrs(v); err != nil {
		return Type{}, err
	}
	return v.Op.Info().Infer(v)
}

// AttrOr returns v's attribute name, or the op table's default for it.
func (v *Value) AttrOr(name string) any {
	if a, ok := v.Attrs[name]; ok {
		return a
	}
	if s := v.Op.Info().Attr(name); s != nil {
		return s.Default
	}
	return nil
}

// IntAttr returns an int attribute or its default.
func (v *Value) IntAttr(name string) int64 { x, _ := v.AttrOr(name).(int64); return x }

// FloatAttr returns a float attribute or its default.
func (v *Value) FloatAttr(name string) float64 { x, _ := v.AttrOr(name).(float64); return x }

// BoolAttr returns a bool attribute or its default.
func (v *Value) BoolAttr(name string) bool { x, _ := v.AttrOr(name).(bool); return x }

// StringAttr returns a string attribute or its default.
func (v *Value) StringAttr(name string) string { x, _ := v.AttrOr(name).(string); return x }

// IntsAttr returns an ints attribute or its default.
func (v *Value) IntsAttr(name string) []int64 { x, _ := v.AttrOr(name).([]int64); return x }

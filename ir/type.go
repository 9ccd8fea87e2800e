package ir

import "strings"

// Type is the type of a value: a tensor (DType and Shape), or a tuple of
// tensor types (Elems non-nil) for ops with several results.
type Type struct {
	DType DType
	Shape Shape
	Elems []Type
}

// TensorType returns the tensor type dt[shape].
func TensorType(dt DType, shape Shape) Type { return Type{DType: dt, Shape: shape} }

// TupleType returns the tuple of the given tensor types.
func TupleType(elems ...Type) Type { return Type{Elems: elems} }

// IsTuple reports whether t is a tuple type.
func (t Type) IsTuple() bool { return t.Elems != nil }

// Equal reports whether t and u are the same type.
func (t Type) Equal(u Type) bool {
	if t.IsTuple() != u.IsTuple() {
		return false
	}
	if t.IsTuple() {
		if len(t.Elems) != len(u.Elems) {
			return false
		}
		for i := range t.Elems {
			if !t.Elems[i].Equal(u.Elems[i]) {
				return false
			}
		}
		return true
	}
	return t.DType == u.DType && t.Shape.Equal(u.Shape)
}

// String renders t as f32[B,L,64] or (f32[B,L,64], f32[B,64,16]).
func (t Type) String() string {
	if t.IsTuple() {
		parts := make([]string, len(t.Elems))
		for i, e := range t.Elems {
			parts[i] = e.String()
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return t.DType.String() + t.Shape.String()
}

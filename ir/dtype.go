package ir

import "fmt"

// DType is an element type.
type DType uint8

// The element types of the IR.
const (
	InvalidDType DType = iota
	F32
	F16
	BF16
	F64
	I8
	I32
	I64
	Bool
)

var dtypeNames = [...]string{
	InvalidDType: "invalid",
	F32:          "f32",
	F16:          "f16",
	BF16:         "bf16",
	F64:          "f64",
	I8:           "i8",
	I32:          "i32",
	I64:          "i64",
	Bool:         "bool",
}

// String returns the dtype's name in the text format (f32, bf16, i64, …).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	case F64, I64:
		return 8
	case I8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// IsInt reports whether d is a signed integer type.
func (d DType) IsInt() bool { return d == I8 || d == I32 || d == I64 }

// ParseDType returns the dtype named s.
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if n == s && i != int(InvalidDType) {
			return DType(i), nil
		}
	}
	return InvalidDType, fmt.Errorf("unknown dtype %q", s)
}

package safetensors

// DType is a safetensors element type, spelled as in the file header
// (for example "F32" or "BF16").
type DType string

// Element types understood by this package.
const (
	F32  DType = "F32"  // IEEE 754 binary32
	F16  DType = "F16"  // IEEE 754 binary16
	BF16 DType = "BF16" // bfloat16
	F64  DType = "F64"  // IEEE 754 binary64
	I8   DType = "I8"   // signed 8-bit integer
	I32  DType = "I32"  // signed 32-bit integer
	I64  DType = "I64"  // signed 64-bit integer
	U8   DType = "U8"   // unsigned 8-bit integer
	Bool DType = "BOOL" // one byte per element, 0 or 1
)

// DTypes returns every supported element type.
func DTypes() []DType { return []DType{F32, F16, BF16, F64, I8, I32, I64, U8, Bool} }

// Size returns the size in bytes of one element of type d, or 0 if d is not
// a supported element type.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// Valid reports whether d is a supported element type.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point type, i.e. one that
// Float32s can convert.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// String returns the header spelling of d.
func (d DType) String() string { return string(d) }

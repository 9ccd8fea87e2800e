package ir

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ssmc-dev/ssmc/internal/half"
)

// Tensor is constant data: a dtype, a static shape and the elements,
// row-major and little-endian in Data.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// NumElements is the product of the shape.
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Type returns the tensor's IR type.
func (t *Tensor) Type() Type { return TensorType(t.DType, Static(t.Shape...)) }

// NewTensor returns a tensor over data, checking that its length matches.
func NewTensor(dt DType, shape []int64, data []byte) (*Tensor, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension in %v", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return nil, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	if dt.Size() == 0 {
		return nil, fmt.Errorf("invalid dtype %v", dt)
	}
	if int64(len(data)) != n*int64(dt.Size()) {
		return nil, fmt.Errorf("%v%v needs %d bytes, have %d", dt, shape, n*int64(dt.Size()), len(data))
	}
	return &Tensor{DType: dt, Shape: append([]int64(nil), shape...), Data: data}, nil
}

// TensorFromFloat64s encodes vals as a tensor of dtype dt: floats round
// once to nearest even; integers truncate toward zero and saturate (NaN is
// 0); bools are v != 0.
func TensorFromFloat64s(dt DType, shape []int64, vals []float64) *Tensor {
	sz := dt.Size()
	data := make([]byte, len(vals)*sz)
	for i, v := range vals {
		b := data[i*sz:]
		switch dt {
		case F32:
			binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
		case F64:
			binary.LittleEndian.PutUint64(b, math.Float64bits(v))
		case F16:
			binary.LittleEndian.PutUint16(b, half.F32ToF16(roundToOddF32(v)))
		case BF16:
			binary.LittleEndian.PutUint16(b, half.F32ToBF16(roundToOddF32(v)))
		case I8:
			b[0] = byte(int8(saturate(v, math.MinInt8, math.MaxInt8)))
		case I32:
			binary.LittleEndian.PutUint32(b, uint32(int32(saturate(v, math.MinInt32, math.MaxInt32))))
		case I64:
			binary.LittleEndian.PutUint64(b, uint64(saturate(v, math.MinInt64, math.MaxInt64)))
		case Bool:
			if v != 0 {
				b[0] = 1
			}
		}
	}
	return &Tensor{DType: dt, Shape: append([]int64(nil), shape...), Data: data}
}

// roundToOddF32 narrows v to float32 rounding toward zero and setting the
// last mantissa bit when inexact ("round to odd"). Rounding that result to
// a format with at least two fewer mantissa bits (bf16, f16) gives the same
// answer as rounding v directly: no double rounding.
func roundToOddF32(v float64) float32 {
	f := float32(v)
	if math.IsNaN(v) || float64(f) == v {
		return f
	}
	if math.Abs(float64(f)) > math.Abs(v) {
		f = math.Nextafter32(f, 0)
	}
	return math.Float32frombits(math.Float32bits(f) | 1)
}

// saturate truncates v toward zero and clamps it to [lo, hi]; NaN is 0.
func saturate(v float64, lo, hi int64) int64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v <= float64(lo):
		return lo
	case v >= float64(hi):
		return hi
	}
	return int64(v)
}

// TensorFromInt64s encodes integer values exactly (for i64 beyond 2^53).
func TensorFromInt64s(dt DType, shape []int64, vals []int64) *Tensor {
	if dt != I64 {
		f := make([]float64, len(vals))
		for i, v := range vals {
			f[i] = float64(v)
		}
		return TensorFromFloat64s(dt, shape, f)
	}
	data := make([]byte, len(vals)*8)
	for i, v := range vals {
		binary.LittleEndian.PutUint64(data[i*8:], uint64(v))
	}
	return &Tensor{DType: dt, Shape: append([]int64(nil), shape...), Data: data}
}

// At returns element i converted to float64.
func (t *Tensor) At(i int) float64 {
	sz := t.DType.Size()
	b := t.Data[i*sz:]
	switch t.DType {
	case F32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case F64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case F16:
		return float64(half.F16ToF32(binary.LittleEndian.Uint16(b)))
	case BF16:
		return float64(half.BF16ToF32(binary.LittleEndian.Uint16(b)))
	case I8:
		return float64(int8(b[0]))
	case I32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case I64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case Bool:
		if b[0] != 0 {
			return 1
		}
	}
	return 0
}

// IntAt returns element i of an integer or bool tensor exactly.
func (t *Tensor) IntAt(i int) int64 {
	if t.DType == I64 {
		return int64(binary.LittleEndian.Uint64(t.Data[i*8:]))
	}
	return int64(t.At(i))
}

// Float64s decodes every element to float64.
func (t *Tensor) Float64s() []float64 {
	n := int(t.NumElements())
	out := make([]float64, n)
	for i := range out {
		out[i] = t.At(i)
	}
	return out
}

// Float32s decodes every element to float32.
func (t *Tensor) Float32s() []float32 {
	n := int(t.NumElements())
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(t.At(i))
	}
	return out
}

// Int64s decodes every element of an integer or bool tensor.
func (t *Tensor) Int64s() []int64 {
	n := int(t.NumElements())
	out := make([]int64, n)
	for i := range out {
		out[i] = t.IntAt(i)
	}
	return out
}

// Equal reports whether t and u have the same dtype, shape and bytes.
func (t *Tensor) Equal(u *Tensor) bool {
	if t.DType != u.DType || len(t.Shape) != len(u.Shape) || string(t.Data) != string(u.Data) {
		return false
	}
	for i := range t.Shape {
		if t.Shape[i] != u.Shape[i] {
			return false
		}
	}
	return true
}

package cpu

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// Tensor is a dense, row-major CPU tensor with concrete sizes. Activations
// are f32 (F32 holds the data) or i64 (I64); weights stored in a narrower
// float type stay in Raw, little-endian, and kernels that read weights
// (MatMul, LoRAMatMul, Gather) convert them on the fly.
type Tensor struct {
	DType ir.DType
	Shape []int
	F32   []float32 // when DType == F32
	I64   []int64   // when DType == I64
	Raw   []byte    // when DType is BF16 or F16 (read-only weights)
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// String describes the tensor's type, for errors.
func (t *Tensor) String() string { return fmt.Sprintf("%v%v", t.DType, t.Shape) }

// Strides returns the row-major strides of shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// FromIR converts constant data to a CPU tensor: f32 and f64 become F32
// (copied for f64), bf16/f16 keep their bytes in Raw, integers and bools
// become I64. F32 data is copied only when it is not 4-byte aligned.
func FromIR(t *ir.Tensor) (*Tensor, error) {
	shape := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		shape[i] = int(d)
	}
	out := &Tensor{Shape: shape}
	switch t.DType {
	case ir.F32:
		out.DType = ir.F32
		out.F32 = bytesAsF32(t.Data)
	case ir.F64:
		out.DType = ir.F32
		out.F32 = t.Float32s()
	case ir.BF16, ir.F16:
		out.DType = t.DType
		out.Raw = t.Data
	case ir.I8, ir.I32, ir.I64, ir.Bool:
		out.DType = ir.I64
		out.I64 = t.Int64s()
	default:
		return nil, fmt.Errorf("cpu: tensors of %v are not supported", t.DType)
	}
	return out, nil
}

// ToIR copies a CPU tensor into constant data of dtype dt (F32 or I64
// tensors only).
func ToIR(t *Tensor, dt ir.DType) *ir.Tensor {
	shape := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		shape[i] = int64(d)
	}
	if t.DType == ir.I64 {
		return ir.TensorFromInt64s(dt, shape, t.I64)
	}
	vals := make([]float64, len(t.F32))
	for i, x := range t.F32 {
		vals[i] = float64(x)
	}
	return ir.TensorFromFloat64s(dt, shape, vals)
}

package ref

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/ssmc-dev/ssmc/ir"
)

// MaxElements is the largest number of elements a single result may have;
// larger results are refused with an error before anything is allocated.
const MaxElements = 1 << 31

// numElements returns the product of shape, or an error when a dimension
// is negative or the shape is too large: the product of its dimensions,
// counting 0 as 1, may not exceed MaxElements. (Bounding empty shapes too
// keeps every partial product small, so loops over the outer dims of an
// empty tensor stay short and nothing overflows.)
func numElements(shape []int64) (int64, error) {
	n, bound := int64(1), int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", shape)
		}
		m := max(d, 1)
		if bound > MaxElements/m {
			return 0, fmt.Errorf("shape %v is too large (over %d elements, counting empty dims as 1)", shape, int64(MaxElements))
		}
		bound *= m
		n *= d
	}
	return n, nil
}

// checkTensor reports whether t is a well-formed tensor: a valid dtype,
// non-negative dimensions, at most MaxElements elements and exactly the
// bytes its shape needs.
func checkTensor(t *ir.Tensor) error {
	if t == nil {
		return fmt.Errorf("nil tensor")
	}
	if t.DType.Size() == 0 {
		return fmt.Errorf("invalid dtype %v", t.DType)
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return err
	}
	if want := n * int64(t.DType.Size()); int64(len(t.Data)) != want {
		return fmt.Errorf("%v%v needs %d bytes, has %d", t.DType, t.Shape, want, len(t.Data))
	}
	return nil
}

// float format parameters: significand bits p (with the implicit bit),
// smallest normal exponent and largest finite value.
type floatFormat struct {
	p         int
	emin      int
	maxFinite float64
}

var (
	f16Format  = floatFormat{p: 11, emin: -14, maxFinite: 65504}
	bf16Format = floatFormat{p: 8, emin: -126, maxFinite: float64(math.Float32frombits(0x7f7f0000))}
)

// round rounds x to the nearest value of the format, ties to even,
// overflowing to ±Inf and underflowing through the subnormals; NaN and
// infinities stay as they are. x/ulp and r·ulp are exact scalings by powers
// of two, so the only rounding is RoundToEven.
func (f floatFormat) round(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	_, e := math.Frexp(x) // |x| in [2^(e-1), 2^e)
	lead := max(e-1, f.emin)
	ulp := math.Ldexp(1, lead-(f.p-1))
	r := math.RoundToEven(x/ulp) * ulp
	if math.Abs(r) > f.maxFinite {
		return math.Copysign(math.Inf(1), x)
	}
	return r
}

// roundTo rounds x to float dtype dt (once, to nearest even).
func roundTo(dt ir.DType, x float64) float64 {
	switch dt {
	case ir.F32:
		return float64(float32(x))
	case ir.F16:
		return f16Format.round(x)
	case ir.BF16:
		return bf16Format.round(x)
	}
	return x
}

// intToFloat converts x to float dtype dt with a single rounding, also for
// |x| > 2^53 where float64(x) would already round.
func intToFloat(dt ir.DType, x int64) float64 {
	if x >= -(1<<53) && x <= 1<<53 {
		return roundTo(dt, float64(x))
	}
	switch dt {
	case ir.F64:
		return float64(x)
	case ir.F32:
		return float64(float32(x))
	}
	// f16 overflows long before 2^53; bf16 keeps 8 significant bits:
	// round the magnitude in integer arithmetic, ties to even.
	if dt == ir.F16 {
		return math.Copysign(math.Inf(1), float64(x))
	}
	u := uint64(x)
	if x < 0 {
		u = -u
	}
	drop := bits.Len64(u) - bf16Format.p
	q, rem, half := u>>drop, u&(1<<drop-1), uint64(1)<<(drop-1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return math.Copysign(math.Ldexp(float64(q), drop), float64(x))
}

// floatToInt converts x to integer dtype dt truncating toward zero,
// saturating at the type's range; NaN becomes 0.
func floatToInt(dt ir.DType, x float64) int64 {
	lo, hi := intRange(dt)
	switch {
	case math.IsNaN(x):
		return 0
	case x <= float64(lo):
		return lo
	case x >= float64(hi):
		return hi
	}
	return int64(x) // in range: Go truncates toward zero
}

// intRange returns the smallest and largest value of integer dtype dt.
func intRange(dt ir.DType) (lo, hi int64) {
	switch dt {
	case ir.I8:
		return math.MinInt8, math.MaxInt8
	case ir.I32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// wrapInt wraps x to the width of integer dtype dt (two's complement), and
// maps it to 0 or 1 for bool.
func wrapInt(dt ir.DType, x int64) int64 {
	switch dt {
	case ir.I8:
		return int64(int8(x))
	case ir.I32:
		return int64(int32(x))
	case ir.Bool:
		if x != 0 {
			return 1
		}
		return 0
	}
	return x
}

// floatTensor encodes vals as a float tensor of dtype dt, rounding each
// value once to dt (in place: vals is the caller's scratch).
func floatTensor(dt ir.DType, shape []int64, vals []float64) *ir.Tensor {
	for i, x := range vals {
		vals[i] = roundTo(dt, x)
	}
	// vals now holds values exactly representable in dt, so the encoder
	// (which goes through float32 for f16 and bf16) does not round again.
	return ir.TensorFromFloat64s(dt, shape, vals)
}

// intTensor encodes vals as an integer or bool tensor of dtype dt, wrapping
// each value to dt's width (in place).
func intTensor(dt ir.DType, shape []int64, vals []int64) *ir.Tensor {
	for i, x := range vals {
		vals[i] = wrapInt(dt, x)
	}
	return ir.TensorFromInt64s(dt, shape, vals)
}

// cloneTensor returns a deep copy of t.
func cloneTensor(t *ir.Tensor) *ir.Tensor {
	return &ir.Tensor{DType: t.DType, Shape: append([]int64{}, t.Shape...), Data: append([]byte{}, t.Data...)}
}

// strides returns the row-major strides of shape (in elements).
func strides(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// unflatten writes the multi-index of row-major flat index i of shape into
// idx.
func unflatten(i int64, shape, idx []int64) {
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
}

// product returns the product of dims (1 for none).
func product(dims []int64) int64 {
	p := int64(1)
	for _, d := range dims {
		p *= d
	}
	return p
}

package cpu

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// Helpers shared by the kernel files: operand checks that turn bad inputs
// into errors naming the value, and the strided walk that the elementwise
// and shape kernels loop with.

// kernelError returns an error naming the value being computed.
func kernelError(v *ir.Value, format string, a ...any) error {
	name := "<nil value>"
	if v != nil {
		name = v.LongString()
	}
	return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...))
}

// maxElements bounds the element count of any tensor a kernel accepts, so
// that index arithmetic cannot overflow.
const maxElements = 1 << 40

// numel returns the number of elements of shape, or false when a
// dimension is negative or the product exceeds maxElements.
func numel(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d != 0 && n > maxElements/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// checkData reports whether t's data has exactly the length its dtype and
// shape call for.
func checkData(t *Tensor) error {
	n, ok := numel(t.Shape)
	if !ok {
		return fmt.Errorf("bad shape %v", t.Shape)
	}
	var got, want int
	switch t.DType {
	case ir.F32:
		got, want = len(t.F32), n
	case ir.I64:
		got, want = len(t.I64), n
	case ir.BF16, ir.F16:
		got, want = len(t.Raw), 2*n
	default:
		return fmt.Errorf("%v tensors are not supported by the CPU kernels", t.DType)
	}
	if got != want {
		return fmt.Errorf("%v has %d data elements, want %d", t, got, want)
	}
	return nil
}

// operand returns in[i] after checking its data; absent operands are
// errors.
func operand(v *ir.Value, in []*Tensor, i int, name string) (*Tensor, error) {
	if v == nil {
		return nil, kernelError(v, "no value to compute")
	}
	if i >= len(in) || in[i] == nil {
		return nil, kernelError(v, "operand %d (%s) is missing", i, name)
	}
	if err := checkData(in[i]); err != nil {
		return nil, kernelError(v, "operand %s: %v", name, err)
	}
	return in[i], nil
}

// optional returns in[i] after checking its data, or nil when absent.
func optional(v *ir.Value, in []*Tensor, i int, name string) (*Tensor, error) {
	if i >= len(in) || in[i] == nil {
		return nil, nil
	}
	return operand(v, in, i, name)
}

// result returns out[i] after checking its data.
func result(v *ir.Value, out []*Tensor, i int) (*Tensor, error) {
	if v == nil {
		return nil, kernelError(v, "no value to compute")
	}
	if i >= len(out) || out[i] == nil {
		return nil, kernelError(v, "result %d is missing", i)
	}
	if err := checkData(out[i]); err != nil {
		return nil, kernelError(v, "result %d: %v", i, err)
	}
	return out[i], nil
}

// f32Operand is operand restricted to F32 tensors.
func f32Operand(v *ir.Value, in []*Tensor, i int, name string) (*Tensor, error) {
	t, err := operand(v, in, i, name)
	if err == nil && t.DType != ir.F32 {
		return nil, kernelError(v, "operand %s is %v, want f32", name, t)
	}
	return t, err
}

// f32Optional is optional restricted to F32 tensors.
func f32Optional(v *ir.Value, in []*Tensor, i int, name string) (*Tensor, error) {
	t, err := optional(v, in, i, name)
	if err == nil && t != nil && t.DType != ir.F32 {
		return nil, kernelError(v, "operand %s is %v, want f32", name, t)
	}
	return t, err
}

// f32Result is result restricted to F32 tensors.
func f32Result(v *ir.Value, out []*Tensor, i int) (*Tensor, error) {
	t, err := result(v, out, i)
	if err == nil && t.DType != ir.F32 {
		return nil, kernelError(v, "result %d is %v, want f32", i, t)
	}
	return t, err
}

// sameShape reports whether a and b are equal.
func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// prod is the product of dims (1 for none); the dims come from checked
// shapes.
func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), axis >= 0 && axis < int64(rank)
}

// rowStrides writes the row-major strides of shape into st.
func rowStrides(shape, st []int) {
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
}

// maxOps is the most operands a walk tracks.
const maxOps = 3

// walk visits a row-major index space in runs along its last dimension,
// keeping for each operand the offset of the current run's first element.
// Size-1 dims are dropped and adjacent dims merged where every operand
// steps through them as one, so runs are as long as they can be. Its
// memory comes from the caller (walkInts), so a walk allocates nothing.
//
//	for r := 0; r < w.rows; r++ {
//	    // run r: elements r·w.n .. r·w.n+w.n-1 of the index space;
//	    // operand j at w.off[j] + i·w.inner[j] for i < w.n
//	    w.next()
//	}
type walk struct {
	r, lo, nops int
	dims        []int // dims[lo:r] are the merged dims, row-major
	st          []int // st[j*r+d]: operand j's stride in dim d
	cnt         []int
	off, base   [maxOps]int
	inner       [maxOps]int
	n, rows     int
}

// walkInts is the scratch size a walk over rank dims needs.
func walkInts(rank int) int { return (2 + maxOps) * rank }

// init starts a walk over shape with nops operands whose strides are all 0
// and base offsets 0; set them with setStride and setBase, then prepare.
func (w *walk) init(buf []int, shape []int, nops int) {
	r := len(shape)
	*w = walk{r: r, nops: nops, dims: buf[:r], st: buf[r : r+maxOps*r], cnt: buf[r+maxOps*r : (2+maxOps)*r]}
	copy(w.dims, shape)
	clear(w.st)
}

// setStride sets operand op's stride (in elements) along dim d.
func (w *walk) setStride(op, d, stride int) { w.st[op*w.r+d] = stride }

// setBase sets operand op's offset at the first element.
func (w *walk) setBase(op, off int) { w.base[op] = off }

// prepare merges dims and positions the walk at its first run.
func (w *walk) prepare() {
	r := w.r
	for _, d := range w.dims {
		if d == 0 {
			w.rows, w.n, w.lo = 0, 0, r
			return
		}
	}
	// Merge from the right, writing merged dims at r-1, r-2, ... (never
	// ahead of the dim being read).
	m := 0
	for d := r - 1; d >= 0; d-- {
		sz := w.dims[d]
		if sz == 1 {
			continue
		}
		if m > 0 {
			p := r - m // the innermost-so-far merged dim's position
			ok := true
			for j := 0; j < w.nops; j++ {
				ok = ok && w.st[j*r+d] == w.st[j*r+p]*w.dims[p]
			}
			if ok {
				w.dims[p] *= sz
				continue
			}
		}
		p := r - 1 - m
		w.dims[p] = sz
		for j := 0; j < w.nops; j++ {
			w.st[j*r+p] = w.st[j*r+d]
		}
		m++
	}
	w.lo = r - m
	w.n, w.rows = 1, 1
	w.inner = [maxOps]int{}
	if m > 0 {
		w.n = w.dims[r-1]
		for j := 0; j < w.nops; j++ {
			w.inner[j] = w.st[j*r+r-1]
		}
		w.rows = prod(w.dims[w.lo : r-1])
	}
	w.reset()
}

// reset goes back to the first run.
func (w *walk) reset() {
	w.off = w.base
	clear(w.cnt)
}

// next advances to the next run.
func (w *walk) next() {
	r := w.r
	for d := r - 2; d >= w.lo; d-- {
		w.cnt[d]++
		for j := 0; j < w.nops; j++ {
			w.off[j] += w.st[j*r+d]
		}
		if w.cnt[d] < w.dims[d] {
			return
		}
		w.cnt[d] = 0
		for j := 0; j < w.nops; j++ {
			w.off[j] -= w.st[j*r+d] * w.dims[d]
		}
	}
}

// gatherRuns copies operand 0 of w into the contiguous dst:
//
//	for each run r, i < n: dst[r·n + i] = src[off0 + i·inner0]
func gatherRuns[T float32 | int64](dst, src []T, w *walk) {
	n, is := w.n, w.inner[0]
	for r := 0; r < w.rows; r++ {
		d := dst[r*n : r*n+n]
		o := w.off[0]
		if is == 1 {
			copy(d, src[o:o+n])
		} else {
			for i := range d {
				d[i] = src[o]
				o += is
			}
		}
		w.next()
	}
}

// scatterRuns copies the contiguous src into operand 0 of w:
//
//	for each run r, i < n: dst[off0 + i·inner0] = src[r·n + i]
func scatterRuns[T float32 | int64](dst, src []T, w *walk) {
	n, is := w.n, w.inner[0]
	for r := 0; r < w.rows; r++ {
		s := src[r*n : r*n+n]
		o := w.off[0]
		if is == 1 {
			copy(dst[o:o+n], s)
		} else {
			for _, x := range s {
				dst[o] = x
				o += is
			}
		}
		w.next()
	}
}

// wrapInt wraps an int64 result to the width of the value's integer dtype
// (the CPU backend holds every integer in an int64).
func wrapInt(dt ir.DType, y []int64) {
	switch dt {
	case ir.I32:
		for i, x := range y {
			y[i] = int64(int32(x))
		}
	case ir.I8:
		for i, x := range y {
			y[i] = int64(int8(x))
		}
	}
}

// valueDType returns the IR dtype of v's result i (its only result when v
// is not a tuple), or InvalidDType.
func valueDType(v *ir.Value, i int) ir.DType {
	if v == nil {
		return ir.InvalidDType
	}
	if v.Type.IsTuple() {
		if i < len(v.Type.Elems) {
			return v.Type.Elems[i].DType
		}
		return ir.InvalidDType
	}
	return v.Type.DType
}

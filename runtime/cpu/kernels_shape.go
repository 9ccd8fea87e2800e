package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpGather, gatherKernel)
	register(ir.OpReshape, reshapeKernel)
	register(ir.OpTranspose, transposeKernel)
	register(ir.OpSlice, sliceKernel)
	register(ir.OpSplit, splitKernel)
	register(ir.OpConcat, concatKernel)
	register(ir.OpExpand, expandKernel)
}

// The shape kernels move elements without computing on them; they work on
// f32 and i64 tensors alike (Gather also reads bf16/f16 data, widening it
// to f32). Sizes come from the concrete operand and result shapes, so
// symbolic shape attributes (Reshape, Expand) need no evaluation here.

// moveTypes checks that x and y are both f32 or both i64.
func moveTypes(v *ir.Value, x, y *Tensor) error {
	if x.DType != y.DType || (x.DType != ir.F32 && x.DType != ir.I64) {
		return kernelError(v, "operand %v, result %v: want both f32 or both i64", x, y)
	}
	return nil
}

// copyBlock copies n elements from src[so:] to dst[do:] of f32 or i64
// tensors of the same dtype.
func copyBlock(dst, src *Tensor, do, so, n int) {
	if src.DType == ir.I64 {
		copy(dst.I64[do:do+n], src.I64[so:so+n])
	} else {
		copy(dst.F32[do:do+n], src.F32[so:so+n])
	}
}

// gatherKernel takes slices of data along axis at the given indices:
//
//	outer = prod(data.shape[:axis]), n = data.shape[axis], inner = prod(data.shape[axis+1:])
//	for o < outer, j < numel(indices):
//	    i = indices[j] (+ n when negative; outside [0, n) is an error)
//	    y[o, j, :] = data[o, i, :]        (rows of inner elements)
//
// data may be f32, i64, or bf16/f16 (rows widened to f32: an embedding
// table stays in its stored format).
func gatherKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	data, err := operand(v, in, 0, "data")
	if err != nil {
		return err
	}
	idx, err := operand(v, in, 1, "indices")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if idx.DType != ir.I64 {
		return kernelError(v, "indices are %v, want i64", idx)
	}
	want := ir.F32
	if data.DType == ir.I64 {
		want = ir.I64
	}
	ax, ok := normAxis(v.IntAttr("axis"), len(data.Shape))
	r := len(data.Shape) - 1 + len(idx.Shape)
	if ok && y.DType == want && len(y.Shape) == r {
		ok = sameShape(y.Shape[:ax], data.Shape[:ax]) && sameShape(y.Shape[ax:ax+len(idx.Shape)], idx.Shape) &&
			sameShape(y.Shape[ax+len(idx.Shape):], data.Shape[ax+1:])
	} else {
		ok = false
	}
	if !ok {
		return kernelError(v, "gathering %v at %v indices on axis %d does not give %v", data, idx, v.IntAttr("axis"), y)
	}
	outer, n, inner := prod(data.Shape[:ax]), data.Shape[ax], prod(data.Shape[ax+1:])
	for j, i := range idx.I64 {
		if i < -int64(n) || i >= int64(n) {
			return kernelError(v, "index %d (element %d of indices) out of range for axis %d of size %d", i, j, ax, n)
		}
	}
	cnt := len(idx.I64)
	var w weight
	if data.DType != ir.I64 {
		w, _ = weightOf(data)
	}
	for o := 0; o < outer; o++ {
		for j, i := range idx.I64 {
			if i < 0 {
				i += int64(n)
			}
			dst, src := (o*cnt+j)*inner, (o*n+int(i))*inner
			switch data.DType {
			case ir.I64, ir.F32:
				copyBlock(y, data, dst, src, inner)
			default:
				w.row(y.F32[dst:dst+inner], src, inner)
			}
		}
	}
	return nil
}

// reshapeKernel views x's row-major elements with y's shape: y[i] = x[i].
func reshapeKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if err := moveTypes(v, x, y); err != nil {
		return err
	}
	n := x.Len()
	if y.Len() != n {
		return kernelError(v, "cannot view %v as %v", x, y)
	}
	copyBlock(y, x, 0, 0, n)
	return nil
}

// transposeKernel permutes the axes:
//
//	y[j_0, ..., j_r-1] = x[i] with i[perm[k]] = j[k]   (y.shape[k] = x.shape[perm[k]])
//
// walking y in row-major order and reading x with the permuted strides.
func transposeKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if err := moveTypes(v, x, y); err != nil {
		return err
	}
	perm := v.IntsAttr("perm")
	r := len(x.Shape)
	ok := len(perm) == r && len(y.Shape) == r
	for k := 0; ok && k < r; k++ {
		p := perm[k]
		ok = p >= 0 && p < int64(r) && y.Shape[k] == x.Shape[p]
		for q := 0; ok && q < k; q++ {
			ok = perm[q] != p
		}
	}
	if !ok {
		return kernelError(v, "perm %v does not take %v to %v", perm, x, y)
	}
	buf := s.Ints(walkInts(r) + r)
	xst := buf[walkInts(r):]
	rowStrides(x.Shape, xst)
	var w walk
	w.init(buf, y.Shape, 1)
	for k, p := range perm {
		w.setStride(0, k, xst[p])
	}
	w.prepare()
	if x.DType == ir.I64 {
		gatherRuns(y.I64, x.I64, &w)
	} else {
		gatherRuns(y.F32, x.F32, &w)
	}
	return nil
}

// sliceKernel takes starts[k]:ends[k]:steps[k] on axes[k], each resolved
// by ir.SliceRange into a first index and a count (negative indices count
// from the end, out-of-range ones clamp):
//
//	y[j] = x[first[d] + j[d]·step[d] for each dim d]   (first 0, step 1 on other axes)
func sliceKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if err := moveTypes(v, x, y); err != nil {
		return err
	}
	axes, starts, ends, steps := v.IntsAttr("axes"), v.IntsAttr("starts"), v.IntsAttr("ends"), v.IntsAttr("steps")
	if len(starts) != len(axes) || len(ends) != len(axes) || (steps != nil && len(steps) != len(axes)) {
		return kernelError(v, "axes, starts, ends and steps differ in length")
	}
	r := len(x.Shape)
	if len(y.Shape) != r {
		return kernelError(v, "slicing %v does not give %v", x, y)
	}
	wn := walkInts(r)
	buf := s.Ints(wn + 4*r)
	xst, first, step, seen := buf[wn:wn+r], buf[wn+r:wn+2*r], buf[wn+2*r:wn+3*r], buf[wn+3*r:wn+4*r]
	rowStrides(x.Shape, xst)
	for d := range first {
		first[d], step[d], seen[d] = 0, 1, 0
	}
	for k, a := range axes {
		d, ok := normAxis(a, r)
		if !ok || seen[d] != 0 {
			return kernelError(v, "bad or repeated axis %d", a)
		}
		seen[d] = 1
		st := int64(1)
		if steps != nil {
			st = steps[k]
		}
		if st == 0 {
			return kernelError(v, "step 0 on axis %d", a)
		}
		f, c := ir.SliceRange(int64(x.Shape[d]), starts[k], ends[k], st)
		if int64(y.Shape[d]) != c {
			return kernelError(v, "slicing %v does not give %v", x, y)
		}
		first[d], step[d] = int(f), int(st)
	}
	var w walk
	w.init(buf, y.Shape, 1)
	base := 0
	for d := 0; d < r; d++ {
		if seen[d] == 0 && y.Shape[d] != x.Shape[d] {
			return kernelError(v, "slicing %v does not give %v", x, y)
		}
		w.setStride(0, d, xst[d]*step[d])
		base += first[d] * xst[d]
	}
	w.setBase(0, base)
	w.prepare()
	if x.DType == ir.I64 {
		gatherRuns(y.I64, x.I64, &w)
	} else {
		gatherRuns(y.F32, x.F32, &w)
	}
	return nil
}

// splitKernel cuts x along axis into consecutive pieces of the given sizes:
//
//	y_p[o, j, q] = x[o, j + sum(sizes[:p]), q]   (o: dims before axis, q: after)
//
// copying one block of sizes[p]·inner elements per outer index.
func splitKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	sizes := v.IntsAttr("sizes")
	ax, ok := normAxis(v.IntAttr("axis"), len(x.Shape))
	if !ok || len(out) != len(sizes) {
		return kernelError(v, "cannot split %v into %d results along axis %d", x, len(out), v.IntAttr("axis"))
	}
	sum := int64(0)
	for p, sz := range sizes {
		y, err := result(v, out, p)
		if err != nil {
			return err
		}
		if err := moveTypes(v, x, y); err != nil {
			return err
		}
		if sz < 0 || len(y.Shape) != len(x.Shape) || int64(y.Shape[ax]) != sz ||
			!sameShape(y.Shape[:ax], x.Shape[:ax]) || !sameShape(y.Shape[ax+1:], x.Shape[ax+1:]) {
			return kernelError(v, "piece %d is %v, want size %d of %v on axis %d", p, y, sz, x, ax)
		}
		sum += sz
	}
	if sum != int64(x.Shape[ax]) {
		return kernelError(v, "sizes %v do not add up to axis %d of %v", sizes, ax, x)
	}
	outer, n, inner := prod(x.Shape[:ax]), x.Shape[ax], prod(x.Shape[ax+1:])
	off := 0
	for p, sz := range sizes {
		blk := int(sz) * inner
		for o := 0; o < outer; o++ {
			copyBlock(out[p], x, o*blk, (o*n+off)*inner, blk)
		}
		off += int(sz)
	}
	return nil
}

// concatKernel joins the operands along axis:
//
//	y[o, j + sum(x_q.shape[axis] for q < p), q] = x_p[o, j, q]
//
// copying one block per operand and outer index.
func concatKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	ax, ok := normAxis(v.IntAttr("axis"), len(y.Shape))
	if !ok || len(in) == 0 {
		return kernelError(v, "bad axis %d or no operands for %v", v.IntAttr("axis"), y)
	}
	total := 0
	for p := range in {
		x, err := operand(v, in, p, "x")
		if err != nil {
			return err
		}
		if err := moveTypes(v, x, y); err != nil {
			return err
		}
		if len(x.Shape) != len(y.Shape) || !sameShape(x.Shape[:ax], y.Shape[:ax]) || !sameShape(x.Shape[ax+1:], y.Shape[ax+1:]) {
			return kernelError(v, "operand %d is %v, result %v", p, x, y)
		}
		total += x.Shape[ax]
	}
	if total != y.Shape[ax] {
		return kernelError(v, "operands add up to %d along axis %d, result %v", total, ax, y)
	}
	outer, n, inner := prod(y.Shape[:ax]), y.Shape[ax], prod(y.Shape[ax+1:])
	off := 0
	for _, x := range in {
		blk := x.Shape[ax] * inner
		for o := 0; o < outer; o++ {
			copyBlock(y, x, (o*n+off)*inner, o*blk, blk)
		}
		off += x.Shape[ax]
	}
	return nil
}

// expandKernel broadcasts x to y's shape (NumPy rules, y = broadcast(x,
// shape)):
//
//	for i in y (row-major): y[i] = x[bcast(i)]
func expandKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if err := moveTypes(v, x, y); err != nil {
		return err
	}
	var w walk
	w.init(s.Ints(walkInts(len(y.Shape))), y.Shape, 1)
	if !broadcastStrides(&w, 0, x.Shape, y.Shape) {
		return kernelError(v, "%v does not broadcast to %v", x, y)
	}
	w.prepare()
	if x.DType == ir.I64 {
		gatherRuns(y.I64, x.I64, &w)
	} else {
		gatherRuns(y.F32, x.F32, &w)
	}
	return nil
}

package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convShape, "Shape")
	register(7, convSize, "Size")
	register(7, convReshape, "Reshape")
	register(7, convFlatten, "Flatten")
	register(7, convSqueeze, "Squeeze")
	register(7, convUnsqueeze, "Unsqueeze")
	register(7, convTranspose, "Transpose")
	register(7, convSlice, "Slice")
	register(7, convSplit, "Split")
	register(7, convConcat, "Concat")
	register(8, convExpand, "Expand")
	register(7, convTile, "Tile")
	register(9, convConstantOfShape, "ConstantOfShape")
	register(7, convGather, "Gather")
	register(11, convRange, "Range")
	register(7, func(n *node) []*val { return []*val{n.need(0)} }, "Identity")
	register(7, convDropout, "Dropout")
	register(7, convConstant, "Constant")
}

// shapeIn returns input i, a 1-D integer tensor of dims known at import
// time (possibly symbolic).
func (n *node) shapeIn(i int, what string) ir.Shape {
	x := n.need(i)
	if !n.ok() {
		return nil
	}
	d, ok := x.symDims()
	if !ok {
		n.unsupported("%s (input %d) computed at run time", what, i)
		return nil
	}
	if x.rank() != 1 {
		n.failf("%s (input %d) must be 1-D, is %v", what, i, x.typ)
		return nil
	}
	return ir.Shape(d)
}

// reshape views x as shape (nothing when it already has it). Shape values
// stay dims.
func (n *node) reshape(x *val, shape ir.Shape) *val {
	if !n.ok() {
		return placeholder()
	}
	if x.shape().Equal(shape) {
		return x
	}
	if x.dims != nil {
		if len(shape) <= 1 {
			if num, ok := shape.NumElements(); ok && num == ir.StaticDim(int64(len(x.dims))) {
				return dimsVal(x.dtype(), x.dims, len(shape) == 0)
			}
		}
		n.unsupported("reshaping a shape value with symbolic dims to %v", shape)
		return placeholder()
	}
	return n.op(ir.OpReshape, ir.Attrs{"shape": shape.Clone()}, x)
}

func convShape(n *node) []*val {
	x := n.need(0)
	r := int64(x.rank())
	clampAxis := func(a int64) int64 {
		if a < 0 {
			a += r
		}
		return max(0, min(a, r))
	}
	start, end := clampAxis(n.int("start", 0)), clampAxis(n.int("end", r))
	if !n.ok() {
		return nil
	}
	var dims []ir.Dim
	if start < end {
		dims = append(dims, x.shape()[start:end]...)
	}
	if dims == nil {
		dims = []ir.Dim{}
	}
	return []*val{dimsVal(ir.I64, dims, false)}
}

func convSize(n *node) []*val {
	x := n.need(0)
	num, ok := x.shape().NumElements()
	if !ok {
		n.unsupported("size of %v", x.shape())
		return nil
	}
	return []*val{dimsVal(ir.I64, []ir.Dim{num}, true)}
}

func convReshape(n *node) []*val {
	x := n.need(0)
	var target ir.Shape
	if n.opset < 5 || n.has("shape") && n.arg(1) == nil {
		target = ir.Static(n.ints("shape", nil)...)
	} else {
		target = n.shapeIn(1, "shape")
	}
	if !n.ok() {
		return nil
	}
	out := n.resolveShape(x.shape(), target, n.int("allowzero", 0) != 0)
	return []*val{n.reshape(x, out)}
}

// resolveShape applies Reshape's rules to target: a static 0 copies the
// input's dim (unless allowzero), one -1 is inferred from the element
// count.
func (n *node) resolveShape(in, target ir.Shape, allowzero bool) ir.Shape {
	out := target.Clone()
	infer := -1
	for i, d := range out {
		if !d.IsStatic() {
			continue
		}
		switch {
		case d.Off == 0 && !allowzero:
			if i >= len(in) {
				n.failf("shape %v copies dim %d of a rank-%d input", target, i, len(in))
				return nil
			}
			out[i] = in[i]
		case d.Off == -1:
			if infer >= 0 {
				n.failf("shape %v has two -1 dims", target)
				return nil
			}
			infer = i
		case d.Off < -1:
			n.failf("shape %v has a negative dim", target)
			return nil
		}
	}
	if infer >= 0 {
		known := append(out[:infer:infer], out[infer+1:]...)
		total, ok1 := in.NumElements()
		part, ok2 := known.NumElements()
		var q ir.Dim
		ok3 := false
		if ok1 && ok2 {
			q, ok3 = divDims(total, part)
		}
		if !ok3 {
			if ok1 && ok2 && total.IsStatic() && part.IsStatic() {
				n.failf("cannot reshape %v to %v", in, target)
				return nil
			}
			n.unsupported("inferring dim %d of %v from %v", infer, target, in)
			return nil
		}
		out[infer] = q
	}
	return out
}

func convFlatten(n *node) []*val {
	x := n.need(0)
	r := x.rank()
	axis := n.int("axis", 1)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis > int64(r) {
		n.failf("axis %d out of range for rank %d", n.int("axis", 1), r)
		return nil
	}
	a, ok1 := x.shape()[:axis].NumElements()
	b, ok2 := x.shape()[axis:].NumElements()
	if !ok1 || !ok2 {
		n.unsupported("flattening %v", x.shape())
		return nil
	}
	return []*val{n.reshape(x, ir.Shape{a, b})}
}

// axesArg returns the axes of Squeeze, Unsqueeze and the reductions: an
// attribute before opset since, an optional input (index i) from then on.
func (n *node) axesArg(since int64, i int) ([]int64, bool) {
	if n.opset < since {
		if !n.has("axes") {
			return nil, false
		}
		return n.ints("axes", nil), true
	}
	if n.arg(i) == nil {
		return nil, false
	}
	return n.constInts(i, "axes", nil), true
}

func convSqueeze(n *node) []*val {
	x := n.need(0)
	axes, given := n.axesArg(13, 1)
	if !n.ok() {
		return nil
	}
	drop := map[int]bool{}
	if given {
		for _, a := range n.normAxes(axes, x.rank()) {
			if !n.ok() {
				return nil
			}
			if d := x.shape()[a]; d != ir.StaticDim(1) {
				n.failf("cannot squeeze axis %d of size %v", a, d)
			}
			drop[a] = true
		}
	} else {
		for i, d := range x.shape() {
			if d == ir.StaticDim(1) {
				drop[i] = true
			}
		}
	}
	out := ir.Shape{}
	for i, d := range x.shape() {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return []*val{n.reshape(x, out)}
}

func convUnsqueeze(n *node) []*val {
	x := n.need(0)
	axes, _ := n.axesArg(13, 1)
	if !n.ok() {
		return nil
	}
	r := x.rank() + len(axes)
	ins := map[int]bool{}
	for _, a := range n.normAxes(axes, r) {
		ins[a] = true
	}
	out := ir.Shape{}
	k := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, ir.StaticDim(1))
		} else if k < x.rank() {
			out = append(out, x.shape()[k])
			k++
		}
	}
	if len(out) != r && n.ok() {
		n.failf("bad axes %v", axes)
	}
	return []*val{n.reshape(x, out)}
}

func convTranspose(n *node) []*val {
	x := n.need(0)
	r := x.rank()
	perm := n.ints("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	return []*val{n.transpose(x, perm)}
}

// transpose emits Transpose unless perm is the identity.
func (n *node) transpose(x *val, perm []int64) *val {
	ident := len(perm) == x.rank()
	for i, p := range perm {
		ident = ident && p == int64(i)
	}
	if ident {
		return x
	}
	return n.op(ir.OpTranspose, ir.Attrs{"perm": perm}, x)
}

func convSlice(n *node) []*val {
	x := n.need(0)
	var starts, ends, axes, steps []int64
	if n.opset < 10 {
		starts, ends = n.ints("starts", nil), n.ints("ends", nil)
		axes = n.ints("axes", nil)
	} else {
		starts = n.constInts(1, "starts", nil)
		ends = n.constInts(2, "ends", nil)
		axes = n.constInts(3, "axes", nil)
		steps = n.constInts(4, "steps", nil)
	}
	if !n.ok() {
		return nil
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(starts) != len(ends) || len(axes) != len(starts) || len(steps) != len(starts) {
		n.failf("starts, ends, axes and steps differ in length")
		return nil
	}
	return []*val{n.slice(x, axes, starts, ends, steps)}
}

// slice emits Slice with ONNX's index rules (shape values are sliced as
// dims).
func (n *node) slice(x *val, axes, starts, ends, steps []int64) *val {
	nax := n.normAxes(axes, x.rank())
	for _, s := range steps {
		if s == 0 {
			n.failf("slice step 0")
		}
	}
	if !n.ok() {
		return placeholder()
	}
	if x.dims != nil && x.rank() == 1 && len(nax) == 1 {
		first, count := ir.SliceRange(int64(len(x.dims)), starts[0], ends[0], steps[0])
		out := []ir.Dim{}
		for k := int64(0); k < count; k++ {
			out = append(out, x.dims[first+k*steps[0]])
		}
		return dimsVal(x.dtype(), out, false)
	}
	if len(axes) == 0 {
		return x
	}
	ax := make([]int64, len(nax))
	st, en := append([]int64{}, starts...), append([]int64{}, ends...)
	for i, a := range nax {
		ax[i] = int64(a)
		d := x.shape()[a]
		if !d.IsStatic() {
			if en[i] >= math.MaxInt32 {
				en[i] = ir.SliceEnd
			}
			continue
		}
		// on static dims, resolve the indices so the IR holds plain ones
		first, count := ir.SliceRange(d.Off, st[i], en[i], steps[i])
		st[i], en[i] = first, first+count*steps[i]
		if steps[i] < 0 && en[i] < 0 {
			en[i] = -d.Off - 1 // one before the first element, counted from the end
		}
	}
	attrs := ir.Attrs{"axes": ax, "starts": st, "ends": en}
	for _, s := range steps {
		if s != 1 {
			attrs["steps"] = steps
		}
	}
	return n.op(ir.OpSlice, attrs, x)
}

func convSplit(n *node) []*val {
	x := n.need(0)
	axis := n.normAxis(n.int("axis", 0), x.rank())
	var sizes []int64
	if n.opset < 13 {
		sizes = n.ints("split", nil)
	} else {
		sizes = n.constInts(1, "split", nil)
	}
	if !n.ok() {
		return nil
	}
	count := int64(len(n.p.GetOutput()))
	if sizes == nil {
		d := x.shape()[axis]
		if !d.IsStatic() {
			n.unsupported("splitting symbolic dim %v", d)
			return nil
		}
		if n.opset >= 18 && n.has("num_outputs") && n.int("num_outputs", count) != count {
			n.failf("num_outputs %d for %d outputs", n.int("num_outputs", count), count)
			return nil
		}
		if count <= 0 {
			n.failf("splitting into %d parts", count)
			return nil
		}
		if n.opset < 18 && d.Off%count != 0 {
			n.failf("dim %d does not split evenly into %d parts", d.Off, count)
			return nil
		}
		chunk := (d.Off + count - 1) / count
		for left := d.Off; int64(len(sizes)) < count; left -= min(chunk, left) {
			sizes = append(sizes, min(chunk, left))
		}
	}
	if int64(len(sizes)) != count {
		n.failf("%d split sizes for %d outputs", len(sizes), count)
		return nil
	}
	if x.dims != nil && x.rank() == 1 {
		var out []*val
		at := int64(0)
		for _, s := range sizes {
			if s < 0 || at+s > int64(len(x.dims)) {
				n.failf("bad split sizes %v", sizes)
				return nil
			}
			out = append(out, dimsVal(x.dtype(), x.dims[at:at+s], false))
			at += s
		}
		return out
	}
	return n.tuple(ir.OpSplit, ir.Attrs{"axis": int64(axis), "sizes": sizes}, len(sizes), x)
}

func convConcat(n *node) []*val {
	if len(n.in) == 0 {
		n.failf("needs at least one input")
		return nil
	}
	var ins []*val
	sym := false
	for i := range n.in {
		x := n.need(i)
		sym = sym || x.dims != nil
		ins = append(ins, x)
	}
	if !n.ok() {
		return nil
	}
	if sym {
		var dims []ir.Dim
		ok := true
		for _, x := range ins {
			d, isDims := x.symDims()
			ok = ok && isDims && x.rank() == 1
			dims = append(dims, d...)
		}
		if ok {
			return []*val{dimsVal(ins[0].dtype(), dims, false)}
		}
	}
	axis := n.normAxis(n.int("axis", 0), ins[0].rank())
	if len(ins) == 1 {
		return ins
	}
	return []*val{n.op(ir.OpConcat, ir.Attrs{"axis": int64(axis)}, ins...)}
}

func convExpand(n *node) []*val {
	x := n.need(0)
	shape := n.shapeIn(1, "shape")
	if !n.ok() {
		return nil
	}
	return []*val{n.expand(x, shape)}
}

// expand broadcasts x to shape (nothing when it already has that shape).
func (n *node) expand(x *val, shape ir.Shape) *val {
	out, err := ir.Broadcast(x.shape(), shape)
	if err != nil {
		n.fail(err)
		return placeholder()
	}
	if out.Equal(x.shape()) {
		return x
	}
	return n.op(ir.OpExpand, ir.Attrs{"shape": shape.Clone()}, x)
}

// convTile: x [d0, …] repeated r times per axis is x viewed as
// [1, d0, 1, d1, …], expanded to [r0, d0, r1, d1, …] and viewed as
// [r0·d0, r1·d1, …].
func convTile(n *node) []*val {
	x := n.need(0)
	reps := n.constInts(1, "repeats", nil)
	if !n.ok() {
		return nil
	}
	if len(reps) != x.rank() {
		n.failf("%d repeats for rank %d", len(reps), x.rank())
		return nil
	}
	var split, grown, out ir.Shape
	for i, d := range x.shape() {
		if reps[i] < 0 {
			n.failf("negative repeat %d", reps[i])
			return nil
		}
		r := ir.StaticDim(reps[i])
		p, ok := ir.MulDims(r, d)
		if !ok {
			n.unsupported("tiling %v", x.shape())
			return nil
		}
		split = append(split, ir.StaticDim(1), d)
		grown = append(grown, r, d)
		out = append(out, p)
	}
	return []*val{n.reshape(n.expand(n.reshape(x, split), grown), out)}
}

func convGather(n *node) []*val {
	data, idx := n.need(0), n.need(1)
	axis := n.normAxis(n.int("axis", 0), data.rank())
	if !n.ok() {
		return nil
	}
	if !idx.dtype().IsInt() {
		n.failf("indices are %v, want an integer type", idx.dtype())
		return nil
	}
	ids, known := idx.ints()
	if known {
		if d := data.shape()[axis]; d.IsStatic() {
			for j, i := range ids {
				if i < -d.Off || i >= d.Off {
					n.failf("index %d out of range for axis %d of size %d", i, axis, d.Off)
					return nil
				}
				if i < 0 {
					ids[j] = i + d.Off
				}
			}
			idx = constVal(ir.TensorFromInt64s(idx.dtype(), idx.c.Shape, ids))
		}
	}
	if data.dims != nil && known && idx.rank() <= 1 {
		var out []ir.Dim
		for _, i := range ids {
			out = append(out, data.dims[i])
		}
		if out == nil {
			out = []ir.Dim{}
		}
		return []*val{dimsVal(data.dtype(), out, idx.rank() == 0)}
	}
	return []*val{n.op(ir.OpGather, ir.Attrs{"axis": int64(axis)}, data, idx)}
}

package cuda

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpTranspose, genTranspose)
	register(ir.OpSlice, genSlice)
	register(ir.OpSplit, genSplit)
	register(ir.OpConcat, genConcat)
	register(ir.OpExpand, genExpand)
	register(ir.OpGather, genGather)
}

// copyKernel emits a pointwise copy of the index space dims from the view
// src of operand buffer in to the view dst of result buffer out (element
// bytes move unchanged, any dtype).
func (fg *funcGen) copyKernel(v *ir.Value, doc string, in, out int, inType, outType ir.Type, dims []poly, src, dst view) {
	k := newKernel("copy", "Copy")
	k.out("y", outType.DType, out, layout(outType))
	k.in("x", inType.DType, in, layout(inType))
	k.doc = []string{doc, "One thread per element copied."}
	pw := &pointwise{dims: dims, out: dst, ins: []view{src}}
	pw.emit(k)
	fg.launch(k, v)
}

// genTranspose: y[i_perm[0], ..., i_perm[r-1]] = x[i_0, ..., i_r-1], walked
// over y: y's dim k reads x's dim perm[k].
func genTranspose(fg *funcGen, v *ir.Value) error {
	x, y := v.Args[0].Type, v.Type
	perm := v.Attrs.Ints("perm")
	xs := denseStrides(x.Shape)
	src := view{offset: constPoly(0), strides: make([]poly, len(perm))}
	for k, p := range perm {
		src.strides[k] = xs[p]
	}
	doc := fmt.Sprintf("Transpose %v: y%s = x%s permuted.", perm, shapeText(y.Shape), shapeText(x.Shape))
	fg.copyKernel(v, doc, fg.operand(v, 0), fg.result(v, 0), x, y, dimsOf(y.Shape), src, dense(y.Shape))
	return nil
}

// genSlice: y = x[start_k : end_k : step_k on axes_k], walked over y: y's
// dim a reads x at first_a + i·step_a.
func genSlice(fg *funcGen, v *ir.Value) error {
	x, y := v.Args[0].Type, v.Type
	axes, starts, ends, steps := v.Attrs.Ints("axes"), v.Attrs.Ints("starts"), v.Attrs.Ints("ends"), v.Attrs.Ints("steps")
	xs := denseStrides(x.Shape)
	src := view{offset: constPoly(0), strides: append([]poly(nil), xs...)}
	for i, a := range axes {
		ax := int(a)
		if ax < 0 {
			ax += x.Shape.Rank()
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		first, err := sliceStart(x.Shape[ax], starts[i], ends[i], step)
		if err != nil {
			return err
		}
		src.offset = src.offset.add(first.mul(xs[ax]))
		src.strides[ax] = xs[ax].mul(constPoly(step))
	}
	doc := fmt.Sprintf("Slice: y%s = x%s[starts %v : ends %v : steps %v on axes %v].", shapeText(y.Shape), shapeText(x.Shape), starts, ends, steps, axes)
	fg.copyKernel(v, doc, fg.operand(v, 0), fg.result(v, 0), x, y, dimsOf(y.Shape), src, dense(y.Shape))
	return nil
}

// sliceStart is the first index that start:end:step takes on an axis of
// size d, as ir.SliceRange resolves it; on a symbolic axis (step 1 only,
// see ir.SliceDim) a negative start counts from the symbolic end.
func sliceStart(d ir.Dim, start, end, step int64) (poly, error) {
	if d.IsStatic() {
		first, _ := ir.SliceRange(d.Off, start, end, step)
		return constPoly(first), nil
	}
	if step != 1 {
		return nil, fmt.Errorf("slice step %d on the symbolic dim %v", step, d)
	}
	if start < 0 {
		return polyOf(d).add(constPoly(start)), nil
	}
	return constPoly(start), nil
}

// genSplit: result j is x[..., o_j : o_j + sizes[j], ...] along axis, with
// o_j the sum of the sizes before it; one copy launch per result.
func genSplit(fg *funcGen, v *ir.Value) error {
	x := v.Args[0].Type
	ax := int(v.IntAttr("axis"))
	if ax < 0 {
		ax += x.Shape.Rank()
	}
	xs := denseStrides(x.Shape)
	offset := int64(0)
	for j, y := range v.Type.Elems {
		src := view{offset: constPoly(offset).mul(xs[ax]), strides: xs}
		doc := fmt.Sprintf("Split piece: y%s = x%s[%d : %d along axis %d].", shapeText(y.Shape), shapeText(x.Shape), offset, offset+y.Shape[ax].Off, ax)
		fg.copyKernel(v, doc, fg.operand(v, 0), fg.result(v, j), x, y, dimsOf(y.Shape), src, dense(y.Shape))
		offset += y.Shape[ax].Off
	}
	return nil
}

// genConcat: y = x_0 ++ x_1 ++ ... along axis; one copy launch per
// operand, writing the operand's block of y.
func genConcat(fg *funcGen, v *ir.Value) error {
	y := v.Type
	ax := int(v.IntAttr("axis"))
	if ax < 0 {
		ax += y.Shape.Rank()
	}
	ys := denseStrides(y.Shape)
	offset := constPoly(0)
	for i, a := range v.Args {
		x := a.Type
		dst := view{offset: offset.mul(ys[ax]), strides: ys}
		doc := fmt.Sprintf("Concat piece: y%s[%s along axis %d] = x%s.", shapeText(y.Shape), "from "+offset.c(), ax, shapeText(x.Shape))
		fg.copyKernel(v, doc, fg.operand(v, i), fg.result(v, 0), x, y, dimsOf(x.Shape), dense(x.Shape), dst)
		offset = offset.add(polyOf(x.Shape[ax]))
	}
	return nil
}

// genExpand: y = x broadcast to y's shape.
func genExpand(fg *funcGen, v *ir.Value) error {
	x, y := v.Args[0].Type, v.Type
	doc := fmt.Sprintf("Expand: y%s = x%s broadcast.", shapeText(y.Shape), shapeText(x.Shape))
	fg.copyKernel(v, doc, fg.operand(v, 0), fg.result(v, 0), x, y, dimsOf(y.Shape), broadcastView(x.Shape, y.Shape), dense(y.Shape))
	return nil
}

// gatherTemplate is the body of a Gather kernel. Each thread copies one
// element of y, seen as [outer, count, inner].
const gatherTemplate = `    constexpr long long kAxisSize = %[1]s;  // rows of data along the axis
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= %[2]s) {
        return;
    }
    const long long inner = index %% %[3]s;
    const long long j = index / %[3]s %% %[4]s;
    const long long outer = index / %[3]s / %[4]s;
    long long row = indices[j];
    if (row < 0) {
        row += kAxisSize;
    }
    if (row < 0 || row >= kAxisSize) {
        y[index] = %[5]s;
        return;
    }
    y[index] = data[(outer * kAxisSize + row) * %[3]s + inner];
`

// genGather: y[o, j, :] = data[o, indices[j], :] with o over the dims
// before axis and j over the indices (negative indices count from the
// end). An index out of range, which the CPU backends report as an error,
// yields zeros here (a kernel cannot fail): callers validate token ids.
func genGather(fg *funcGen, v *ir.Value) error {
	data, idx, y := v.Args[0].Type, v.Args[1].Type, v.Type
	ax := int(v.IntAttr("axis"))
	if ax < 0 {
		ax += data.Shape.Rank()
	}
	if !data.Shape[ax].IsStatic() {
		return fmt.Errorf("Gather along the symbolic dim %v", data.Shape[ax])
	}
	outer := polyOfShape(data.Shape[:ax])
	inner := polyOfShape(data.Shape[ax+1:])
	count := polyOfShape(idx.Shape)
	k := newKernel("gather", "Gather")
	k.out("y", y.DType, fg.result(v, 0), layout(y)+" = [outer, count, inner]")
	k.in("data", data.DType, fg.operand(v, 0), layout(data)+" = [outer, axis, inner]")
	k.in("indices", idx.DType, fg.operand(v, 1), layout(idx))
	k.doc = []string{
		fmt.Sprintf("Gather along axis %d: y[o, j, :] = data[o, indices[j], :]; negative indices", ax),
		"count from the end, indices out of range give zeros. One thread per element of y.",
	}
	total := outer.mul(count).mul(inner)
	zero := "{}"
	if y.DType == ir.F32 || y.DType.IsInt() {
		zero = "0"
	}
	k.body = fmt.Sprintf(gatherTemplate, data.Shape[ax].String(), k.size(total), k.factor(inner), k.factor(count), zero)
	k.block = [3]int{pointwiseThreads, 1, 1}
	k.grid[0] = Extent{Count: total.size(), Per: pointwiseThreads}
	fg.launch(k, v)
	return nil
}

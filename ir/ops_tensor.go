package ir

import (
	"fmt"
	"math"
	"slices"
)

// SliceEnd is the end index meaning "to the end of the axis".
const SliceEnd = math.MaxInt64

// defineTensorOps fills the op table entries of this file.
func defineTensorOps() {
	builtinOps[OpMatMul] = &OpInfo{Name: "MatMul", Infer: inferMatMul,
		Args: []ArgSpec{{Name: "a"}, {Name: "b"}},
		Attrs: []AttrSpec{{Name: "transpose_b", Kind: AttrBool, Default: false}, {Name: "split", Kind: AttrInts},
			{Name: "round", Kind: AttrDType}},
		Formula: "y[..., m, n] = sum_k a[..., m, k] * b[..., k, n] (b[..., n, k] if transpose_b); " +
			"batch dims broadcast; b may be stored in a narrower float type than a; " +
			"with split = [n_0, ...] (transpose_b, b a matrix) the columns of y are returned as a tuple " +
			"(y_p = y[..., o_p:o_p+n_p], o_p = n_0+...+n_(p-1)), each computed from rows o_p:o_p+n_p of b; " +
			"with round = bf16|f16 (a and y f32) a is rounded to that type before the product and y after it: " +
			"y = (f32)(round)(((round)a)·b), the fused form of Cast(MatMul(Cast(a)))"}
	builtinOps[OpGather] = &OpInfo{Name: "Gather", Infer: inferGather,
		Args:    []ArgSpec{{Name: "data"}, {Name: "indices"}},
		Attrs:   []AttrSpec{{Name: "axis", Kind: AttrInt, Default: int64(0)}},
		Formula: "y[p..., i..., q...] = data[p..., indices[i...], q...] (p has axis dims)"}
	builtinOps[OpReshape] = &OpInfo{Name: "Reshape", Infer: inferReshape,
		Args:    []ArgSpec{{Name: "x"}},
		Attrs:   []AttrSpec{{Name: "shape", Kind: AttrShape, Required: true}},
		Formula: "y = x with the same row-major elements viewed as shape"}
	builtinOps[OpTranspose] = &OpInfo{Name: "Transpose", Infer: inferTranspose,
		Args:    []ArgSpec{{Name: "x"}},
		Attrs:   []AttrSpec{{Name: "perm", Kind: AttrInts, Required: true}},
		Formula: "y[i_perm[0], ..., i_perm[r-1]] = x[i_0, ..., i_r-1]; y.shape[k] = x.shape[perm[k]]"}
	builtinOps[OpSlice] = &OpInfo{Name: "Slice", Infer: inferSlice,
		Args: []ArgSpec{{Name: "x"}},
		Attrs: []AttrSpec{{Name: "axes", Kind: AttrInts, Required: true},
			{Name: "starts", Kind: AttrInts, Required: true},
			{Name: "ends", Kind: AttrInts, Required: true},
			{Name: "steps", Kind: AttrInts}},
		Formula: "y = x[starts[k]:ends[k]:steps[k] on axes[k]] (negative indices count from the end; ends clamp)"}
	builtinOps[OpSplit] = &OpInfo{Name: "Split", Infer: inferSplit,
		Args: []ArgSpec{{Name: "x"}},
		Attrs: []AttrSpec{{Name: "axis", Kind: AttrInt, Required: true},
			{Name: "sizes", Kind: AttrInts, Required: true}},
		Formula: "(y_0, ..., y_n) = consecutive pieces of x along axis with the given sizes"}
	builtinOps[OpConcat] = &OpInfo{Name: "Concat", Infer: inferConcat,
		Args:    []ArgSpec{{Name: "x0"}, {Name: "xs", Variadic: true}},
		Attrs:   []AttrSpec{{Name: "axis", Kind: AttrInt, Required: true}},
		Formula: "y = x0 ++ x1 ++ ... along axis"}
	builtinOps[OpExpand] = &OpInfo{Name: "Expand", Infer: inferExpand,
		Args:    []ArgSpec{{Name: "x"}},
		Attrs:   []AttrSpec{{Name: "shape", Kind: AttrShape, Required: true}},
		Formula: "y = x broadcast to broadcast(x.shape, shape)"}
	builtinOps[OpReduceSum] = reduce("ReduceSum", "y = sum of x over axes")
	builtinOps[OpReduceMean] = reduce("ReduceMean", "y = mean of x over axes")
	builtinOps[OpRMSNorm] = &OpInfo{Name: "RMSNorm", Infer: inferRMSNorm,
		Args:    []ArgSpec{{Name: "x"}, {Name: "weight"}},
		Attrs:   []AttrSpec{{Name: "eps", Kind: AttrFloat, Required: true}},
		Formula: "y[..., i] = x[..., i] / sqrt(mean_j(x[..., j]^2) + eps) * weight[i] (accumulated in at least f32)"}
	builtinOps[OpSoftmax] = &OpInfo{Name: "Softmax", Infer: inferSameFloat,
		Args:    []ArgSpec{{Name: "x"}},
		Attrs:   []AttrSpec{{Name: "axis", Kind: AttrInt, Default: int64(-1)}},
		Formula: "y = exp(x - max(x)) / sum(exp(x - max(x))) along axis"}
	builtinOps[OpConv1d] = &OpInfo{Name: "Conv1d", Infer: inferConv1d,
		Args: []ArgSpec{{Name: "x"}, {Name: "w"}, {Name: "bias", Optional: true}},
		Attrs: []AttrSpec{{Name: "pads", Kind: AttrInts, Default: []int64{0, 0}},
			{Name: "dilation", Kind: AttrInt, Default: int64(1)}},
		Formula: "depthwise, x [N,C,L], w [C,1,K] or [C,K]: y[n,c,t] = bias[c] + sum_k w[c,k] * xpad[n,c,t+k*dilation], " +
			"xpad = x padded with pads[0] zeros before and pads[1] after"}
}

func reduce(name, formula string) *OpInfo {
	return &OpInfo{Name: name, Infer: inferReduce,
		Args: []ArgSpec{{Name: "x"}},
		Attrs: []AttrSpec{{Name: "axes", Kind: AttrInts},
			{Name: "keepdims", Kind: AttrBool, Default: true}},
		Formula: formula + " (all axes when axes is absent; reduced dims kept as 1 when keepdims)"}
}

func inferSameFloat(v *Value) (Type, error) {
	t := v.Args[0].Type
	if !t.DType.IsFloat() {
		return Type{}, fmt.Errorf("%s: x is %v, want a float type", v.Op, t.DType)
	}
	if v.Op == OpSoftmax {
		if _, err := normAxis(v.IntAttr("axis"), t.Shape.Rank()); err != nil {
			return Type{}, fmt.Errorf("Softmax: %v", err)
		}
	}
	return t, nil
}

func inferMatMul(v *Value) (Type, error) {
	a, b := v.Args[0].Type, v.Args[1].Type
	y, err := matmulType("MatMul", a, b, v.BoolAttr("transpose_b"))
	if err != nil {
		return Type{}, err
	}
	if r, ok := v.Attrs["round"]; ok {
		if (r != BF16 && r != F16) || a.DType != F32 {
			return Type{}, fmt.Errorf("MatMul: round = %v needs an f32 a and bf16 or f16, a is %v", r, a.DType)
		}
	}
	if _, ok := v.Attrs["split"]; !ok {
		return y, nil
	}
	return splitColumns("MatMul", v.IntsAttr("split"), y, b, v.BoolAttr("transpose_b"))
}

// splitColumns is the tuple type of a MatMul whose result y = x·bᵀ is
// split along its last axis into parts of the given sizes: b must be a
// static matrix and the sizes positive and add up to its rows.
func splitColumns(name string, sizes []int64, y, b Type, transB bool) (Type, error) {
	if !transB || b.Shape.Rank() != 2 || !b.Shape[0].IsStatic() {
		return Type{}, fmt.Errorf("%s: split needs transpose_b and a matrix b with a static row count, b is %v", name, b.Shape)
	}
	if len(sizes) < 2 {
		return Type{}, fmt.Errorf("%s: split needs at least two sizes, has %v", name, sizes)
	}
	total := int64(0)
	elems := make([]Type, len(sizes))
	for i, n := range sizes {
		if n <= 0 {
			return Type{}, fmt.Errorf("%s: split size %d is not positive", name, n)
		}
		total += n
		sh := y.Shape.Clone()
		sh[len(sh)-1] = StaticDim(n)
		elems[i] = TensorType(y.DType, sh)
	}
	if total != b.Shape[0].Off {
		return Type{}, fmt.Errorf("%s: split sizes %v add up to %d, b has %d rows", name, sizes, total, b.Shape[0].Off)
	}
	return TupleType(elems...), nil
}

func matmulType(name string, a, b Type, transB bool) (Type, error) {
	if !a.DType.IsFloat() || !b.DType.IsFloat() {
		return Type{}, fmt.Errorf("%s: operands are %v and %v, want float types", name, a.DType, b.DType)
	}
	as, bs := a.Shape.Clone(), b.Shape.Clone()
	if len(as) == 0 || len(bs) == 0 {
		return Type{}, fmt.Errorf("%s: scalar operand", name)
	}
	if transB {
		if len(bs) < 2 {
			return Type{}, fmt.Errorf("%s: transpose_b needs b of rank ≥ 2, has %v", name, b.Shape)
		}
		n := len(bs)
		bs[n-1], bs[n-2] = bs[n-2], bs[n-1]
	}
	vecA, vecB := len(as) == 1, len(bs) == 1
	if vecA {
		as = Shape{StaticDim(1), as[0]}
	}
	if vecB {
		bs = Shape{bs[0], StaticDim(1)}
	}
	k1, k2 := as[len(as)-1], bs[len(bs)-2]
	if k1 != k2 {
		return Type{}, fmt.Errorf("%s: contraction dims differ: %v · %v", name, a.Shape, b.Shape)
	}
	batch, err := Broadcast(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return Type{}, fmt.Errorf("%s: batch dims: %v", name, err)
	}
	out := append(batch, as[len(as)-2], bs[len(bs)-1])
	if vecA { // drop M first, while it is second to last
		out = slices.Delete(out, len(out)-2, len(out)-1)
	}
	if vecB {
		out = slices.Delete(out, len(out)-1, len(out))
	}
	return TensorType(a.DType, out), nil
}

func inferGather(v *Value) (Type, error) {
	data, idx := v.Args[0].Type, v.Args[1].Type
	if !idx.DType.IsInt() {
		return Type{}, fmt.Errorf("Gather: indices are %v, want an integer type", idx.DType)
	}
	ax, err := normAxis(v.IntAttr("axis"), data.Shape.Rank())
	if err != nil {
		return Type{}, fmt.Errorf("Gather: %v", err)
	}
	out := append(append(data.Shape[:ax:ax], idx.Shape...), data.Shape[ax+1:]...)
	return TensorType(data.DType, out), nil
}

func inferReshape(v *Value) (Type, error) {
	x := v.Args[0].Type
	to := v.Attrs.Shape("shape")
	for _, d := range to {
		if d.IsStatic() && d.Off < 0 {
			return Type{}, fmt.Errorf("Reshape: negative dimension in %v", to)
		}
	}
	n1, ok1 := x.Shape.NumElements()
	n2, ok2 := to.NumElements()
	if !ok1 || !ok2 || n1 != n2 {
		return Type{}, fmt.Errorf("Reshape: cannot view %v as %v", x.Shape, to)
	}
	return TensorType(x.DType, to.Clone()), nil
}

func inferTranspose(v *Value) (Type, error) {
	x := v.Args[0].Type
	perm := v.Attrs.Ints("perm")
	if len(perm) != x.Shape.Rank() {
		return Type{}, fmt.Errorf("Transpose: perm %v for rank %d", perm, x.Shape.Rank())
	}
	seen := make([]bool, len(perm))
	out := make(Shape, len(perm))
	for i, p := range perm {
		if p < 0 || p >= int64(len(perm)) || seen[p] {
			return Type{}, fmt.Errorf("Transpose: perm %v is not a permutation", perm)
		}
		seen[p] = true
		out[i] = x.Shape[p]
	}
	return TensorType(x.DType, out), nil
}

func inferSlice(v *Value) (Type, error) {
	x := v.Args[0].Type
	axes, starts, ends, steps := v.Attrs.Ints("axes"), v.Attrs.Ints("starts"), v.Attrs.Ints("ends"), v.Attrs.Ints("steps")
	if len(starts) != len(axes) || len(ends) != len(axes) || (steps != nil && len(steps) != len(axes)) {
		return Type{}, fmt.Errorf("Slice: axes, starts, ends and steps differ in length")
	}
	out := x.Shape.Clone()
	seen := map[int]bool{}
	for i, a := range axes {
		ax, err := normAxis(a, x.Shape.Rank())
		if err != nil || seen[ax] {
			return Type{}, fmt.Errorf("Slice: bad or repeated axis %d", a)
		}
		seen[ax] = true
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		d, err := SliceDim(x.Shape[ax], starts[i], ends[i], step)
		if err != nil {
			return Type{}, fmt.Errorf("Slice: axis %d: %v", ax, err)
		}
		out[ax] = d
	}
	return TensorType(x.DType, out), nil
}

// SliceRange resolves start:end:step on an axis of static size n the way
// NumPy and ONNX do (negative indices count from the end, out-of-range
// indices clamp) and returns the first index and the count.
func SliceRange(n, start, end, step int64) (first, count int64) {
	clamp := func(i, lo, hi int64) int64 { return max(lo, min(i, hi)) }
	if start < 0 {
		start += n
	}
	if end < 0 && end != SliceEnd {
		end += n
	}
	if step > 0 {
		start, end = clamp(start, 0, n), clamp(end, 0, n)
		if end <= start {
			return start, 0
		}
		return start, (end - start + step - 1) / step
	}
	start, end = clamp(start, -1, n-1), clamp(end, -1, n-1)
	if start <= end {
		return start, 0
	}
	return start, (start - end - step - 1) / -step
}

// SliceDim is the size of start:end:step on an axis of size d. On a symbolic
// axis only step 1 is supported, with indices whose result size does not
// depend on the symbol's value beyond the slice being in range.
func SliceDim(d Dim, start, end, step int64) (Dim, error) {
	if step == 0 {
		return Dim{}, fmt.Errorf("step 0")
	}
	if d.IsStatic() {
		_, n := SliceRange(d.Off, start, end, step)
		return StaticDim(n), nil
	}
	if step != 1 {
		return Dim{}, fmt.Errorf("step %d on symbolic dim %v", step, d)
	}
	switch {
	case end == SliceEnd && start >= 0:
		r, _ := SubDims(d, StaticDim(start))
		return r, nil
	case end == SliceEnd && start < 0:
		return StaticDim(-start), nil
	case start >= 0 && end >= 0:
		return StaticDim(max(end-start, 0)), nil
	case start < 0 && end < 0:
		return StaticDim(max(end-start, 0)), nil
	case start >= 0 && end < 0:
		r, _ := AddDims(d, StaticDim(end-start))
		return r, nil
	}
	return Dim{}, fmt.Errorf("slice %d:%d of symbolic dim %v has no fixed size", start, end, d)
}

func inferSplit(v *Value) (Type, error) {
	x := v.Args[0].Type
	ax, err := normAxis(v.Attrs.Int("axis", 0), x.Shape.Rank())
	if err != nil {
		return Type{}, fmt.Errorf("Split: %v", err)
	}
	sizes := v.Attrs.Ints("sizes")
	if len(sizes) == 0 {
		return Type{}, fmt.Errorf("Split: no sizes")
	}
	sum := int64(0)
	elems := make([]Type, len(sizes))
	for i, s := range sizes {
		if s < 0 {
			return Type{}, fmt.Errorf("Split: negative size %d", s)
		}
		sum += s
		sh := x.Shape.Clone()
		sh[ax] = StaticDim(s)
		elems[i] = TensorType(x.DType, sh)
	}
	if x.Shape[ax] != StaticDim(sum) {
		return Type{}, fmt.Errorf("Split: sizes %v sum to %d, axis %d has %v", sizes, sum, ax, x.Shape[ax])
	}
	return TupleType(elems...), nil
}

func inferConcat(v *Value) (Type, error) {
	first := v.Args[0].Type
	ax, err := normAxis(v.Attrs.Int("axis", 0), first.Shape.Rank())
	if err != nil {
		return Type{}, fmt.Errorf("Concat: %v", err)
	}
	out := first.Shape.Clone()
	for i, a := range v.Args[1:] {
		t := a.Type
		if t.DType != first.DType || t.Shape.Rank() != first.Shape.Rank() {
			return Type{}, fmt.Errorf("Concat: operand %d is %v, operand 0 is %v", i+1, t, first)
		}
		for k := range out {
			if k == ax {
				var ok bool
				if out[k], ok = AddDims(out[k], t.Shape[k]); !ok {
					return Type{}, fmt.Errorf("Concat: cannot add dims %v and %v", out[k], t.Shape[k])
				}
			} else if t.Shape[k] != out[k] {
				return Type{}, fmt.Errorf("Concat: operand %d is %v, operand 0 is %v", i+1, t, first)
			}
		}
	}
	return TensorType(first.DType, out), nil
}

func inferExpand(v *Value) (Type, error) {
	x := v.Args[0].Type
	s, err := Broadcast(x.Shape, v.Attrs.Shape("shape"))
	if err != nil {
		return Type{}, fmt.Errorf("Expand: %v", err)
	}
	return TensorType(x.DType, s), nil
}

// ReduceAxes returns the normalized, sorted axes a reduction of rank r
// covers.
func ReduceAxes(v *Value, r int) ([]int, error) {
	axes := v.Attrs.Ints("axes")
	if _, present := v.Attrs["axes"]; !present {
		all := make([]int, r)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	out := make([]int, 0, len(axes))
	for _, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, ax) {
			return nil, fmt.Errorf("repeated axis %d", a)
		}
		out = append(out, ax)
	}
	slices.Sort(out)
	return out, nil
}

func inferReduce(v *Value) (Type, error) {
	x := v.Args[0].Type
	if !numeric.ok(x.DType) {
		return Type{}, fmt.Errorf("%s: x is %v", v.Op, x.DType)
	}
	axes, err := ReduceAxes(v, x.Shape.Rank())
	if err != nil {
		return Type{}, fmt.Errorf("%s: %v", v.Op, err)
	}
	keep := v.BoolAttr("keepdims")
	var out Shape
	for i, d := range x.Shape {
		switch {
		case !slices.Contains(axes, i):
			out = append(out, d)
		case keep:
			out = append(out, StaticDim(1))
		}
	}
	if out == nil {
		out = Shape{}
	}
	return TensorType(x.DType, out), nil
}

func inferRMSNorm(v *Value) (Type, error) {
	x, w := v.Args[0].Type, v.Args[1].Type
	if !x.DType.IsFloat() || !w.DType.IsFloat() {
		return Type{}, fmt.Errorf("RMSNorm: x is %v, weight %v; want float types", x.DType, w.DType)
	}
	if x.Shape.Rank() == 0 || w.Shape.Rank() != 1 || w.Shape[0] != x.Shape[x.Shape.Rank()-1] {
		return Type{}, fmt.Errorf("RMSNorm: weight %v does not match the last dim of x %v", w.Shape, x.Shape)
	}
	if v.FloatAttr("eps") < 0 {
		return Type{}, fmt.Errorf("RMSNorm: negative eps")
	}
	return x, nil
}

// ConvKernel returns the kernel size of a depthwise conv weight [C,1,K] or
// [C,K] and checks it has C channels.
func ConvKernel(w Shape, c Dim) (int64, error) {
	switch {
	case len(w) == 2 && w[0] == c && w[1].IsStatic() && w[1].Off >= 1:
		return w[1].Off, nil
	case len(w) == 3 && w[0] == c && w[1] == StaticDim(1) && w[2].IsStatic() && w[2].Off >= 1:
		return w[2].Off, nil
	}
	return 0, fmt.Errorf("weight %v is not a depthwise kernel [%v,1,K] or [%v,K]", w, c, c)
}

func inferConv1d(v *Value) (Type, error) {
	x, w := v.Args[0].Type, v.Args[1].Type
	if x.Shape.Rank() != 3 || !x.DType.IsFloat() {
		return Type{}, fmt.Errorf("Conv1d: x is %v, want float [N,C,L]", x)
	}
	c := x.Shape[1]
	k, err := ConvKernel(w.Shape, c)
	if err != nil {
		return Type{}, fmt.Errorf("Conv1d: %v", err)
	}
	if err := floatOperands(v, 1, 2); err != nil {
		return Type{}, fmt.Errorf("Conv1d: %v", err)
	}
	if b := v.Arg(2); b != nil && (b.Type.Shape.Rank() != 1 || b.Type.Shape[0] != c) {
		return Type{}, fmt.Errorf("Conv1d: bias %v, want [%v]", b.Type.Shape, c)
	}
	pads, dil := v.IntsAttr("pads"), v.IntAttr("dilation")
	if len(pads) != 2 || pads[0] < 0 || pads[1] < 0 || dil < 1 || k < 1 {
		return Type{}, fmt.Errorf("Conv1d: bad pads %v or dilation %d", pads, dil)
	}
	l, ok := AddDims(x.Shape[2], StaticDim(pads[0]+pads[1]-dil*(k-1)))
	if !ok || (l.IsStatic() && l.Off < 0) {
		return Type{}, fmt.Errorf("Conv1d: input too short")
	}
	return TensorType(x.DType, Shape{x.Shape[0], c, l}), nil
}

// floatOperands checks that the given operands, where present, are floats.
func floatOperands(v *Value, idx ...int) error {
	for _, i := range idx {
		if a := v.Arg(i); a != nil && !a.Type.DType.IsFloat() {
			return fmt.Errorf("%s is %v, want a float type", v.Op.Info().Args[i].Name, a.Type.DType)
		}
	}
	return nil
}

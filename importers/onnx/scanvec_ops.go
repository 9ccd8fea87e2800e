package onnx

import "github.com/ssmc-dev/ssmc/ir"

// The vectorized forms of the body ops (see scanvec.go).

// apply computes one body op for all steps from its operands' forms.
func (vz *vectorizer) apply(v *ir.Value, ops []*vform) (*vform, error) {
	switch v.Op {
	case ir.OpConst:
		return &vform{x: constVal(v.Attrs.Tensor("value")), step: v.Type}, nil
	case ir.OpParam:
		name := v.Attrs.String("name", "")
		return &vform{x: &val{typ: v.Type, param: name, c: vz.n.g.imp.weights[name]}, step: v.Type}, nil
	case ir.OpArg:
		return nil, noVec("unbound argument %v", v)
	case ir.OpExtract:
		t := ops[0]
		i := v.Attrs.Int("index", -1)
		if t == nil || i < 0 || int(i) >= len(t.elems) {
			return nil, noVec("bad Extract")
		}
		return t.elems[i], nil
	}
	seq := false
	xs := make([]*val, len(ops))
	for i, f := range ops {
		if f != nil {
			seq = seq || f.seq
			xs[i] = f.x
		}
	}
	if !seq { // the same at every step: the op itself
		return vz.same(v, xs)
	}
	info := v.Op.Info()
	if info.Has(ir.Elementwise) {
		return vz.ew(v.Op, v.Attrs, ops...)
	}
	return vz.applySeq(v, ops)
}

// same emits v's op on step-invariant operands.
func (vz *vectorizer) same(v *ir.Value, xs []*val) (*vform, error) {
	if v.Type.IsTuple() {
		res, err := vz.n.g.emitTuple(v.Op, v.Attrs, xs...)
		if err != nil {
			return nil, noVec("%v: %v", v.Op, err)
		}
		f := &vform{step: v.Type}
		for i, r := range res {
			f.elems = append(f.elems, &vform{x: r, step: v.Type.Elems[i]})
		}
		return f, nil
	}
	y, err := vz.emit(v.Op, v.Attrs, xs...)
	if err != nil {
		return nil, err
	}
	return &vform{x: y, step: v.Type}, nil
}

// shiftAxis returns axis (of a per-step rank r) in the time-major form.
func shiftAxis(axis int64, r int) (int64, error) {
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) {
		return 0, noVec("axis %d out of range for rank %d", axis, r)
	}
	return axis + 1, nil
}

// applySeq computes a non-elementwise op with at least one operand that
// varies over time.
func (vz *vectorizer) applySeq(v *ir.Value, ops []*vform) (*vform, error) {
	out := v.Type
	x := ops[0]
	r := 0
	if x != nil {
		r = len(x.step.Shape)
	}
	attrs := v.Attrs.Clone()
	if attrs == nil {
		attrs = ir.Attrs{}
	}
	seqArg := func(i int) (*val, error) { return vz.seqOf(ops[i]) }
	result := func(y *val, err error) (*vform, error) {
		if err != nil {
			return nil, err
		}
		if !y.shape().Equal(vz.seqShape(out.Shape)) {
			return nil, noVec("%v gave %v for step type %v", v.Op, y.shape(), out)
		}
		return &vform{x: y, seq: true, step: out}, nil
	}
	switch v.Op {
	case ir.OpMatMul:
		return vz.matmul(v, ops)
	case ir.OpReshape:
		return result(vz.reshape(x.x, vz.seqShape(out.Shape)))
	case ir.OpTranspose:
		perm := []int64{0}
		for _, p := range v.Attrs.Ints("perm") {
			perm = append(perm, p+1)
		}
		attrs["perm"] = perm
		return result(vz.emit(ir.OpTranspose, attrs, x.x))
	case ir.OpReduceSum, ir.OpReduceMean, ir.OpReduceMax:
		axes, err := ir.ReduceAxes(v, r)
		if err != nil {
			return nil, noVec("%v", err)
		}
		shifted := make([]int64, len(axes))
		for i, a := range axes {
			shifted[i] = int64(a) + 1
		}
		attrs["axes"] = shifted
		return result(vz.emit(v.Op, attrs, x.x))
	case ir.OpSoftmax, ir.OpCumSum, ir.OpLinearScan:
		a, err := shiftAxis(v.IntAttr("axis"), len(out.Shape))
		if err != nil {
			return nil, err
		}
		attrs["axis"] = a
		args := make([]*val, len(ops))
		for i := range ops {
			if ops[i] == nil {
				continue
			}
			if args[i], err = seqArg(i); err != nil {
				return nil, err
			}
		}
		return result(vz.emit(v.Op, attrs, args...))
	case ir.OpSlice:
		var axes []int64
		for _, a := range v.Attrs.Ints("axes") {
			s, err := shiftAxis(a, r)
			if err != nil {
				return nil, err
			}
			axes = append(axes, s)
		}
		attrs["axes"] = axes
		return result(vz.emit(ir.OpSlice, attrs, x.x))
	case ir.OpExpand:
		xl, err := vz.lift(x, len(out.Shape))
		if err != nil {
			return nil, err
		}
		attrs["shape"] = vz.seqShape(out.Shape)
		return result(vz.emit(ir.OpExpand, attrs, xl))
	case ir.OpConcat:
		a, err := shiftAxis(v.Attrs.Int("axis", 0), r)
		if err != nil {
			return nil, err
		}
		attrs["axis"] = a
		args := make([]*val, len(ops))
		for i := range ops {
			if args[i], err = seqArg(i); err != nil {
				return nil, err
			}
		}
		return result(vz.emit(ir.OpConcat, attrs, args...))
	case ir.OpSplit:
		a, err := shiftAxis(v.Attrs.Int("axis", 0), r)
		if err != nil {
			return nil, err
		}
		attrs["axis"] = a
		res, err := vz.n.g.emitTuple(ir.OpSplit, attrs, x.x)
		if err != nil {
			return nil, noVec("Split: %v", err)
		}
		f := &vform{step: out}
		for i, y := range res {
			f.elems = append(f.elems, &vform{x: y, seq: true, step: out.Elems[i]})
		}
		return f, nil
	case ir.OpGather:
		if ops[1].seq {
			return nil, noVec("Gather with indices that vary over time")
		}
		a, err := shiftAxis(v.IntAttr("axis"), r)
		if err != nil {
			return nil, err
		}
		attrs["axis"] = a
		return result(vz.emit(ir.OpGather, attrs, x.x, ops[1].x))
	case ir.OpRMSNorm:
		if ops[1].seq {
			return nil, noVec("RMSNorm with a weight that varies over time")
		}
		return result(vz.emit(ir.OpRMSNorm, attrs, x.x, ops[1].x))
	}
	return nil, noVec("%v inside a Scan body", v.Op)
}

// matmul computes MatMul for all steps: time-varying vectors become
// matrices, time-varying operands are lifted to the same batch rank, and
// the result is viewed back as [T, step...].
func (vz *vectorizer) matmul(v *ir.Value, ops []*vform) (*vform, error) {
	a, b := ops[0], ops[1]
	ax, bx := a.x, b.x
	ra, rb := len(a.step.Shape), len(b.step.Shape)
	var err error
	if a.seq && ra == 1 {
		if ax, err = vz.reshape(ax, ir.Shape{vz.T, ir.StaticDim(1), a.step.Shape[0]}); err != nil {
			return nil, err
		}
		ra = 2
	}
	if b.seq && rb == 1 {
		if bx, err = vz.reshape(bx, ir.Shape{vz.T, b.step.Shape[0], ir.StaticDim(1)}); err != nil {
			return nil, err
		}
		rb = 2
	}
	rank := max(ra, rb)
	pad := func(x *val, seq bool, r int) (*val, error) {
		if !seq || r >= rank {
			return x, nil
		}
		sh := x.shape()
		up := append(ir.Shape{vz.T}, make(ir.Shape, rank-r)...)
		for i := 1; i <= rank-r; i++ {
			up[i] = ir.StaticDim(1)
		}
		return vz.reshape(x, append(up, sh[1:]...))
	}
	if ax, err = pad(ax, a.seq, ra); err != nil {
		return nil, err
	}
	if bx, err = pad(bx, b.seq, rb); err != nil {
		return nil, err
	}
	y, err := vz.emit(ir.OpMatMul, v.Attrs, ax, bx)
	if err != nil {
		return nil, err
	}
	if !dropOnes(y.shape()).Equal(dropOnes(vz.seqShape(v.Type.Shape))) {
		return nil, noVec("MatMul gave %v for step type %v", y.shape(), v.Type)
	}
	if y, err = vz.reshape(y, vz.seqShape(v.Type.Shape)); err != nil {
		return nil, err
	}
	return &vform{x: y, seq: true, step: v.Type}, nil
}

// dropOnes returns s without its static dims of size 1.
func dropOnes(s ir.Shape) ir.Shape {
	out := ir.Shape{}
	for _, d := range s {
		if d != ir.StaticDim(1) {
			out = append(out, d)
		}
	}
	return out
}

package onnx

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// Scan vectorization. A Scan runs its body once per step; when every
// state's update is affine in that state,
//
//	state_out = A ⊙ state_in + B      (A, B computed from the step's inputs)
//
// all the states follow from one LinearScan over the sequence, and every
// other body value can be computed for all steps at once by running the
// body's ops on tensors with the sequence as a new leading axis ("time
// major"). This keeps sequences of symbolic length symbolic, and it is
// how Mamba's selective scan, exported as a Scan whose body is
// state = dA·state + dBx; y = state·C, becomes
//
//	H = LinearScan(dA, dBx, h0)   over time;   y = MatMul(H, C)   for all t
//
// (a form the fusion passes can match). A body that is not of this form
// gives errNoVec, and convScan unrolls the Scan instead when its length
// is static.

// vform is a body value computed for all steps: x is the outer value,
// [T, step...] when seq, or a value the same at every step otherwise.
type vform struct {
	x     *val
	seq   bool
	step  ir.Type  // the body value's (per-step) type
	elems []*vform // the results of a tuple-valued op
}

// affine is a body value that is A ⊙ state + B in one state (nil A is 1,
// nil B is 0).
type affine struct {
	state int
	a, b  *vform
}

// vectorizer translates one Scan body into its caller's function.
type vectorizer struct {
	n      *node
	sp     *scanSpec
	T      ir.Dim
	memo   map[*ir.Value]*vform
	states map[*ir.Value]int // body state arguments
	h      []*vform          // per state: all states after each step
	hprev  []*vform          // per state: all states before each step
}

// vectorizeScan converts sp by vectorization; see the comment above.
func (n *node) vectorizeScan(sp *scanSpec, T ir.Dim) ([]*val, error) {
	imp := n.g.imp
	bf := ir.NewFunc("scan_body")
	bg := newRoot(imp, bf, n.g)
	if err := bg.addInitializers(sp.body); err != nil {
		return nil, err
	}
	vz := &vectorizer{n: n, sp: sp, T: T, memo: map[*ir.Value]*vform{}, states: map[*ir.Value]int{}}
	for i, in := range sp.body.GetInput() {
		var t ir.Type
		if i < len(sp.states) {
			t = sp.states[i].typ
		} else {
			k := i - len(sp.states)
			x := sp.inputs[k]
			sh, ax := x.shape(), sp.inAxes[k]
			t = ir.TensorType(x.dtype(), append(sh[:ax:ax], sh[ax+1:]...))
		}
		a := bf.NewArg(bg.argNames.fresh(in.GetName()), t)
		bg.vals[in.GetName()] = &val{typ: t, v: a}
		if i < len(sp.states) {
			vz.states[a] = i
			continue
		}
		k := i - len(sp.states)
		x, err := vz.timeMajor(sp.inputs[k], sp.inAxes[k], sp.inRev[k])
		if err != nil {
			return nil, err
		}
		vz.memo[a] = &vform{x: x, seq: true, step: t}
	}
	if err := bg.convertNodes(sp.body); err != nil {
		return nil, err
	}
	outs, err := bg.graphOutputs(sp.body)
	if err != nil {
		return nil, err
	}
	results := make([]*ir.Value, len(outs))
	for i, o := range outs {
		if results[i], err = bg.mat(o); err != nil {
			return nil, err
		}
	}
	for _, c := range bg.captures {
		vz.memo[c.arg] = &vform{x: c.outer, step: c.arg.Type}
	}
	return vz.run(bf, results)
}

// run does the two passes: find the affine state updates and scan them,
// then compute the outputs from the state sequences.
func (vz *vectorizer) run(bf *ir.Func, results []*ir.Value) ([]*val, error) {
	nState := len(vz.sp.states)
	dep := map[*ir.Value]bool{}
	aff := map[*ir.Value]*affine{}
	for a, i := range vz.states {
		dep[a] = true
		aff[a] = &affine{state: i}
	}
	for _, v := range bf.Body {
		for _, a := range v.Args {
			dep[v] = dep[v] || a != nil && dep[a]
		}
		if dep[v] {
			af, err := vz.affineOf(v, dep, aff)
			if err != nil {
				return nil, err
			}
			if af != nil {
				aff[v] = af
			}
		}
	}
	vz.h = make([]*vform, nState)
	vz.hprev = make([]*vform, nState)
	for i, s := range vz.sp.states {
		r := results[i]
		if !r.Type.Equal(s.typ) {
			return nil, noVec("state %d is %v in and %v out", i, s.typ, r.Type)
		}
		if !dep[r] {
			f, err := vz.get(r)
			if err != nil {
				return nil, err
			}
			x, err := vz.seqOf(f)
			if err != nil {
				return nil, err
			}
			vz.h[i] = &vform{x: x, seq: true, step: s.typ}
			continue
		}
		af := aff[r]
		if af == nil || af.state != i {
			return nil, noVec("the update of state %d is not affine in it", i)
		}
		h, err := vz.linearScan(af, s)
		if err != nil {
			return nil, err
		}
		vz.h[i] = h
		vz.memo[r] = h
	}
	out := make([]*val, 0, len(results))
	for i := range vz.sp.states {
		last, err := vz.last(vz.h[i])
		if err != nil {
			return nil, err
		}
		out = append(out, last)
	}
	for k, r := range results[nState:] {
		f, err := vz.get(r)
		if err != nil {
			return nil, err
		}
		x, err := vz.seqOf(f)
		if err != nil {
			return nil, err
		}
		if vz.sp.outRev[k] {
			if x, err = vz.reverse(x); err != nil {
				return nil, err
			}
		}
		ax, rank := vz.sp.outAxes[k], x.rank()
		if ax < 0 {
			ax += rank
		}
		if ax < 0 || ax >= rank {
			return nil, noVec("scan_output_axes[%d] = %d out of range", k, vz.sp.outAxes[k])
		}
		if x, err = vz.moveAxis(x, 0, ax); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// emit appends an op to the caller's function; failures (shapes the
// vectorized form cannot express) give errNoVec.
func (vz *vectorizer) emit(op ir.Op, attrs ir.Attrs, args ...*val) (*val, error) {
	v, err := vz.n.g.emit(op, attrs, args...)
	if err != nil {
		return nil, noVec("%v: %v", op, err)
	}
	return v, nil
}

// reshape views x as shape.
func (vz *vectorizer) reshape(x *val, shape ir.Shape) (*val, error) {
	if x.shape().Equal(shape) {
		return x, nil
	}
	return vz.emit(ir.OpReshape, ir.Attrs{"shape": shape.Clone()}, x)
}

// seqShape is [T, step...].
func (vz *vectorizer) seqShape(step ir.Shape) ir.Shape {
	return append(ir.Shape{vz.T}, step...)
}

// seqOf returns f as a time-major value, broadcasting a value that is the
// same at every step.
func (vz *vectorizer) seqOf(f *vform) (*val, error) {
	if f.seq {
		return f.x, nil
	}
	return vz.emit(ir.OpExpand, ir.Attrs{"shape": vz.seqShape(f.step.Shape)}, f.x)
}

// lift returns f's outer value with rank rank+1 (time major, 1s inserted
// after the time axis) when it varies over time, unchanged otherwise, so
// that NumPy broadcasting against other lifted operands matches the
// per-step broadcasting.
func (vz *vectorizer) lift(f *vform, rank int) (*val, error) {
	r := len(f.step.Shape)
	if !f.seq || r >= rank {
		return f.x, nil
	}
	sh := ir.Shape{vz.T}
	for i := r; i < rank; i++ {
		sh = append(sh, ir.StaticDim(1))
	}
	return vz.reshape(f.x, append(sh, f.step.Shape...))
}

// timeMajor moves a scan input's axis to the front (reversing it first
// for a reverse scan).
func (vz *vectorizer) timeMajor(x *val, axis int, rev bool) (*val, error) {
	var err error
	if rev {
		if x, err = vz.moveAxis(x, axis, 0); err != nil {
			return nil, err
		}
		if x, err = vz.reverse(x); err != nil {
			return nil, err
		}
		return x, nil
	}
	return vz.moveAxis(x, axis, 0)
}

// moveAxis transposes axis from to position to.
func (vz *vectorizer) moveAxis(x *val, from, to int) (*val, error) {
	if from == to {
		return x, nil
	}
	var perm []int64
	for i := 0; i < x.rank(); i++ {
		if i != from {
			perm = append(perm, int64(i))
		}
	}
	perm = append(perm[:to:to], append([]int64{int64(from)}, perm[to:]...)...)
	return vz.emit(ir.OpTranspose, ir.Attrs{"perm": perm}, x)
}

// reverse reverses the leading (time) axis, which must be static.
func (vz *vectorizer) reverse(x *val) (*val, error) {
	if !vz.T.IsStatic() {
		return nil, noVec("a reverse scan over symbolic length %v", vz.T)
	}
	return vz.emit(ir.OpSlice, ir.Attrs{"axes": []int64{0}, "starts": []int64{vz.T.Off - 1},
		"ends": []int64{-vz.T.Off - 1}, "steps": []int64{-1}}, x)
}

// last returns the final step of a time-major form, without the time
// axis (the initial state for an empty sequence).
func (vz *vectorizer) last(h *vform) (*val, error) {
	s, err := vz.emit(ir.OpSlice, ir.Attrs{"axes": []int64{0}, "starts": []int64{-1}, "ends": []int64{ir.SliceEnd}}, h.x)
	if err != nil {
		return nil, err
	}
	return vz.reshape(s, h.step.Shape)
}

// linearScan emits the LinearScan of an affine state update.
func (vz *vectorizer) linearScan(af *affine, h0 *val) (*vform, error) {
	dt := h0.dtype()
	if !dt.IsFloat() {
		return nil, noVec("state of type %v", dt)
	}
	S := h0.shape()
	full := vz.seqShape(S)
	operand := func(f *vform, unit float64) (*val, error) {
		if f == nil {
			return scalar(dt, unit), nil
		}
		return vz.lift(f, len(S))
	}
	a, err := operand(af.a, 1)
	if err != nil {
		return nil, err
	}
	b, err := operand(af.b, 0)
	if err != nil {
		return nil, err
	}
	if got, err := ir.Broadcast(a.shape(), b.shape()); err != nil || !got.Equal(full) {
		if b, err = vz.emit(ir.OpExpand, ir.Attrs{"shape": full}, b); err != nil {
			return nil, err
		}
	}
	y, err := vz.emit(ir.OpLinearScan, ir.Attrs{"axis": int64(0)}, a, b, h0)
	if err != nil {
		return nil, err
	}
	if !y.shape().Equal(full) {
		return nil, noVec("state sequence is %v, want %v", y.shape(), full)
	}
	return &vform{x: y, seq: true, step: h0.typ}, nil
}

// one returns the constant 1 of a dtype as a form.
func one(dt ir.DType) *vform { return &vform{x: scalar(dt, 1), step: ir.TensorType(dt, ir.Shape{})} }

// ew applies an elementwise op to forms.
func (vz *vectorizer) ew(op ir.Op, attrs ir.Attrs, fs ...*vform) (*vform, error) {
	var shape ir.Shape
	seq := false
	for _, f := range fs {
		s, err := ir.Broadcast(shape, f.step.Shape)
		if err != nil {
			return nil, noVec("%v", err)
		}
		shape = s
		seq = seq || f.seq
	}
	xs := make([]*val, len(fs))
	for i, f := range fs {
		var err error
		if xs[i], err = vz.lift(f, len(shape)); err != nil {
			return nil, err
		}
	}
	y, err := vz.emit(op, attrs, xs...)
	if err != nil {
		return nil, err
	}
	step := ir.TensorType(y.dtype(), shape)
	if seq && !y.shape().Equal(vz.seqShape(shape)) || !seq && !y.shape().Equal(shape) {
		return nil, noVec("%v gave %v", op, y.shape())
	}
	return &vform{x: y, seq: seq, step: step}, nil
}

// affineOf returns v as A ⊙ state + B when its state-dependent operands
// are affine in one state and it combines them affinely; nil otherwise.
func (vz *vectorizer) affineOf(v *ir.Value, dep map[*ir.Value]bool, aff map[*ir.Value]*affine) (*affine, error) {
	if v.Type.IsTuple() || !v.Type.DType.IsFloat() {
		return nil, nil
	}
	var afs [2]*affine
	var free [2]*vform
	for i, a := range v.Args {
		if a == nil || i > 1 {
			return nil, nil
		}
		if dep[a] {
			if afs[i] = aff[a]; afs[i] == nil {
				return nil, nil
			}
			continue
		}
		f, err := vz.get(a)
		if err != nil {
			return nil, err
		}
		free[i] = f
	}
	mul := func(p, q *vform) (*vform, error) {
		switch {
		case p == nil:
			return q, nil
		case q == nil:
			return p, nil
		}
		return vz.ew(ir.OpMul, nil, p, q)
	}
	add := func(op ir.Op, p, q *vform) (*vform, error) { // p op q with nil as 0
		switch {
		case q == nil:
			return p, nil
		case p == nil && op == ir.OpAdd:
			return q, nil
		case p == nil:
			return vz.ew(ir.OpNeg, nil, q)
		}
		return vz.ew(op, nil, p, q)
	}
	orOne := func(f *vform) *vform {
		if f == nil {
			return one(v.Type.DType)
		}
		return f
	}
	p, q := afs[0], afs[1]
	var r affine
	var err1, err2 error
	switch {
	case v.Op == ir.OpNeg && p != nil:
		r.state = p.state
		r.a, err1 = vz.ew(ir.OpNeg, nil, orOne(p.a))
		r.b, err2 = add(ir.OpSub, nil, p.b)
	case v.Op == ir.OpMul && (p == nil) != (q == nil):
		s, x := p, free[1]
		if s == nil {
			s, x = q, free[0]
		}
		r.state = s.state
		r.a, err1 = mul(s.a, x)
		if s.b != nil {
			r.b, err2 = mul(s.b, x)
		}
	case v.Op == ir.OpDiv && p != nil && q == nil:
		r.state = p.state
		r.a, err1 = vz.ew(ir.OpDiv, nil, orOne(p.a), free[1])
		if p.b != nil {
			r.b, err2 = vz.ew(ir.OpDiv, nil, p.b, free[1])
		}
	case (v.Op == ir.OpAdd || v.Op == ir.OpSub) && p != nil && q == nil:
		r.state, r.a = p.state, p.a
		r.b, err1 = add(v.Op, p.b, free[1])
	case v.Op == ir.OpAdd && p == nil && q != nil:
		r.state, r.a = q.state, q.a
		r.b, err1 = add(ir.OpAdd, free[0], q.b)
	case v.Op == ir.OpSub && p == nil && q != nil: // x - (A·s + B)
		r.state = q.state
		r.a, err1 = vz.ew(ir.OpNeg, nil, orOne(q.a))
		r.b, err2 = add(ir.OpSub, free[0], q.b)
	case (v.Op == ir.OpAdd || v.Op == ir.OpSub) && p != nil && q != nil && p.state == q.state:
		r.state = p.state
		r.a, err1 = vz.ew(v.Op, nil, orOne(p.a), orOne(q.a))
		r.b, err2 = add(v.Op, p.b, q.b)
	default:
		return nil, nil
	}
	if err1 != nil {
		return nil, err1
	}
	return &r, err2
}

// get returns the vectorized form of a body value, computing it (and its
// operands) on first use.
func (vz *vectorizer) get(v *ir.Value) (*vform, error) {
	if f, ok := vz.memo[v]; ok {
		return f, nil
	}
	if i, ok := vz.states[v]; ok {
		f, err := vz.prevStates(i)
		if err != nil {
			return nil, err
		}
		vz.memo[v] = f
		return f, nil
	}
	ops := make([]*vform, len(v.Args))
	for i, a := range v.Args {
		if a == nil {
			continue
		}
		f, err := vz.get(a)
		if err != nil {
			return nil, err
		}
		ops[i] = f
	}
	f, err := vz.apply(v, ops)
	if err != nil {
		return nil, err
	}
	vz.memo[v] = f
	return f, nil
}

// prevStates returns the states before each step: h0, then all but the
// last state after each step.
func (vz *vectorizer) prevStates(i int) (*vform, error) {
	if vz.hprev[i] != nil {
		return vz.hprev[i], nil
	}
	if vz.h[i] == nil {
		return nil, noVec("state %d is read before its update is known", i)
	}
	h0 := vz.sp.states[i]
	first, err := vz.reshape(h0, append(ir.Shape{ir.StaticDim(1)}, h0.shape()...))
	if err != nil {
		return nil, err
	}
	rest, err := vz.emit(ir.OpSlice, ir.Attrs{"axes": []int64{0}, "starts": []int64{0}, "ends": []int64{-1}}, vz.h[i].x)
	if err != nil {
		return nil, err
	}
	x, err := vz.emit(ir.OpConcat, ir.Attrs{"axis": int64(0)}, first, rest)
	if err != nil {
		return nil, err
	}
	if !x.shape().Equal(vz.seqShape(h0.shape())) {
		return nil, noVec("previous states are %v", x.shape())
	}
	vz.hprev[i] = &vform{x: x, seq: true, step: h0.typ}
	return vz.hprev[i], nil
}

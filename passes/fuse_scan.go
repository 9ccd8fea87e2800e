package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseScan recognizes the selective-SSM recurrence written in plain ops.
// One step, with state h [Bt,Dm,N] (f32), x, z [Bt,Dm], B, C [Bt,N],
// A [Dm,N], D [Dm] and dt [Bt,Dm] (Reshapes of these to the column
// [Bt,Dm,1] and row [Bt,1,N] views the broadcasts need are looked
// through):
//
//	h' = Exp(dt·A)·h + dt·x·B              products in any order and grouping; Exp(-(dt·A')) means A = -A'
//	y  = (ReduceSum(h'·C, axis -1) [+ D·x]) [· SiLU(z)]      SiLU(z) also as z·Sigmoid(z)
//	     (h'·C also as Reshape(MatMul(h', C as a column [Bt,N,1]), [Bt,Dm]))
//	dt = [Softplus](delta [+ delta_bias])
//
// becomes
//
//	(y, h') = SelectiveStateUpdate(x, delta, A, B, C, D?, z?, delta_bias?, h){delta_softplus}
//
// A chain of L such steps, each reading time step t of sequences [Bt,L,·]
// (Slice of length 1 on axis 1, a Split of axis 1 into ones, or a Gather
// of the constant index t on axis 1, possibly Reshaped), step t+1 starting from step t's state, whose outputs are
// Reshaped to [Bt,1,Dm] and concatenated along axis 1 in order, becomes
// one scan over the whole sequence:
//
//	(Y, h_L) = SelectiveScan(U, Delta, A, Bs, Cs, D?, Z?, delta_bias?, h_0?){delta_softplus}
//
// with h_0 absent when the chain starts from zeros. Softplus and the bias
// may be applied to the whole sequence before slicing or to every step.
// When every fused chain has the same length n, the chains prove the
// traced steps identical, and the function's static length n is turned
// into the symbol L where nothing else depends on it (generalizeLength):
// a fixed-length export then accepts any sequence length. Counter:
// generalized/length.
// A chain that does not qualify (a missing step, an intermediate state
// used elsewhere, outputs gathered another way) becomes one state update
// per step. Counters: fused/scan (chains), fused/state-update (steps).
func fuseScan(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	var steps []*ssmStep
	claimed := map[*ir.Value]bool{}
	for _, v := range f.Body {
		if v.Op != ir.OpAdd || claimed[v] {
			continue
		}
		s := u.matchStep(v)
		if s == nil || slices.ContainsFunc(s.interior, func(w *ir.Value) bool { return claimed[w] }) {
			continue
		}
		for _, w := range s.interior {
			claimed[w] = true
		}
		claimed[v], claimed[s.y] = true, true
		steps = append(steps, s)
	}
	lengths := map[int]bool{}
	for _, chain := range linkSteps(u, steps) {
		if u.fuseChain(chain) {
			c.Count("fused/scan", 1)
			lengths[len(chain)] = true
			continue
		}
		for _, s := range chain {
			if u.fuseUpdate(s) {
				c.Count("fused/state-update", 1)
			}
		}
	}
	if err := u.finish(); err != nil {
		return err
	}
	if len(lengths) == 1 {
		for n := range lengths {
			if generalizeLength(f, int64(n)) {
				c.Count("generalized/length", 1)
			}
		}
	}
	return nil
}

// ssmStep is one matched recurrence step.
type ssmStep struct {
	hOut, y  *ir.Value // the new state and the output, replaced
	p        *ir.Value // exp(dt·A)·h
	hArg     int       // which operand of p is h
	x, dt    *ir.Value // leaves of dt·x·B with [Bt,Dm] data
	a        *ir.Value // [Dm, N]
	negA     bool      // the step computes exp(-(dt·a))
	b, c     *ir.Value // [Bt,N] data
	d, z     *ir.Value // nil when absent
	readout  *ir.Value // h'·C
	interior []*ir.Value
	next     *ssmStep
}

// values are the step's values the fusion replaces or leaves dead.
func (s *ssmStep) values() []*ir.Value {
	return append([]*ir.Value{s.hOut, s.y}, s.interior...)
}

// hIn is the step's incoming state (read now: an earlier fusion may have
// replaced it).
func (s *ssmStep) hIn() *ir.Value { return s.p.Args[s.hArg] }

// matchStep matches the step whose new state is hOut.
func (u *fuser) matchStep(hOut *ir.Value) *ssmStep {
	t := hOut.Type
	if t.DType != ir.F32 || t.Shape.Rank() != 3 || !t.Shape[2].IsStatic() {
		return nil
	}
	for side := 0; side < 2; side++ {
		if s := u.matchStepSides(hOut, hOut.Args[side], hOut.Args[1-side]); s != nil {
			return s
		}
	}
	return nil
}

func (u *fuser) matchStepSides(hOut, p, q *ir.Value) *ssmStep {
	bt, dm, n := hOut.Type.Shape[0], hOut.Type.Shape[1], hOut.Type.Shape[2]
	col, row, aShape := ir.Shape{bt, dm, ir.StaticDim(1)}, ir.Shape{bt, ir.StaticDim(1), n}, ir.Shape{dm, n}
	if p.Op != ir.OpMul || q.Op != ir.OpMul || !u.onlyUser(p, hOut) || !u.onlyUser(q, hOut) {
		return nil
	}
	for i := 0; i < 2; i++ {
		e, h := p.Args[i], p.Args[1-i]
		if e.Op != ir.OpExp || !u.onlyUser(e, p) || !h.Type.Equal(hOut.Type) {
			continue
		}
		s := &ssmStep{hOut: hOut, p: p, hArg: 1 - i, interior: []*ir.Value{p, e, q}}
		m, parent := e.Args[0], e
		switch {
		case m.Op == ir.OpNeg && u.onlyUser(m, e):
			s.negA, s.interior, m, parent = true, append(s.interior, m), m.Args[0], m
		case m.Op == ir.OpSub && isZero(m.Args[0]) && u.onlyUser(m, e):
			s.negA, s.interior, m, parent = true, append(s.interior, m), m.Args[1], m
		}
		if m.Op != ir.OpMul || !u.onlyUser(m, parent) {
			continue
		}
		s.interior = append(s.interior, m)
		fe := u.factors(m, &s.interior)
		if len(fe) != 2 {
			continue
		}
		if fe[0].shape.Equal(aShape) {
			fe[0], fe[1] = fe[1], fe[0]
		}
		if !fe[0].shape.Equal(col) || !fe[1].shape.Equal(aShape) || !fe[1].v.Type.Shape.Equal(aShape) || fe[1].v.Type.DType != ir.F32 {
			continue
		}
		s.a = fe[1].v
		dtRoot := stripReshape(fe[0].v)
		fq := u.factors(q, &s.interior)
		var cols, rows []*ir.Value
		for _, fc := range fq {
			switch {
			case fc.shape.Equal(col):
				cols = append(cols, fc.v)
			case fc.shape.Equal(row):
				rows = append(rows, fc.v)
			}
		}
		if len(cols) != 2 || len(rows) != 1 || len(fq) != 3 {
			continue
		}
		s.b = rows[0]
		switch {
		case stripReshape(cols[0]) == dtRoot:
			s.dt, s.x = cols[0], cols[1]
		case stripReshape(cols[1]) == dtRoot:
			s.dt, s.x = cols[1], cols[0]
		default:
			continue
		}
		if u.matchReadout(s, row) {
			return s
		}
	}
	return nil
}

// matchReadout matches y = (ReduceSum(h'·C) [+ D·x]) [· SiLU(z)] (h'·C
// also as a MatMul with a column) from the users of s.hOut.
func (u *fuser) matchReadout(s *ssmStep, row ir.Shape) bool {
	bt, dm := s.hOut.Type.Shape[0], s.hOut.Type.Shape[1]
	vec := ir.Shape{bt, dm}
	for _, r := range s.hOut.Users {
		if r == s.p || len(r.Users) != 1 || u.f.IsResult(r) {
			continue
		}
		var cv *ir.Value
		var interior []*ir.Value
		y := r
		switch r.Op {
		case ir.OpMul:
			cv, y = reduceReadout(s, r, row)
		case ir.OpMatMul:
			cv, y = matmulReadout(s, r)
		}
		if cv == nil {
			continue
		}
		interior = append(interior, r)
		for w := r; w != y; w = w.Users[0] { // the values from r to y, a chain of single uses
			if len(w.Users) != 1 || u.f.IsResult(w) {
				cv = nil
				break
			}
			interior = append(interior, w.Users[0])
		}
		if cv == nil || !y.Type.Shape.Equal(vec) {
			continue
		}
		s.c, s.readout = cv, r
		// + D·x
		if len(y.Users) == 1 && !u.f.IsResult(y) && y.Users[0].Op == ir.OpAdd {
			add := y.Users[0]
			dx := add.Args[0]
			if dx == y {
				dx = add.Args[1]
			}
			var dxIn []*ir.Value
			if dx.Op == ir.OpMul && dx != y && u.onlyUser(dx, add) && add.Type.Shape.Equal(vec) {
				fd := u.factors(dx, &dxIn)
				if len(fd) == 2 && fd[1].shape.Rank() == 1 {
					fd[0], fd[1] = fd[1], fd[0]
				}
				if len(fd) == 2 && fd[0].shape.Equal(ir.Shape{dm}) && fd[0].v.Type.DType == ir.F32 &&
					fd[1].shape.Equal(vec) && stripReshape(fd[1].v) == stripReshape(s.x) {
					s.d, y = fd[0].v, add
					interior = append(append(interior, dx, add), dxIn...)
				}
			}
		}
		// · SiLU(z)
		if len(y.Users) == 1 && !u.f.IsResult(y) && y.Users[0].Op == ir.OpMul {
			g := y.Users[0]
			gate := g.Args[0]
			if gate == y {
				gate = g.Args[1]
			}
			var z *ir.Value
			switch {
			case gate.Op == ir.OpSiLU:
				z = gate.Args[0]
			case gate.Op == ir.OpMul:
				z = siluArg(gate)
			}
			if gate != y && z != nil && z.Type.Shape.Equal(vec) && g.Type.Shape.Equal(vec) {
				s.z, y = z, g
				interior = append(interior, g)
			}
		}
		s.y = y
		s.interior = append(s.interior, interior...)
		return true
	}
	return false
}

// reduceReadout matches r = h'·C, ReduceSum(r, axis -1) [then a Reshape
// when keepdims]; it returns C and the readout's last value.
func reduceReadout(s *ssmStep, r *ir.Value, row ir.Shape) (cv, y *ir.Value) {
	cv = r.Args[0]
	if cv == s.hOut {
		cv = r.Args[1]
	}
	if cv == s.hOut || !cv.Type.Shape.Equal(row) || !r.Type.Shape.Equal(s.hOut.Type.Shape) {
		return nil, nil
	}
	red := r.Users[0]
	if red.Op != ir.OpReduceSum || !slices.Equal(normAxes(red, 3), []int{2}) {
		return nil, nil
	}
	y = red
	if red.BoolAttr("keepdims") {
		if len(red.Users) != 1 || red.Users[0].Op != ir.OpReshape {
			return nil, nil
		}
		y = red.Users[0]
	}
	return cv, y
}

// matmulReadout matches r = MatMul(h', C) with C as a column [Bt,N,1]
// (or a row [Bt,1,N] with transpose_b), then a Reshape of the [Bt,Dm,1]
// product; it returns C and the Reshape.
func matmulReadout(s *ssmStep, r *ir.Value) (cv, y *ir.Value) {
	bt, dm, n := s.hOut.Type.Shape[0], s.hOut.Type.Shape[1], s.hOut.Type.Shape[2]
	want := ir.Shape{bt, n, ir.StaticDim(1)}
	if r.BoolAttr("transpose_b") {
		want = ir.Shape{bt, ir.StaticDim(1), n}
	}
	cv = r.Args[1]
	if r.Args[0] != s.hOut || cv == s.hOut || !cv.Type.Shape.Equal(want) || !r.Type.Shape.Equal(ir.Shape{bt, dm, ir.StaticDim(1)}) {
		return nil, nil
	}
	if y = r.Users[0]; y.Op != ir.OpReshape {
		return nil, nil
	}
	return cv, y
}

// linkSteps groups the steps into chains, each step's state feeding only
// the next step (and its own readout).
func linkSteps(u *fuser, steps []*ssmStep) [][]*ssmStep {
	byOut := map[*ir.Value]*ssmStep{}
	for _, s := range steps {
		byOut[s.hOut] = s
	}
	hasPrev := map[*ssmStep]bool{}
	for _, s := range steps {
		prev := byOut[s.hIn()]
		if prev == nil || prev.next != nil || u.f.IsResult(prev.hOut) || len(prev.hOut.Users) != 2 ||
			!slices.Contains(prev.hOut.Users, prev.readout) || !slices.Contains(prev.hOut.Users, s.p) {
			continue
		}
		prev.next, hasPrev[s] = s, true
	}
	var chains [][]*ssmStep
	for _, s := range steps {
		if hasPrev[s] {
			continue
		}
		var chain []*ssmStep
		for t := s; t != nil; t = t.next {
			chain = append(chain, t)
		}
		chains = append(chains, chain)
	}
	return chains
}

// fuseUpdate replaces one step by a SelectiveStateUpdate.
func (u *fuser) fuseUpdate(s *ssmStep) bool {
	bt, dm, n := s.hOut.Type.Shape[0], s.hOut.Type.Shape[1], s.hOut.Type.Shape[2]
	t := u.begin(s.values()...)
	vec := ir.Shape{bt, dm}
	bc := ir.Shape{bt, n}
	if bt == dm { // [Bt, N] would read as a constant [Dm, N]: use one group
		bc = ir.Shape{bt, ir.StaticDim(1), n}
	}
	delta, bias, sp := peelDelta(stripReshape(s.dt))
	if bias == nil && !sp {
		delta = s.dt
	}
	a := s.a
	t.need(a, bias, s.d, s.hIn())
	if s.negA {
		a = t.op(ir.OpNeg, nil, a)
	}
	res := t.tuple(ir.OpSelectiveStateUpdate, ir.Attrs{"delta_softplus": sp},
		t.view(s.x, vec), t.view(delta, vec), a, t.view(s.b, bc), t.view(s.c, bc), s.d, t.view(s.z, vec), bias, s.hIn())
	if res == nil {
		return t.commit(nil, []*ir.Value{nil})
	}
	return t.commit([]*ir.Value{s.y, s.hOut}, res)
}

// peelDelta splits the step size dt into Softplus(delta + bias): sp says
// whether Softplus was applied, bias (f32 [Dm]) is nil when not added.
func peelDelta(dt *ir.Value) (delta, bias *ir.Value, sp bool) {
	delta = dt
	if delta.Op == ir.OpSoftplus {
		sp, delta = true, delta.Args[0]
	}
	if delta.Op == ir.OpAdd {
		r := delta.Type.Shape.Rank()
		for i := 0; i < 2 && r > 0; i++ {
			b, o := delta.Args[i], delta.Args[1-i]
			if b.Type.DType == ir.F32 && b.Type.Shape.Equal(ir.Shape{delta.Type.Shape[r-1]}) && o.Type.Shape.Equal(delta.Type.Shape) {
				return o, b, sp
			}
		}
	}
	if !sp {
		return dt, nil, false
	}
	return delta, nil, true
}

// timeSlice returns the sequence [Bt,L,·] whose time step t root reads:
// a Slice of length 1 on axis 1, an Extract of a Split of axis 1 into
// pieces of 1, or a Gather of a constant scalar index on axis 1.
func timeSlice(root *ir.Value) (*ir.Value, int64, bool) {
	switch root.Op {
	case ir.OpSlice:
		s := root.Args[0]
		axes, starts, ends, steps := root.Attrs.Ints("axes"), root.Attrs.Ints("starts"), root.Attrs.Ints("ends"), root.Attrs.Ints("steps")
		if s.Type.Shape.Rank() != 3 || len(axes) != 1 || (axes[0] != 1 && axes[0] != -2) || !s.Type.Shape[1].IsStatic() ||
			len(starts) != 1 || len(ends) != 1 || steps != nil && (len(steps) != 1 || steps[0] != 1) {
			return nil, 0, false
		}
		first, count := ir.SliceRange(s.Type.Shape[1].Off, starts[0], ends[0], 1)
		return s, first, count == 1
	case ir.OpExtract:
		sp := root.Args[0]
		if sp.Op != ir.OpSplit || sp.Args[0].Type.Shape.Rank() != 3 {
			return nil, 0, false
		}
		if ax := sp.Attrs.Int("axis", 0); ax != 1 && ax != -2 {
			return nil, 0, false
		}
		for _, n := range sp.Attrs.Ints("sizes") {
			if n != 1 {
				return nil, 0, false
			}
		}
		return sp.Args[0], root.Attrs.Int("index", 0), true
	case ir.OpGather:
		s, idx := root.Args[0], root.Args[1]
		if ax := root.IntAttr("axis"); s.Type.Shape.Rank() != 3 || ax != 1 && ax != -2 || !s.Type.Shape[1].IsStatic() ||
			idx.Op != ir.OpConst || idx.Type.Shape.Rank() != 0 {
			return nil, 0, false
		}
		t, n := int64(idx.Attrs.Tensor("value").At(0)), s.Type.Shape[1].Off
		if t < 0 {
			t += n
		}
		return s, t, t >= 0 && t < n
	}
	return nil, 0, false
}

// scanPlan is what a chain scans over.
type scanPlan struct {
	u, delta, b, c, z *ir.Value // sequences
	bias              *ir.Value
	sp                bool
}

// fuseChain replaces a whole chain by one SelectiveScan when every step
// reads step t of the same sequences and the outputs are concatenated in
// order.
func (u *fuser) fuseChain(chain []*ssmStep) bool {
	s0 := chain[0]
	bt, dm, n := s0.hOut.Type.Shape[0], s0.hOut.Type.Shape[1], s0.hOut.Type.Shape[2]
	l := int64(len(chain))
	var plan scanPlan
	seqOf := func(v *ir.Value, k int64, want *ir.Value, width ir.Dim) (*ir.Value, bool) {
		if v == nil {
			return nil, want == nil
		}
		s, t, ok := timeSlice(stripReshape(v))
		if !ok || t != k || want != nil && s != want || !s.Type.Shape.Equal(ir.Shape{bt, ir.StaticDim(l), width}) {
			return nil, false
		}
		return s, true
	}
	for k, s := range chain {
		if s.a != s0.a || s.negA != s0.negA || s.d != s0.d || (s.z == nil) != (s0.z == nil) {
			return false
		}
		delta, bias, sp := peelDelta(stripReshape(s.dt))
		if bias == nil && !sp {
			delta = s.dt
		}
		dseq, ok := seqOf(delta, int64(k), nil, dm)
		if !ok {
			return false
		}
		if bias == nil && !sp {
			dseq, bias, sp = peelDelta(dseq)
		}
		if k == 0 {
			plan.delta, plan.bias, plan.sp = dseq, bias, sp
		} else if dseq != plan.delta || bias != plan.bias || sp != plan.sp {
			return false
		}
		var okU, okB, okC, okZ bool
		plan.u, okU = seqOf(s.x, int64(k), pick(k, plan.u), dm)
		plan.b, okB = seqOf(s.b, int64(k), pick(k, plan.b), n)
		plan.c, okC = seqOf(s.c, int64(k), pick(k, plan.c), n)
		plan.z, okZ = seqOf(s.z, int64(k), pick(k, plan.z), dm)
		if !okU || !okB || !okC || !okZ {
			return false
		}
	}
	// The outputs, in order, viewed as [Bt,1,Dm] and concatenated on axis 1.
	one := ir.Shape{bt, ir.StaticDim(1), dm}
	views := make([]*ir.Value, l)
	for k, s := range chain {
		if len(s.y.Users) != 1 || u.f.IsResult(s.y) || s.y.Users[0].Op != ir.OpReshape || !s.y.Users[0].Type.Shape.Equal(one) {
			return false
		}
		views[k] = s.y.Users[0]
	}
	var out *ir.Value
	switch w := views[0]; {
	case len(w.Users) == 1 && !u.f.IsResult(w) && w.Users[0].Op == ir.OpConcat:
		out = w.Users[0]
		if ax := out.Attrs.Int("axis", 0); (ax != 1 && ax != -2) || !slices.Equal(out.Args, views) {
			return false
		}
	case l == 1:
		out = w
	default:
		return false
	}
	for _, v := range views[:l-1] {
		if len(v.Users) != 1 || u.f.IsResult(v) {
			return false
		}
	}
	h0 := s0.hIn()
	if isZero(h0) {
		h0 = nil
	}
	pattern := append(views, out)
	for _, s := range chain {
		pattern = append(pattern, s.values()...)
	}
	t := u.begin(pattern...)
	t.need(plan.u, plan.delta, plan.b, plan.c, plan.z, plan.bias, s0.d, s0.a, h0)
	a := s0.a
	if s0.negA {
		a = t.op(ir.OpNeg, nil, a)
	}
	res := t.tuple(ir.OpSelectiveScan, ir.Attrs{"delta_softplus": plan.sp},
		plan.u, plan.delta, a, plan.b, plan.c, s0.d, plan.z, plan.bias, h0)
	if res == nil {
		return t.commit(nil, []*ir.Value{nil})
	}
	return t.commit([]*ir.Value{out, chain[l-1].hOut}, res)
}

// pick returns the sequence found at step 0 for the later steps to match
// (nil at step 0: any sequence).
func pick(k int, v *ir.Value) *ir.Value {
	if k == 0 {
		return nil
	}
	return v
}

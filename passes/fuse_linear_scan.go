package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseLinearScan recognizes the Mamba-1 selective scan written around a
// LinearScan: what the ONNX importer makes of a Scan whose body is the
// recurrence (the discretization inside the body or outside), and of
// LinearAttention(update_rule="gated") with one head per channel, d_k =
// d_state, d_v = 1. The LinearScan's axes are labelled batch b, time t
// (its scan axis), channel d and state n, in any order and next to any
// number of size-1 axes; Transposes, Reshapes that only add or drop
// size-1 dims, Expands and broadcasting are looked through everywhere
// (axislabels.go), so the time-major layout of a vectorized Scan and the
// per-head layout of LinearAttention match alike:
//
//	H  = LinearScan(Exp(dt·A), dt·x·B, h0?){axis t}   products in any grouping; Exp(-(dt·A)) means A = -A
//	y  = sum_n H·C        MatMul with C as [.., n, 1] or [.., 1, n], or Mul + ReduceSum over n
//	y' = (y [+ D·x]) [· SiLU(z)]                      SiLU(z) also as z·Sigmoid(z)
//	h  = Slice(H, t, the last step)                   (or a Gather of index -1; optional, any number)
//	dt = [Softplus](delta [+ delta_bias])
//
// with dt, x, z labelled [b,t,d], A [d,n] f32, B and C [b,t,n], D and
// delta_bias [d] f32, h0 [b,d,n] and H f32, becomes
//
//	(Y, h) = SelectiveScan(x, delta, A, B, C, D?, z?, delta_bias?, h0?){delta_softplus}
//
// with Transposes and Reshapes between the graph's layouts and
// SelectiveScan's [Bt,L,Dm], [Bt,L,N], [Dm,N] and [Bt,Dm,N]. h0 is dropped
// when it is zeros. The fusion does not fire when H has users other than
// the readout and the last-step slices, or when the time axis has static
// size 1; an intermediate value of the readout chain used elsewhere ends
// the chain there.
//
// The same recurrence unrolled over precomputed sequences (a traced
// export of the Hugging Face slow path: dA and Δ·B·x for the whole
// sequence, then h = dA[t]·h + dBu[t] step by step, see stepChain) is
// matched as the LinearScan it computes, with per-step readouts sum_n
// h_t·C[t] stacked by one Concat in step order; the tail (+ D·x, · SiLU(z))
// follows the Concat. When every such chain fused has the same length n,
// the function's static length n becomes the symbol L where nothing else
// depends on it (generalizeLength). Counters: fused/linear-scan,
// generalized/length.
func fuseLinearScan(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	for _, v := range slices.Clone(f.Body) {
		if v.Op != ir.OpLinearScan {
			continue
		}
		if m := u.matchLinearScan(v, nil); m != nil && u.fuseLinearScanMatch(m) {
			c.Count("fused/linear-scan", 1)
		}
	}
	lengths := map[int]bool{}
	for _, ch := range u.findStepChains() {
		ls, added, ok := u.scanOf(ch)
		if !ok {
			continue
		}
		if m := u.matchLinearScan(ls, ch); m != nil && u.fuseLinearScanMatch(m) {
			c.Count("fused/linear-scan", 1)
			lengths[len(ch.hs)] = true
			continue
		}
		f.Remove(added...)
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

// lsMatch is a matched selective scan around LinearScan ls. Labels are
// axes of ls; lb is -1 when the batch has static size 1.
type lsMatch struct {
	ls             *ir.Value
	lb, lt, ld, ln int
	negA           bool
	dt, x, a, b, c lfactor
	d, z           lfactor // v nil when absent
	out            *ir.Value
	outL           []int
	lasts          []lfactor // values that are the last state, with their labels
	pattern        []*ir.Value

	chain *stepChain // the unrolled chain ls stands for (nil: ls is in the graph)
	step  int64      // the step whose readout is being matched
}

// matchLinearScan matches the pattern around ls; nil when it does not
// apply.
func (u *fuser) matchLinearScan(ls *ir.Value, chain *stepChain) *lsMatch {
	y := ls.Type.Shape
	ax := int(ls.IntAttr("axis"))
	if ax < 0 {
		ax += y.Rank()
	}
	if ax < 0 || ax >= y.Rank() || isUnit(y[ax]) || ls.Type.DType != ir.F32 || u.f.IsResult(ls) {
		return nil
	}
	m := &lsMatch{ls: ls, lb: -1, lt: ax, pattern: []*ir.Value{ls}, chain: chain}
	if !u.matchDecay(m) || !u.matchDrive(m) {
		return nil
	}
	for i, d := range y {
		if !isUnit(d) && i != m.lb && i != m.lt && i != m.ld && i != m.ln {
			return nil // a fifth axis (heads, say): not Mamba-1
		}
	}
	if chain != nil {
		if !u.matchStepReadouts(m) {
			return nil
		}
	} else {
		var readout *ir.Value
		for _, w := range ls.Users {
			switch {
			case isLastStep(w, ax):
				l := identLabels(y)
				if w.Op == ir.OpGather {
					l = slices.Delete(l, ax, ax+1)
				} else {
					l[ax] = -1
				}
				m.lasts = append(m.lasts, lfactor{w, l})
			case readout == nil || readout == w:
				readout = w
			default:
				return nil
			}
		}
		if readout == nil || !u.matchReadoutChain(m, readout) {
			return nil
		}
	}
	for _, l := range m.lasts {
		m.pattern = append(m.pattern, l.v)
	}
	return m
}

// matchDecay matches a = Exp([-](dt·A)) and labels the axes from it.
func (u *fuser) matchDecay(m *lsMatch) bool {
	ls := m.ls
	full := labelSet(identLabels(ls.Type.Shape))
	e, el := viewSource(ls.Args[0], identLabels(ls.Type.Shape))
	if e.Op != ir.OpExp {
		return false
	}
	m.pattern = append(m.pattern, e)
	p := e.Args[0]
	switch {
	case p.Op == ir.OpNeg:
		m.negA, p = true, p.Args[0]
	case p.Op == ir.OpSub && isZero(p.Args[0]) && p.Args[1].Type.Shape.Equal(p.Type.Shape):
		m.negA, p = true, p.Args[1]
	}
	fs := labelledProduct(p, el, func(w *ir.Value, l []int) bool {
		return slices.Equal(labelSet(l), full)
	}, &m.pattern)
	if len(fs) != 2 {
		return false
	}
	if hasLabel(fs[0].labels, m.lt) {
		fs[0], fs[1] = fs[1], fs[0]
	}
	a, dt := fs[0], fs[1]
	as := labelSet(a.labels)
	if hasLabel(a.labels, m.lt) || !hasLabel(dt.labels, m.lt) || len(as) != 2 || a.v.Type.DType != ir.F32 {
		return false
	}
	switch {
	case hasLabel(dt.labels, as[0]) && !hasLabel(dt.labels, as[1]):
		m.ld, m.ln = as[0], as[1]
	case hasLabel(dt.labels, as[1]) && !hasLabel(dt.labels, as[0]):
		m.ld, m.ln = as[1], as[0]
	default:
		return false
	}
	for _, l := range labelSet(dt.labels) {
		switch {
		case l == m.lt || l == m.ld:
		case m.lb < 0:
			m.lb = l
		default:
			return false
		}
	}
	if !ls.Type.Shape[m.ln].IsStatic() || !dt.v.Type.DType.IsFloat() {
		return false
	}
	m.a, m.dt = a, dt
	return true
}

// matchDrive matches b = dt·x·B.
func (u *fuser) matchDrive(m *lsMatch) bool {
	ls := m.ls
	fs := labelledProduct(ls.Args[1], identLabels(ls.Type.Shape), func(w *ir.Value, l []int) bool {
		if hasLabel(l, m.ld) && hasLabel(l, m.ln) {
			return true
		}
		for _, a := range w.Args {
			if s, _ := viewSource(a, identLabels(a.Type.Shape)); s == m.dt.v {
				return true
			}
		}
		return false
	}, &m.pattern)
	if len(fs) != 3 {
		return false
	}
	var okDt, okX, okB bool
	for _, f := range fs {
		switch {
		case !okDt && f.v == m.dt.v && slices.Equal(f.labels, m.dt.labels):
			okDt = true
		case !okX && sameLabels(f.labels, m.lb, m.lt, m.ld) && f.v.Type.DType.IsFloat():
			m.x, okX = f, true
		case !okB && sameLabels(f.labels, m.lb, m.lt, m.ln) && f.v.Type.DType.IsFloat():
			m.b, okB = f, true
		}
	}
	return okDt && okX && okB
}

// isLastStep reports whether w takes the last step of axis ax: a Slice
// of length 1, or a Gather of the constant index -1 (or n-1).
func isLastStep(w *ir.Value, ax int) bool {
	x := w.Args[0].Type.Shape
	if w.Op == ir.OpGather {
		idx := w.Args[1]
		if a := w.IntAttr("axis"); a != int64(ax) && a != int64(ax-x.Rank()) || idx.Op != ir.OpConst || idx.Type.Shape.Rank() != 0 {
			return false
		}
		i := int64(idx.Attrs.Tensor("value").At(0))
		return i == -1 || x[ax].IsStatic() && i == x[ax].Off-1
	}
	if w.Op != ir.OpSlice {
		return false
	}
	axes, starts, ends, steps := w.Attrs.Ints("axes"), w.Attrs.Ints("starts"), w.Attrs.Ints("ends"), w.Attrs.Ints("steps")
	if len(axes) != 1 || len(starts) != 1 || len(ends) != 1 || steps != nil && (len(steps) != 1 || steps[0] != 1) {
		return false
	}
	if a := axes[0]; a != int64(ax) && a != int64(ax-x.Rank()) {
		return false
	}
	if d := x[ax]; d.IsStatic() {
		first, count := ir.SliceRange(d.Off, starts[0], ends[0], 1)
		return count == 1 && first == d.Off-1
	}
	return starts[0] == -1 && ends[0] == ir.SliceEnd
}

// fuseLinearScanMatch replaces a match by a SelectiveScan.
func (u *fuser) fuseLinearScanMatch(m *lsMatch) bool {
	y := m.ls.Type.Shape
	bt := ir.StaticDim(1)
	if m.lb >= 0 {
		bt = y[m.lb]
	}
	l, dm, n := y[m.lt], y[m.ld], y[m.ln]
	seqD, seqN := []int{m.lb, m.lt, m.ld}, []int{m.lb, m.lt, m.ln}
	shD, shN := ir.Shape{bt, l, dm}, ir.Shape{bt, l, n}
	state, stateSh := []int{m.lb, m.ld, m.ln}, ir.Shape{bt, dm, n}

	delta, sp := m.dt, false
	var bias lfactor
	if delta.v.Op == ir.OpSoftplus {
		delta.v, sp = delta.v.Args[0], true
	}
	if dv := delta.v; dv.Op == ir.OpAdd {
		for i := 0; i < 2; i++ {
			b, o := dv.Args[i], dv.Args[1-i]
			if !o.Type.Shape.Equal(dv.Type.Shape) {
				continue
			}
			bv, bl := viewSource(b, bcastLabels(b.Type.Shape, dv.Type.Shape, delta.labels))
			if bv.Type.DType == ir.F32 && sameLabels(bl, m.ld) {
				bias, delta.v = lfactor{bv, bl}, o
				break
			}
		}
	}
	h0 := m.ls.Arg(2)
	var h0L []int
	if h0 != nil && isZero(h0) {
		h0 = nil
	}
	if h0 != nil {
		h0L = slices.Delete(identLabels(y), m.lt, m.lt+1)
	}

	t := u.begin(m.pattern...)
	t.need(m.x.v, delta.v, m.a.v, m.b.v, m.c.v, m.d.v, m.z.v, bias.v, h0)
	a := t.relayout(m.a.v, m.a.labels, []int{m.ld, m.ln}, ir.Shape{dm, n})
	if m.negA {
		a = t.op(ir.OpNeg, nil, a)
	}
	var dv, zv, bv *ir.Value
	if m.d.v != nil {
		dv = t.relayout(m.d.v, m.d.labels, []int{m.ld}, ir.Shape{dm})
	}
	if m.z.v != nil {
		zv = t.relayout(m.z.v, m.z.labels, seqD, shD)
	}
	if bias.v != nil {
		bv = t.relayout(bias.v, bias.labels, []int{m.ld}, ir.Shape{dm})
	}
	if h0 != nil {
		h0 = t.relayout(h0, h0L, state, stateSh)
	}
	res := t.tuple(ir.OpSelectiveScan, ir.Attrs{"delta_softplus": sp},
		t.relayout(m.x.v, m.x.labels, seqD, shD), t.relayout(delta.v, delta.labels, seqD, shD), a,
		t.relayout(m.b.v, m.b.labels, seqN, shN), t.relayout(m.c.v, m.c.labels, seqN, shN),
		dv, zv, bv, h0)
	if res == nil {
		return t.commit(nil, []*ir.Value{nil})
	}
	olds := []*ir.Value{m.out}
	news := []*ir.Value{t.relayout(res[0], seqD, m.outL, m.out.Type.Shape)}
	for _, s := range m.lasts {
		olds = append(olds, s.v)
		news = append(news, t.relayout(res[1], state, s.labels, s.v.Type.Shape))
	}
	return t.commit(olds, news)
}

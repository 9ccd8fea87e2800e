package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// The readout side of fuse-linear-scan: from the state sequence H (or one
// step of an unrolled chain) to y = (sum_n H·C [+ D·x]) [· SiLU(z)].

// matchReadoutChain matches y = sum_n H·C from H's user r, then the
// views, + D·x and · SiLU(z) that follow, and records the chain's last
// value.
func (u *fuser) matchReadoutChain(m *lsMatch, r *ir.Value) bool {
	end, endL, interior, ok := u.matchContraction(m, m.ls, identLabels(m.ls.Type.Shape), r)
	if !ok {
		return false
	}
	m.pattern = append(m.pattern, interior...)
	u.matchTail(m, end, endL)
	return true
}

// matchContraction matches the views of the state from (labelled
// fromL) whose user is r, then sum_n ·C; it sets m.c (checking that every
// step reads the same C) and returns the contraction, its labels and the
// values it matched.
func (u *fuser) matchContraction(m *lsMatch, from *ir.Value, fromL []int, r *ir.Value) (*ir.Value, []int, []*ir.Value, bool) {
	cur, curL := from, fromL
	var interior []*ir.Value
	for { // views of H
		l, ok := viewForward(cur, r, curL)
		if !ok {
			break
		}
		interior = append(interior, r)
		cur, curL = r, l
		if len(cur.Users) != 1 || u.f.IsResult(cur) {
			return nil, nil, nil, false
		}
		r = cur.Users[0]
	}
	var c lfactor
	var ok bool
	switch r.Op {
	case ir.OpMatMul:
		cur, curL, c, ok = u.matchMatMulReadout(m, cur, curL, r, &interior)
	case ir.OpMul:
		cur, curL, c, ok = u.matchReduceReadout(m, cur, curL, r, &interior)
	}
	want := []int{m.lb, m.lt, m.ld}
	if m.chain != nil { // one step: no time axis
		want = []int{m.lb, m.ld}
	}
	if !ok || !sameLabels(curL, want...) || !fullyLabelled(cur.Type.Shape, curL) {
		return nil, nil, nil, false
	}
	switch {
	case m.c.v == nil:
		m.c = c
	case c.v != m.c.v || !slices.Equal(c.labels, m.c.labels):
		return nil, nil, nil, false
	}
	return cur, curL, interior, true
}

// matchTail extends the readout cur (labelled curL) by views, + D·x and
// · SiLU(z), and records the last value as m.out.
func (u *fuser) matchTail(m *lsMatch, cur *ir.Value, curL []int) {
	haveD, haveZ := false, false
	for len(cur.Users) == 1 && !u.f.IsResult(cur) {
		w := cur.Users[0]
		if l, ok := viewForward(cur, w, curL); ok {
			m.pattern = append(m.pattern, w)
			cur, curL = w, l
			continue
		}
		if (w.Op != ir.OpAdd && w.Op != ir.OpMul) || !w.Type.Equal(cur.Type) || w.Args[0] == w.Args[1] {
			break
		}
		o := w.Args[0]
		if o == cur {
			o = w.Args[1]
		}
		ol := bcastLabels(o.Type.Shape, w.Type.Shape, curL)
		if w.Op == ir.OpAdd && !haveD && !haveZ && u.matchSkip(m, o, ol) {
			haveD = true
		} else if w.Op == ir.OpMul && !haveZ && matchGate(m, o, ol) {
			haveZ = true
		} else {
			break
		}
		m.pattern = append(m.pattern, w)
		cur = w
	}
	m.out, m.outL = cur, curL
}

// source returns the value a readout operand v (labelled l) views: in a
// chain's step t, a step-t slice of a sequence stands for the sequence,
// its time axis labelled lt.
func (m *lsMatch) source(v *ir.Value, l []int) (*ir.Value, []int) {
	w, wl := viewSource(v, l)
	if m.chain == nil {
		return w, wl
	}
	seq, axis, t, ok := stepSlice(w)
	if !ok || t != m.step {
		return w, wl
	}
	sl := slices.Clone(wl)
	if w.Op == ir.OpGather {
		sl = slices.Insert(sl, axis, m.lt)
	} else if axis < len(sl) {
		sl[axis] = m.lt
	}
	return viewSource(seq, sl)
}

// matchMatMulReadout matches mm = MatMul of a view of H (labelled hl)
// with C, contracting n; it returns mm and its labels.
func (u *fuser) matchMatMulReadout(m *lsMatch, h *ir.Value, hl []int, mm *ir.Value, interior *[]*ir.Value) (*ir.Value, []int, lfactor, bool) {
	p, q := mm.Args[0], mm.Args[1]
	if p == q || p.Type.Shape.Rank() < 2 || q.Type.Shape.Rank() < 2 {
		return nil, nil, lfactor{}, false
	}
	rp, rq, ro := p.Type.Shape.Rank(), q.Type.Shape.Rank(), mm.Type.Shape.Rank()
	qK, qN := rq-2, rq-1 // q's contracted and free axes
	if mm.BoolAttr("transpose_b") {
		qK, qN = rq-1, rq-2
	}
	other := p
	hK, hFree, oK, oFree, outFree := 0, 0, rp-1, rp-2, ro-1
	switch h {
	case p:
		other = q
		hK, hFree, oK, oFree, outFree = rp-1, rp-2, qK, qN, ro-2
	case q:
		hK, hFree = qK, qN
	default:
		return nil, nil, lfactor{}, false
	}
	hs := h.Type.Shape
	if hl[hK] != m.ln || !isUnit(other.Type.Shape[oFree]) {
		return nil, nil, lfactor{}, false
	}
	out := make([]int, ro)
	for i := range out {
		out[i] = -1
	}
	out[outFree] = hl[hFree]
	hb := hs.Rank() - 2
	for j := 0; j < hb; j++ { // batch axes, right-aligned
		if i := j + ro - 2 - hb; i >= 0 {
			out[i] = hl[j]
		}
	}
	ol := make([]int, other.Type.Shape.Rank())
	ob := len(ol) - 2
	for j := 0; j < ob; j++ {
		ol[j] = -1
		if i := j + ro - 2 - ob; i >= 0 && !isUnit(other.Type.Shape[j]) {
			ol[j] = out[i]
		}
	}
	ol[oK], ol[oFree] = m.ln, -1
	cv, cl := m.source(other, ol)
	if !sameLabels(cl, m.lb, m.lt, m.ln) || !cv.Type.DType.IsFloat() {
		return nil, nil, lfactor{}, false
	}
	*interior = append(*interior, mm)
	return mm, out, lfactor{cv, cl}, true
}

// matchReduceReadout matches ReduceSum(Mul(view of H, C)) over n.
func (u *fuser) matchReduceReadout(m *lsMatch, h *ir.Value, hl []int, mul *ir.Value, interior *[]*ir.Value) (*ir.Value, []int, lfactor, bool) {
	other := mul.Args[0]
	if other == h {
		other = mul.Args[1]
	}
	if other == h || len(mul.Users) != 1 || u.f.IsResult(mul) {
		return nil, nil, lfactor{}, false
	}
	ml := make([]int, mul.Type.Shape.Rank())
	off := len(ml) - len(hl)
	for i := range ml {
		ml[i] = -1
		if i >= off {
			ml[i] = hl[i-off]
		}
	}
	cv, cl := m.source(other, bcastLabels(other.Type.Shape, mul.Type.Shape, ml))
	red := mul.Users[0]
	nAx := slices.Index(ml, m.ln)
	if red.Op != ir.OpReduceSum || !slices.Equal(normAxes(red, len(ml)), []int{nAx}) ||
		!sameLabels(cl, m.lb, m.lt, m.ln) || !cv.Type.DType.IsFloat() {
		return nil, nil, lfactor{}, false
	}
	out := slices.Clone(ml)
	if red.BoolAttr("keepdims") {
		out[nAx] = -1
	} else {
		out = slices.Delete(out, nAx, nAx+1)
	}
	*interior = append(*interior, mul, red)
	return red, out, lfactor{cv, cl}, true
}

// matchSkip matches o = D·x (labelled ol).
func (u *fuser) matchSkip(m *lsMatch, o *ir.Value, ol []int) bool {
	var interior []*ir.Value
	fs := labelledProduct(o, ol, func(w *ir.Value, _ []int) bool {
		for _, a := range w.Args {
			if s, _ := viewSource(a, identLabels(a.Type.Shape)); s == m.x.v {
				return true
			}
		}
		return false
	}, &interior)
	if len(fs) != 2 {
		return false
	}
	if fs[0].v != m.x.v {
		fs[0], fs[1] = fs[1], fs[0]
	}
	if fs[0].v != m.x.v || !slices.Equal(fs[0].labels, m.x.labels) || fs[1].v.Type.DType != ir.F32 || !sameLabels(fs[1].labels, m.ld) {
		return false
	}
	m.d = fs[1]
	m.pattern = append(m.pattern, interior...)
	return true
}

// matchGate matches o = SiLU(z) or z·Sigmoid(z) (labelled ol).
func matchGate(m *lsMatch, o *ir.Value, ol []int) bool {
	g, gl := viewSource(o, ol)
	var z *ir.Value
	switch g.Op {
	case ir.OpSiLU:
		z = g.Args[0]
	case ir.OpMul:
		z = siluArg(g)
	}
	if z == nil || !z.Type.Shape.Equal(g.Type.Shape) || !sameLabels(gl, m.lb, m.lt, m.ld) || !z.Type.DType.IsFloat() {
		return false
	}
	z, zl := viewSource(z, gl)
	m.z = lfactor{z, zl}
	return true
}

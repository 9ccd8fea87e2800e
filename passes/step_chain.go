package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// stepChain is a first-order linear recurrence unrolled over the steps
// of precomputed sequences, as tracing exporters write the selective scan
// when the discretization is computed for the whole sequence first (the
// Hugging Face slow path):
//
//	h_t = a_t ⊙ h_{t-1} + b_t,   t = 0 .. T-1
//
// where a_t and b_t are step t of sequences a and b of one type along one
// axis of static size T (a Gather of the constant index t, a Slice of
// length 1, or an Extract of a Split into ones, possibly viewed with
// size-1 dims added or dropped), the product and the sum unbroadcast, and
// h_{-1} the initial state. It is exactly LinearScan(a, b, h_{-1}){axis}
// (LinearScan rounds the product and the sum as Mul and Add do), whose
// step t is h_t; fuse-linear-scan matches it as that LinearScan with
// per-step readouts.
type stepChain struct {
	a, b, h0 *ir.Value
	axis     int
	hs, muls []*ir.Value // h_t and a_t ⊙ h_{t-1}, t = 0 .. T-1
}

// findStepChains returns the complete chains of f: every step of the axis
// present, in order, each reading the previous one's state.
func (u *fuser) findStepChains() []*stepChain {
	type step struct {
		v, mul, hPrev *ir.Value
		a, b          *ir.Value
		axis          int
		t             int64
	}
	var steps []*step
	byV := map[*ir.Value]*step{}
	for _, v := range u.f.Body {
		if v.Op != ir.OpAdd || !v.Type.DType.IsFloat() || !unbroadcast(v) {
			continue
		}
		for side := 0; side < 2 && byV[v] == nil; side++ {
			m, bv := v.Args[side], v.Args[1-side]
			if m.Op != ir.OpMul || !unbroadcast(m) || m == bv {
				continue
			}
			bs, bax, bt, ok := stepSlice(bv)
			if !ok {
				continue
			}
			for i := 0; i < 2; i++ {
				as, aax, at, ok := stepSlice(m.Args[i])
				if ok && aax == bax && at == bt && as != bs && as.Type.Equal(bs.Type) {
					s := &step{v: v, mul: m, hPrev: m.Args[1-i], a: as, b: bs, axis: aax, t: at}
					steps, byV[v] = append(steps, s), s
					break
				}
			}
		}
	}
	next := map[*step]*step{}
	for _, s := range steps {
		if p := byV[s.hPrev]; p != nil && p.t == s.t-1 && p.a == s.a && p.b == s.b && p.axis == s.axis && next[p] == nil {
			next[p] = s
		}
	}
	var chains []*stepChain
	for _, s := range steps {
		if s.t != 0 {
			continue
		}
		c := &stepChain{a: s.a, b: s.b, h0: s.hPrev, axis: s.axis}
		for st := s; st != nil; st = next[st] {
			c.hs, c.muls = append(c.hs, st.v), append(c.muls, st.mul)
		}
		if d := s.a.Type.Shape[s.axis]; d.IsStatic() && int64(len(c.hs)) == d.Off && len(c.hs) >= 2 {
			chains = append(chains, c)
		}
	}
	return chains
}

// scanOf appends the LinearScan a chain computes (and a Reshape of its
// initial state when that differs in size-1 dims), for matching; ok is
// false when the state does not fit. The values are unused until a
// fusion uses them.
func (u *fuser) scanOf(c *stepChain) (ls *ir.Value, added []*ir.Value, ok bool) {
	st := slices.Delete(c.a.Type.Shape.Clone(), c.axis, c.axis+1)
	if c.h0.Type.DType != c.a.Type.DType {
		return nil, nil, false
	}
	if _, ok := mapUnits(c.h0.Type.Shape, st, identLabels(c.h0.Type.Shape)); !ok {
		return nil, nil, false
	}
	var h0 *ir.Value
	if !isZero(c.h0) {
		h0 = c.h0
		if !h0.Type.Shape.Equal(st) {
			r, err := u.f.Append(ir.OpReshape, ir.Attrs{"shape": st}, h0)
			if err != nil {
				return nil, nil, false
			}
			h0, added = r, append(added, r)
		}
	}
	ls, err := u.f.Append(ir.OpLinearScan, ir.Attrs{"axis": int64(c.axis)}, c.a, c.b, h0)
	if err != nil {
		u.f.Remove(added...)
		return nil, nil, false
	}
	return ls, append(added, ls), true
}

// stepSlice returns the sequence, axis and step that v reads: a Gather of
// a constant scalar index, a Slice of length 1, or an Extract of a Split
// into pieces of 1, seen through Reshapes that only add or drop size-1
// dims.
func stepSlice(v *ir.Value) (seq *ir.Value, axis int, t int64, ok bool) {
	for v.Op == ir.OpReshape {
		if _, ok := mapUnits(v.Args[0].Type.Shape, v.Type.Shape, identLabels(v.Args[0].Type.Shape)); !ok {
			return nil, 0, 0, false
		}
		v = v.Args[0]
	}
	norm := func(ax int64, r int) (int, bool) {
		if ax < 0 {
			ax += int64(r)
		}
		return int(ax), ax >= 0 && ax < int64(r)
	}
	switch v.Op {
	case ir.OpGather:
		s, idx := v.Args[0], v.Args[1]
		ax, ok := norm(v.IntAttr("axis"), s.Type.Shape.Rank())
		if !ok || idx.Op != ir.OpConst || idx.Type.Shape.Rank() != 0 || !s.Type.Shape[ax].IsStatic() {
			return nil, 0, 0, false
		}
		i, n := int64(idx.Attrs.Tensor("value").At(0)), s.Type.Shape[ax].Off
		if i < 0 {
			i += n
		}
		return s, ax, i, i >= 0 && i < n
	case ir.OpSlice:
		s := v.Args[0]
		axes, starts, ends, steps := v.Attrs.Ints("axes"), v.Attrs.Ints("starts"), v.Attrs.Ints("ends"), v.Attrs.Ints("steps")
		if len(axes) != 1 || len(starts) != 1 || len(ends) != 1 || steps != nil && (len(steps) != 1 || steps[0] != 1) {
			return nil, 0, 0, false
		}
		ax, ok := norm(axes[0], s.Type.Shape.Rank())
		if !ok || !s.Type.Shape[ax].IsStatic() {
			return nil, 0, 0, false
		}
		first, count := ir.SliceRange(s.Type.Shape[ax].Off, starts[0], ends[0], 1)
		return s, ax, first, count == 1
	case ir.OpExtract:
		sp := v.Args[0]
		if sp.Op != ir.OpSplit {
			return nil, 0, 0, false
		}
		s := sp.Args[0]
		ax, ok := norm(sp.Attrs.Int("axis", 0), s.Type.Shape.Rank())
		if !ok || slices.ContainsFunc(sp.Attrs.Ints("sizes"), func(n int64) bool { return n != 1 }) {
			return nil, 0, 0, false
		}
		return s, ax, v.Attrs.Int("index", 0), true
	}
	return nil, 0, 0, false
}

// matchStepReadouts matches the readouts of an unrolled chain (m.chain,
// standing for m.ls): each step's state h_t, besides feeding step t+1, is
// read out as sum_n h_t·C_t with C_t step t of one sequence C; the
// results pass through views into one Concat, in step order, along an
// axis of size 1 in each of them; then the tail after the Concat
// (matchTail). The last state may have other users, which then read
// SelectiveScan's final state.
func (u *fuser) matchStepReadouts(m *lsMatch) bool {
	ch := m.chain
	y := m.ls.Type.Shape
	st := slices.Delete(y.Clone(), m.lt, m.lt+1)
	stL := slices.Delete(identLabels(y), m.lt, m.lt+1)
	n := len(ch.hs)
	var cat *ir.Value
	var pieceL []int
	for t, h := range ch.hs {
		hl, ok := mapUnits(st, h.Type.Shape, stL)
		if !ok || t < n-1 && u.f.IsResult(h) {
			return false
		}
		m.step = int64(t)
		m.pattern = append(m.pattern, h, ch.muls[t])
		var piece *ir.Value
		var pl []int
		last := false
		for _, w := range h.Users {
			if t+1 < n && w == ch.muls[t+1] {
				continue
			}
			if piece == nil {
				if end, endL, interior, ok := u.matchContraction(m, h, hl, w); ok {
					if p, l, views, ok := u.toConcat(end, endL); ok {
						piece, pl = p, l
						m.pattern = append(append(m.pattern, interior...), views...)
						continue
					}
				}
			}
			if t < n-1 {
				return false
			}
			last = true
		}
		if piece == nil {
			return false
		}
		if last || u.f.IsResult(h) {
			m.lasts = append(m.lasts, lfactor{h, hl})
		}
		c := piece.Users[0]
		if t == 0 {
			cat, pieceL = c, pl
		} else if c != cat || !slices.Equal(pl, pieceL) {
			return false
		}
		if len(cat.Args) != n || cat.Args[t] != piece {
			return false
		}
	}
	ax := int(cat.Attrs.Int("axis", 0))
	if ax < 0 {
		ax += len(pieceL)
	}
	if ax < 0 || ax >= len(pieceL) || !isUnit(cat.Args[0].Type.Shape[ax]) {
		return false
	}
	catL := slices.Clone(pieceL)
	catL[ax] = m.lt
	m.pattern = append(m.pattern, cat)
	u.matchTail(m, cat, catL)
	return true
}

// toConcat follows single-use views from v (labelled l) to the value
// whose only user is a Concat; it returns that value, its labels and the
// views passed.
func (u *fuser) toConcat(v *ir.Value, l []int) (*ir.Value, []int, []*ir.Value, bool) {
	var views []*ir.Value
	for len(v.Users) == 1 && !u.f.IsResult(v) {
		w := v.Users[0]
		if w.Op == ir.OpConcat {
			return v, l, views, true
		}
		wl, ok := viewForward(v, w, l)
		if !ok {
			break
		}
		views = append(views, w)
		v, l = w, wl
	}
	return nil, nil, nil, false
}

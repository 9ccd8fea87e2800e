package passes

import (
	"math"
	"slices"
	"strconv"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseNorm recognizes RMSNorm over the last axis of x [..., n], as
// canonicalize leaves it or as exporters write it:
//
//	x · Rsqrt(ReduceMean(x·x, axes=[-1], keepdims) + eps) [· w]
//	x / Sqrt(ReduceMean(Pow(x, 2), axes=[-1], keepdims) + eps) [· w]
//
// (products and the quotient in any order and grouping, eps a constant
// splat ≥ 0 or absent, w a vector [n]) and rewrites it to
//
//	RMSNorm(x, w){eps}           (w a ones constant when absent)
//
// Then a residual Add feeding an RMSNorm, both f32 and of one shape,
//
//	s = Add(a, b);  y = RMSNorm(s, w){eps}
//
// becomes (s, y) = AddRMSNorm(a, b, w){eps}: the sum is kept for the
// residual stream. Counters: fused/rmsnorm, fused/add-rmsnorm.
func fuseNorm(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	claimed := map[*ir.Value]bool{}
	body := slices.Clone(f.Body)
	// Outermost products first, so a weight multiply joins its norm.
	for i := len(body) - 1; i >= 0; i-- {
		v := body[i]
		if (v.Op != ir.OpMul && v.Op != ir.OpDiv) || claimed[v] || len(v.Users) == 0 && !f.IsResult(v) {
			continue
		}
		m := u.matchRMS(v)
		if m == nil || slices.ContainsFunc(m.interior, func(w *ir.Value) bool { return claimed[w] }) {
			continue
		}
		t := u.begin(append(m.interior, v)...)
		w := m.w
		if w == nil {
			n := m.x.Type.Shape[m.x.Type.Shape.Rank()-1].Off
			ones := make([]float64, n)
			for i := range ones {
				ones[i] = 1
			}
			w = t.op(ir.OpConst, ir.Attrs{"value": ir.TensorFromFloat64s(ir.F32, []int64{n}, ones)})
		}
		t.need(m.x, w)
		r := t.op(ir.OpRMSNorm, ir.Attrs{"eps": m.eps}, m.x, w)
		if t.commit([]*ir.Value{v}, []*ir.Value{r}) {
			c.Count("fused/rmsnorm", 1)
			for _, w := range m.interior {
				claimed[w] = true
			}
		}
	}
	for i := 0; i < len(f.Body); i++ { // also the RMSNorms made above
		v := f.Body[i]
		if v.Op == ir.OpRMSNorm && (len(v.Users) > 0 || f.IsResult(v)) && u.fuseAddNorm(v) {
			c.Count("fused/add-rmsnorm", 1)
		}
	}
	return u.finish()
}

// rmsMatch is a matched RMSNorm decomposition.
type rmsMatch struct {
	x, w     *ir.Value
	eps      float64
	interior []*ir.Value
}

// matchRMS matches the decomposition whose result is y.
func (u *fuser) matchRMS(y *ir.Value) *rmsMatch {
	m := &rmsMatch{}
	var num []*ir.Value
	type root struct{ node, arg *ir.Value } // Sqrt in a denominator or Rsqrt, and its argument
	var roots []root
	ok := true
	var walk func(v, parent *ir.Value)
	walk = func(v, parent *ir.Value) {
		private := parent == nil || u.onlyUser(v, parent)
		switch {
		case private && v.Op == ir.OpMul:
			for _, a := range v.Args {
				walk(a, v)
			}
		case private && v.Op == ir.OpDiv:
			walk(v.Args[0], v)
			d := v.Args[1]
			if d.Op != ir.OpSqrt || !u.onlyUser(d, v) {
				ok = false
				return
			}
			roots = append(roots, root{d, d.Args[0]})
		case private && parent != nil && v.Op == ir.OpRsqrt:
			roots = append(roots, root{v, v.Args[0]})
		default:
			num = append(num, v)
			return
		}
		if parent != nil {
			m.interior = append(m.interior, v)
		}
	}
	walk(y, nil)
	if !ok || len(roots) != 1 {
		return nil
	}
	m.interior = append(m.interior, roots[0].node)
	s := roots[0].arg
	ms := s
	if s.Op == ir.OpAdd {
		if !u.onlyUser(s, roots[0].node) {
			return nil
		}
		ms = s.Args[0]
		eps, isSplat := splat(s.Args[1])
		if !isSplat {
			ms = s.Args[1]
			eps, isSplat = splat(s.Args[0])
		}
		if !isSplat || eps < 0 || math.IsNaN(eps) || math.IsInf(eps, 0) || !s.Type.Equal(ms.Type) {
			return nil
		}
		m.eps = eps
		if s.Type.DType == ir.F32 { // the decimal the f32 constant was written from
			m.eps, _ = strconv.ParseFloat(strconv.FormatFloat(eps, 'g', -1, 32), 64)
		}
		m.interior = append(m.interior, s)
		if !u.onlyUser(ms, s) {
			return nil
		}
	} else if !u.onlyUser(ms, roots[0].node) {
		return nil
	}
	if ms.Op != ir.OpReduceMean || !ms.BoolAttr("keepdims") {
		return nil
	}
	sq := ms.Args[0]
	r := sq.Type.Shape.Rank()
	if r == 0 || !slices.Equal(normAxes(ms, r), []int{r - 1}) || !u.onlyUser(sq, ms) {
		return nil
	}
	switch {
	case sq.Op == ir.OpMul && sq.Args[0] == sq.Args[1]:
	case sq.Op == ir.OpPow && splatIs(sq.Args[1], 2) && sq.Type.Equal(sq.Args[0].Type):
	default:
		return nil
	}
	m.x = sq.Args[0]
	m.interior = append(m.interior, ms, sq)
	last := m.x.Type.Shape[r-1]
	if !last.IsStatic() || !y.Type.Equal(m.x.Type) {
		return nil
	}
	i := slices.Index(num, m.x)
	if i < 0 {
		return nil
	}
	num = slices.Delete(num, i, i+1)
	switch {
	case len(num) == 0:
	case len(num) == 1 && num[0].Type.Shape.Equal(ir.Shape{last}):
		m.w = num[0]
	default:
		return nil
	}
	return m
}

// fuseAddNorm rewrites RMSNorm(Add(a, b), w) into AddRMSNorm.
func (u *fuser) fuseAddNorm(n *ir.Value) bool {
	s := n.Args[0]
	if s.Op != ir.OpAdd || s.Type.DType != ir.F32 || !unbroadcast(s) {
		return false
	}
	t := u.begin(s, n)
	t.need(n.Args[1])
	res := t.tuple(ir.OpAddRMSNorm, ir.Attrs{"eps": n.FloatAttr("eps")}, s.Args[0], s.Args[1], n.Args[1])
	if res == nil {
		return t.commit(nil, []*ir.Value{nil})
	}
	return t.commit([]*ir.Value{s, n}, res)
}

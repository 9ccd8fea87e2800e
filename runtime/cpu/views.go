package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// Views: a Reshape, and a Slice that keeps a contiguous run of a tensor's
// memory, need no kernel. The planner makes their result a view,
// element range [off, off+n) of the root tensor it reads, instead of a
// copy:
//
//	Reshape(x)                               view of x at offset 0
//	Slice(x){axes=[0], starts=[s], ends=[e]}  view of x at s·∏ x.shape[1:]
//	                                          (also any axis whose leading
//	                                          dims are all static 1)
//
// Decoding reads each layer's conv and SSM state as Slice + Reshape of the
// stacked state inputs; as views they cost nothing.
//
// A view's root is an argument (bound anew on every Run) or an arena
// temporary (whose lifetime is extended to the view's last use). Views
// are never made of weights or of function results (a result may be a
// caller's buffer), and a view is never itself a result. No step writes
// a view's memory in place (planInPlace skips aliased slots).

// viewInfo says how a view slot maps onto its root.
type viewInfo struct {
	root  int      // the slot whose memory it shares
	start int64    // offset = start · ∏ inner (evaluated per Instance)
	inner ir.Shape // dims whose product scales start (nil: offset 0)
}

// planViews turns eligible Reshape and Slice steps into views. It runs
// after results are known and before liveness.
func (p *Program) planViews() {
	for si := range p.steps {
		st := &p.steps[si]
		if len(st.in) == 0 || len(st.out) != 1 || st.in[0] < 0 {
			continue
		}
		in, out := st.in[0], st.out[0]
		if p.slots[out].kind != slotTemp || p.slots[in].dtype != p.slots[out].dtype {
			continue
		}
		var vi viewInfo
		switch st.v.Op {
		case ir.OpReshape:
		case ir.OpSlice:
			start, inner, ok := contiguousSlice(st.v)
			if !ok {
				continue
			}
			vi.start, vi.inner = start, inner
		default:
			continue
		}
		root := in
		if pv := p.slots[in].view; pv != nil { // a view of a view
			switch {
			case pv.inner != nil && vi.inner != nil:
				continue // two offsets on different strides: keep the copy
			case pv.inner != nil:
				vi = *pv // a Reshape of a Slice view: the Slice's offset
			}
			root = pv.root
		}
		switch p.slots[root].kind {
		case slotArg, slotTemp:
		default:
			continue
		}
		vi.root = root
		p.slots[out].view = &vi
		st.view = true
	}
}

// contiguousSlice reports whether Slice v selects a contiguous block of
// its operand: one sliced axis, step 1, every axis before it a static 1.
// It returns the start along that axis and the dims after it.
func contiguousSlice(v *ir.Value) (start int64, inner ir.Shape, ok bool) {
	axes, starts, ends, steps := v.IntsAttr("axes"), v.IntsAttr("starts"), v.IntsAttr("ends"), v.IntsAttr("steps")
	x := v.Args[0].Type.Shape
	if len(axes) != 1 || len(starts) != 1 || len(ends) != 1 || (steps != nil && (len(steps) != 1 || steps[0] != 1)) {
		return 0, nil, false
	}
	r := len(x)
	a := int(axes[0])
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, nil, false
	}
	for d := 0; d < a; d++ {
		if !x[d].IsStatic() || x[d].Off != 1 {
			return 0, nil, false
		}
	}
	s, e := starts[0], ends[0]
	if !x[a].IsStatic() || s < 0 || e < s || e > x[a].Off {
		return 0, nil, false // negative or clamped bounds: the kernel resolves them
	}
	return s, x[a+1:], true
}

// viewOffset is the element offset of view vi for the symbol sizes env.
func viewOffset(vi *viewInfo, env map[string]int64) (int, error) {
	if vi.inner == nil || vi.start == 0 {
		return 0, nil
	}
	dims, err := ir.EvalShape(vi.inner, env)
	if err != nil {
		return 0, err
	}
	n := vi.start
	for _, d := range dims {
		n *= d
	}
	return int(n), nil
}

// bindView points the preallocated tensor t at its root's memory.
func bindView(t, root *Tensor, off int) {
	n := t.Len()
	if t.DType == ir.I64 {
		t.I64 = root.I64[off : off+n : off+n]
	} else {
		t.F32 = root.F32[off : off+n : off+n]
	}
}

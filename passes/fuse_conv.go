package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseConv recognizes a depthwise causal convolution written with
// Conv1d on the channel-first layout, x [Bt,L,D] and w [D,1,K] or [D,K]:
//
//	xt = Transpose(x, [0,2,1])
//	xs = Concat(state, xt, axis 2)                  (state [Bt,D,K-1]; or Conv1d pads [K-1,0] on xt, no state)
//	y  = Transpose(Conv1d(xs, w, bias?), [0,2,1]) [+ bias]        (bias [D])
//	y' = SiLU(y), or y·Sigmoid(y)                   (optional)
//	state' = Slice(xs, axis 2, the last K-1 columns)        (optional)
//
// becomes
//
//	(y', state') = CausalConv1d(x, w, bias?, state?){activation = "silu" or "none"}
//
// with the state absent when it is zeros (a prefill). When y has users
// besides the activation, the activation stays outside. Conv1d must have
// dilation 1 and K ≥ 2 in the state form. Counter: fused/conv.
func fuseConv(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	for _, v := range slices.Clone(f.Body) {
		if v.Op == ir.OpConv1d && u.fuseConv1d(v) {
			c.Count("fused/conv", 1)
		}
	}
	return u.finish()
}

func (u *fuser) fuseConv1d(cv *ir.Value) bool {
	in, w, convBias := cv.Args[0], cv.Args[1], cv.Arg(2)
	k, err := ir.ConvKernel(w.Type.Shape, in.Type.Shape[1])
	pads := cv.IntsAttr("pads")
	if err != nil || cv.IntAttr("dilation") != 1 || len(pads) != 2 {
		return false
	}
	var xt, xs, state *ir.Value
	var stateOuts []*ir.Value
	interior := []*ir.Value{cv}
	switch {
	case pads[0] == 0 && pads[1] == 0 && k >= 2 && in.Op == ir.OpConcat && len(in.Args) == 2 &&
		(in.Attrs.Int("axis", 0) == 2 || in.Attrs.Int("axis", 0) == -1):
		xs, state, xt = in, in.Args[0], in.Args[1]
		for _, s := range xs.Users {
			switch {
			case s == cv:
			case isLastColumns(s, k-1):
				stateOuts = append(stateOuts, s)
			default:
				return false
			}
		}
		if u.f.IsResult(xs) {
			return false
		}
		interior = append(interior, xs)
	case pads[0] == k-1 && pads[1] == 0:
		xt = in
	default:
		return false
	}
	if xt.Op != ir.OpTranspose || !slices.Equal(xt.IntsAttr("perm"), []int64{0, 2, 1}) {
		return false
	}
	x := xt.Args[0]
	bt, d := x.Type.Shape[0], x.Type.Shape[2]
	if state != nil && !state.Type.Equal(ir.TensorType(x.Type.DType, ir.Shape{bt, d, ir.StaticDim(k - 1)})) {
		return false
	}
	if len(cv.Users) != 1 || u.f.IsResult(cv) || cv.Users[0].Op != ir.OpTranspose ||
		!slices.Equal(cv.Users[0].IntsAttr("perm"), []int64{0, 2, 1}) {
		return false
	}
	y := cv.Users[0]
	interior = append(interior, y)
	bias := convBias
	if bias == nil && len(y.Users) == 1 && !u.f.IsResult(y) && y.Users[0].Op == ir.OpAdd {
		add := y.Users[0]
		b := add.Args[0]
		if b == y {
			b = add.Args[1]
		}
		if b != y && b.Type.Shape.Equal(ir.Shape{d}) && add.Type.Equal(y.Type) {
			bias, y = b, add
			interior = append(interior, add)
		}
	}
	act := "none"
	if !u.f.IsResult(y) {
		switch {
		case len(y.Users) == 1 && y.Users[0].Op == ir.OpSiLU:
			act, y = "silu", y.Users[0]
		case len(y.Users) == 2:
			// y·Sigmoid(y): y's users are the Mul and the Sigmoid.
			for _, m := range y.Users {
				if m.Op != ir.OpMul || siluArg(m) != y {
					continue
				}
				sig := m.Args[0]
				if sig == y {
					sig = m.Args[1]
				}
				if slices.Contains(y.Users, sig) && u.onlyUser(sig, m) {
					act, y = "silu", m
					interior = append(interior, sig)
				}
				break
			}
		}
	}
	if act == "silu" {
		interior = append(interior, y)
	}
	if state != nil && isZero(state) {
		state = nil
	}
	t := u.begin(append(interior, stateOuts...)...)
	t.need(x, w, bias, state)
	res := t.tuple(ir.OpCausalConv1d, ir.Attrs{"activation": act}, x, w, bias, state)
	if res == nil {
		return t.commit(nil, []*ir.Value{nil})
	}
	olds, news := []*ir.Value{y}, []*ir.Value{res[0]}
	for _, s := range stateOuts {
		olds, news = append(olds, s), append(news, res[1])
	}
	return t.commit(olds, news)
}

// isLastColumns reports whether s is a Slice of the last n columns of
// axis 2 of a rank-3 value.
func isLastColumns(s *ir.Value, n int64) bool {
	if s.Op != ir.OpSlice {
		return false
	}
	x := s.Args[0].Type.Shape
	axes, starts, ends, steps := s.Attrs.Ints("axes"), s.Attrs.Ints("starts"), s.Attrs.Ints("ends"), s.Attrs.Ints("steps")
	if x.Rank() != 3 || len(axes) != 1 || (axes[0] != 2 && axes[0] != -1) || len(starts) != 1 || len(ends) != 1 ||
		steps != nil && (len(steps) != 1 || steps[0] != 1) {
		return false
	}
	if x[2].IsStatic() {
		first, count := ir.SliceRange(x[2].Off, starts[0], ends[0], 1)
		return count == n && first+count == x[2].Off
	}
	return starts[0] == -n && ends[0] == ir.SliceEnd
}

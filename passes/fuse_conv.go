package passes

import (
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// fuseConv recognizes a depthwise causal convolution written with
// Conv1d on the channel-first layout, x [Bt,L,D] and w [D,1,K] or [D,K]:
//
//	xt = Transpose(x, [0,2,1])
//	xs = Concat(state, xt, axis 2)                  (state [Bt,D,K-1]; or Conv1d pads [K-1,0] on xt, no state,
//	                                                 or pads [K-1,P] and a Slice of the first L outputs)
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
// dilation 1 and K ≥ 2 in the state form.
//
// The one-step form decode-step exports write, a window of the last K
// inputs times the kernel, x [Bt,D] and w [D,K] (or a view of [D,1,K]):
//
//	xs = Concat(state, Reshape(x, [Bt,D,1]), axis 2)              (state [Bt,D,K-1])
//	y  = ReduceSum(xs · w, axes=[2], keepdims=false) [+ bias]     [Bt,D]
//	y' = SiLU(y) (optional);  state' = Slice(xs, the last K-1 columns) (optional)
//
// becomes
//
//	(y1, state') = CausalConv1d(Reshape(x, [Bt,1,D]), w, bias?, state){activation}
//	y' = Reshape(y1, [Bt,D])
//
// xs stays when it has other users (a state output of all K columns).
// Counter: fused/conv.
func fuseConv(c *Context, f *ir.Func) error {
	u := newFuser(c, f)
	for _, v := range slices.Clone(f.Body) {
		if v.Op == ir.OpConv1d && u.fuseConv1d(v) || v.Op == ir.OpReduceSum && u.fuseConvWindow(v) {
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
	case pads[0] == k-1 && pads[1] > 0: // padded on both sides, the first L outputs kept
		xt = in
		if len(cv.Users) != 1 || u.f.IsResult(cv) || !isFirstColumns(cv.Users[0], in.Type.Shape[2], pads[1]) {
			return false
		}
		cv = cv.Users[0]
		interior = append(interior, cv)
	default:
		return false
	}
	// The convolution works on [Bt,D,L]; CausalConv1d on [Bt,L,D]. A
	// graph that is channel-first around the conv gets Transposes.
	x, xFirst := xt, !isSwapLast(xt)
	if !xFirst {
		x = xt.Args[0]
	}
	bt, d := x.Type.Shape[0], x.Type.Shape[2]
	if xFirst {
		d = x.Type.Shape[1]
	}
	if state != nil && !state.Type.Equal(ir.TensorType(x.Type.DType, ir.Shape{bt, d, ir.StaticDim(k - 1)})) {
		return false
	}
	y, yFirst := cv, true
	if len(cv.Users) == 1 && !u.f.IsResult(cv) && isSwapLast(cv.Users[0]) {
		y, yFirst = cv.Users[0], false
		interior = append(interior, y)
	}
	var bias *ir.Value
	var act string
	// A bias Add on [Bt,D,L] would need a [D,1] bias: not looked for.
	bias, y, act, interior = u.convEpilogue(y, d, convBias, !yFirst, interior)
	if state != nil && isZero(state) {
		state = nil
	}
	t := u.begin(append(interior, stateOuts...)...)
	t.need(x, w, bias, state)
	swap := ir.Attrs{"perm": []int64{0, 2, 1}}
	if xFirst {
		x = t.op(ir.OpTranspose, swap, x)
	}
	res := t.tuple(ir.OpCausalConv1d, ir.Attrs{"activation": act}, x, w, bias, state)
	if res == nil {
		return t.commit(nil, []*ir.Value{nil})
	}
	out := res[0]
	olds, news := []*ir.Value{}, []*ir.Value{}
	if yFirst {
		out = t.op(ir.OpTranspose, swap, out)
		for _, w := range y.Users { // Transposes back to [Bt,L,D] read res[0]
			if isSwapLast(w) {
				olds, news = append(olds, w), append(news, res[0])
			}
		}
	}
	olds, news = append(olds, y), append(news, out)
	for _, s := range stateOuts {
		olds, news = append(olds, s), append(news, res[1])
	}
	return t.commit(olds, news)
}

// isSwapLast reports whether v transposes the last two axes of a rank-3
// value.
func isSwapLast(v *ir.Value) bool {
	return v.Op == ir.OpTranspose && slices.Equal(v.IntsAttr("perm"), []int64{0, 2, 1})
}

// fuseConvWindow fuses the one-step window form ending in red.
func (u *fuser) fuseConvWindow(red *ir.Value) bool {
	prod := red.Args[0]
	if prod.Type.Shape.Rank() != 3 || red.BoolAttr("keepdims") || !slices.Equal(normAxes(red, 3), []int{2}) ||
		prod.Op != ir.OpMul || !u.onlyUser(prod, red) {
		return false
	}
	for i := 0; i < 2; i++ {
		xs, wv := prod.Args[i], prod.Args[1-i]
		if xs.Op != ir.OpConcat || len(xs.Args) != 2 || !xs.Type.Shape.Equal(prod.Type.Shape) {
			continue
		}
		if ax := xs.Attrs.Int("axis", 0); ax != 2 && ax != -1 {
			continue
		}
		state, col := xs.Args[0], xs.Args[1]
		bt, d, kd := xs.Type.Shape[0], xs.Type.Shape[1], xs.Type.Shape[2]
		if !kd.IsStatic() || kd.Off < 2 || !col.Type.Shape.Equal(ir.Shape{bt, d, ir.StaticDim(1)}) ||
			!state.Type.Equal(ir.TensorType(col.Type.DType, ir.Shape{bt, d, ir.StaticDim(kd.Off - 1)})) {
			continue
		}
		k := kd.Off
		w := stripReshape(wv)
		if kw, err := ir.ConvKernel(w.Type.Shape, d); err != nil || kw != k {
			w = nil
		}
		if w == nil && !wv.Type.Shape.Equal(ir.Shape{d, kd}) && !wv.Type.Shape.Equal(ir.Shape{ir.StaticDim(1), d, kd}) {
			continue
		}
		var stateOuts []*ir.Value
		for _, s := range xs.Users {
			if s != prod && isLastColumns(s, k-1) {
				stateOuts = append(stateOuts, s)
			}
		}
		bias, y, act, interior := u.convEpilogue(red, d, nil, true, []*ir.Value{prod, red})
		t := u.begin(append(interior, stateOuts...)...)
		if w == nil {
			w = t.view(wv, ir.Shape{d, kd})
		}
		t.need(w, bias, state)
		if isZero(state) {
			state = nil
		}
		res := t.tuple(ir.OpCausalConv1d, ir.Attrs{"activation": act}, t.view(col, ir.Shape{bt, ir.StaticDim(1), d}), w, bias, state)
		if res == nil {
			return t.commit(nil, []*ir.Value{nil})
		}
		olds, news := []*ir.Value{y}, []*ir.Value{t.op(ir.OpReshape, ir.Attrs{"shape": y.Type.Shape.Clone()}, res[0])}
		for _, s := range stateOuts {
			olds, news = append(olds, s), append(news, res[1])
		}
		return t.commit(olds, news)
	}
	return false
}

// convEpilogue extends a matched convolution output y [Bt,L,D] (or
// [Bt,D]) by a bias Add (when the convolution has none and peel is set)
// and a SiLU, and returns the bias, the new end of the pattern, the
// activation and the grown interior.
func (u *fuser) convEpilogue(y *ir.Value, d ir.Dim, bias *ir.Value, peel bool, interior []*ir.Value) (*ir.Value, *ir.Value, string, []*ir.Value) {
	if peel && bias == nil && len(y.Users) == 1 && !u.f.IsResult(y) && y.Users[0].Op == ir.OpAdd {
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
	return bias, y, act, interior
}

// isFirstColumns reports whether s is a Slice of axis 2 of a rank-3
// value keeping its first l columns (ends l, or -p when the value is p
// columns longer).
func isFirstColumns(s *ir.Value, l ir.Dim, p int64) bool {
	if s.Op != ir.OpSlice {
		return false
	}
	axes, starts, ends, steps := s.Attrs.Ints("axes"), s.Attrs.Ints("starts"), s.Attrs.Ints("ends"), s.Attrs.Ints("steps")
	if s.Args[0].Type.Shape.Rank() != 3 || len(axes) != 1 || (axes[0] != 2 && axes[0] != -1) || len(starts) != 1 ||
		starts[0] != 0 || len(ends) != 1 || steps != nil && (len(steps) != 1 || steps[0] != 1) {
		return false
	}
	return ends[0] == -p || l.IsStatic() && ends[0] == l.Off
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

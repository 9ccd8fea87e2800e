package onnx

import (
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convBatchNorm, "BatchNormalization")
	register(7, convInstanceNorm, "InstanceNormalization")
	register(18, convGroupNorm, "GroupNormalization")
	register(9, convMVN, "MeanVarianceNormalization")
	register(7, convLpNorm, "LpNormalization")
	register(7, convMod, "Mod")
	register(7, convRound, "Floor", "Ceil", "Round")
	register(7, convDepthSpace, "DepthToSpace", "SpaceToDepth")
	register(9, convShrink, "Shrink")
}

// perChannel views a [C] tensor as [C, 1, …] for an input of rank r
// (channels at axis 1).
func (n *node) perChannel(v *val, r int) *val {
	sh := v.shape().Clone()
	for i := 2; i < r; i++ {
		sh = append(sh, ir.StaticDim(1))
	}
	return n.reshape(v, sh)
}

// convBatchNorm (inference): y = (x - mean) / sqrt(var + eps) · scale + B,
// the statistics per channel (axis 1).
func convBatchNorm(n *node) []*val {
	x, scale, b, mean, vr := n.floatIn(0), n.need(1), n.need(2), n.need(3), n.need(4)
	eps := n.float("epsilon", 1e-5)
	if n.opset >= 14 && n.int("training_mode", 0) != 0 || len(n.p.GetOutput()) > 1 && n.opset >= 9 {
		n.unsupported("training mode")
	}
	if !n.ok() {
		return nil
	}
	if x.rank() < 2 {
		n.failf("input %v has no channel dim", x.typ)
		return nil
	}
	r := x.rank()
	std := n.op(ir.OpSqrt, nil, n.op(ir.OpAdd, nil, n.perChannel(vr, r), n.like(vr, eps)))
	y := n.op(ir.OpDiv, nil, n.op(ir.OpSub, nil, x, n.perChannel(mean, r)), std)
	return []*val{n.op(ir.OpAdd, nil, n.op(ir.OpMul, nil, y, n.perChannel(scale, r)), n.perChannel(b, r))}
}

// normalize returns (x - mean) / sqrt(var + eps) over axes, var the mean
// of the squared deviation.
func (n *node) normalize(x *val, axes []int64, eps float64) *val {
	red := ir.Attrs{"axes": axes}
	d := n.op(ir.OpSub, nil, x, n.op(ir.OpReduceMean, red, x))
	v := n.op(ir.OpReduceMean, red, n.op(ir.OpMul, nil, d, d))
	return n.op(ir.OpDiv, nil, d, n.op(ir.OpSqrt, nil, n.op(ir.OpAdd, nil, v, n.like(x, eps))))
}

// spatialAxes lists axes 2 … r-1.
func spatialAxes(r int) []int64 {
	var axes []int64
	for a := 2; a < r; a++ {
		axes = append(axes, int64(a))
	}
	return axes
}

// convInstanceNorm normalizes each (n, c) over the spatial dims, then
// scales and shifts per channel.
func convInstanceNorm(n *node) []*val {
	x, scale, b := n.floatIn(0), n.need(1), n.need(2)
	eps := n.float("epsilon", 1e-5)
	if !n.ok() {
		return nil
	}
	if x.rank() < 3 {
		n.failf("input %v has no spatial dims", x.typ)
		return nil
	}
	y := n.normalize(x, spatialAxes(x.rank()), eps)
	return []*val{n.op(ir.OpAdd, nil, n.op(ir.OpMul, nil, y, n.perChannel(scale, x.rank())), n.perChannel(b, x.rank()))}
}

// convGroupNorm normalizes x [N, C, …] over groups of C/G channels and
// the spatial dims (x viewed as [N, G, rest]), then scales and shifts per
// channel (scale and bias [C]; opset 18 gave them per group, [G]).
func convGroupNorm(n *node) []*val {
	x, scale, b := n.floatIn(0), n.need(1), n.need(2)
	eps := n.float("epsilon", 1e-5)
	G := n.int("num_groups", 0)
	if !n.ok() {
		return nil
	}
	s := x.shape()
	if len(s) < 3 || !s[1:].IsStatic() || G <= 0 || s[1].Off%G != 0 {
		n.failf("input %v does not split into %d groups", s, G)
		return nil
	}
	rest, _ := s[1:].NumElements()
	xu := n.cast(x, ir.F32)
	if n.opset >= 21 && n.has("stash_type") {
		xu = n.cast(x, n.stashType())
	}
	g := n.reshape(xu, ir.Shape{s[0], ir.StaticDim(G), ir.StaticDim(rest.Off / G)})
	y := n.cast(n.reshape(n.normalize(g, []int64{2}, eps), s), x.dtype())
	sc, bb := scale, b
	if scale.shape().Equal(ir.Static(G)) && s[1].Off != G { // opset 18: per group
		per := s[1].Off / G
		sc = n.reshape(n.expand(n.reshape(scale, ir.Static(G, 1)), ir.Static(G, per)), ir.Static(s[1].Off))
		bb = n.reshape(n.expand(n.reshape(b, ir.Static(G, 1)), ir.Static(G, per)), ir.Static(s[1].Off))
	}
	return []*val{n.op(ir.OpAdd, nil, n.op(ir.OpMul, nil, y, n.perChannel(sc, len(s))), n.perChannel(bb, len(s)))}
}

// convMVN follows ONNX's function body: (x - E[x]) / (sqrt(E[x²] - E[x]²)
// + 1e-9) over axes (default 0, 2, 3).
func convMVN(n *node) []*val {
	x := n.floatIn(0)
	axes := n.ints("axes", []int64{0, 2, 3})
	if !n.ok() {
		return nil
	}
	red := ir.Attrs{"axes": axes}
	m := n.op(ir.OpReduceMean, red, x)
	ex2 := n.op(ir.OpReduceMean, red, n.op(ir.OpMul, nil, x, x))
	std := n.op(ir.OpSqrt, nil, n.op(ir.OpSub, nil, ex2, n.op(ir.OpMul, nil, m, m)))
	return []*val{n.op(ir.OpDiv, nil, n.op(ir.OpSub, nil, x, m), n.op(ir.OpAdd, nil, std, n.like(x, 1e-9)))}
}

// convLpNorm: x / (sum |x|^p)^(1/p) along axis, p 1 or 2 (a zero norm
// gives zeros).
func convLpNorm(n *node) []*val {
	x := n.floatIn(0)
	axis := n.normAxis(n.int("axis", -1), x.rank())
	p := n.int("p", 2)
	if !n.ok() {
		return nil
	}
	red := ir.Attrs{"axes": []int64{int64(axis)}}
	var norm *val
	switch p {
	case 1:
		norm = n.op(ir.OpReduceSum, red, n.abs(x))
	case 2:
		norm = n.op(ir.OpSqrt, nil, n.op(ir.OpReduceSum, red, n.op(ir.OpMul, nil, x, x)))
	default:
		n.failf("p must be 1 or 2, is %d", p)
		return nil
	}
	safe := n.where(n.cmp(norm, n.like(norm, 0), "eq"), n.like(norm, 1), norm) // 0 / 0 gives 0
	return []*val{n.op(ir.OpDiv, nil, x, safe)}
}

// trunc rounds a float toward zero exactly: through i64 for |x| < 2^52,
// x itself beyond (where every float is an integer) and for NaN.
func (n *node) trunc(x *val) *val {
	t := n.cast(n.cast(x, ir.I64), x.dtype())
	big := n.cmp(n.abs(x), n.like(x, 1<<52), "ge")
	nan := n.cmp(x, x, "ne")
	return n.where(n.where(big, scalar(ir.Bool, 1), nan), x, t)
}

// convRound: Floor, Ceil and Round (half to even), exactly, from trunc:
//
//	floor(x) = t - (t > x),  ceil(x) = t + (t < x),
//	round(x) = f + (d > 1/2 or d = 1/2 and f odd), f = floor(x), d = x - f
func convRound(n *node) []*val {
	x := n.floatIn(0)
	if !n.ok() {
		return nil
	}
	t := n.trunc(x)
	one, zero := n.like(x, 1), n.like(x, 0)
	floor := n.op(ir.OpSub, nil, t, n.where(n.cmp(t, x, "gt"), one, zero))
	switch n.p.GetOpType() {
	case "Floor":
		return []*val{floor}
	case "Ceil":
		return []*val{n.op(ir.OpAdd, nil, t, n.where(n.cmp(t, x, "lt"), one, zero))}
	}
	d := n.op(ir.OpSub, nil, x, floor)
	half := n.like(x, 0.5)
	halfF := n.op(ir.OpMul, nil, floor, half)
	odd := n.cmp(n.trunc(halfF), halfF, "ne")
	up := n.where(n.cmp(d, half, "gt"), scalar(ir.Bool, 1), n.where(n.cmp(d, half, "eq"), odd, scalar(ir.Bool, 0)))
	return []*val{n.op(ir.OpAdd, nil, floor, n.where(up, one, zero))}
}

// convMod: integer Mod with fmod 0 takes the divisor's sign (Python's %),
// r = a - trunc(a/b)·b corrected by b when r and b differ in sign; fmod 1
// keeps the dividend's sign (C's fmod), r = a - trunc(a/b)·b.
func convMod(n *node) []*val {
	a, b := n.need(0), n.need(1)
	fmod := n.int("fmod", 0) != 0
	if !n.ok() {
		return nil
	}
	if a.dtype().IsFloat() && !fmod {
		n.failf("floating-point Mod needs fmod = 1")
		return nil
	}
	var q *val
	if a.dtype().IsFloat() {
		q = n.trunc(n.op(ir.OpDiv, nil, a, b))
	} else {
		q = n.op(ir.OpDiv, nil, a, b)
	}
	r := n.op(ir.OpSub, nil, a, n.op(ir.OpMul, nil, q, b))
	if fmod {
		return []*val{r}
	}
	zero := n.like(r, 0)
	diff := n.cmp(n.cmp(r, zero, "lt"), n.cmp(b, zero, "lt"), "ne")
	fix := n.where(n.cmp(r, zero, "ne"), diff, scalar(ir.Bool, 0))
	return []*val{n.where(fix, n.op(ir.OpAdd, nil, r, b), r)}
}

// convDepthSpace: DepthToSpace moves blocks of channels into space,
// SpaceToDepth the reverse, as Reshape, Transpose, Reshape (static dims).
func convDepthSpace(n *node) []*val {
	x := n.need(0)
	bs := n.int("blocksize", 0)
	mode := n.str("mode", "DCR")
	if !n.ok() {
		return nil
	}
	s := x.shape()
	if len(s) != 4 || !s[1:].IsStatic() || bs <= 0 {
		n.failf("input %v and blocksize %d: want [N, C, H, W] with static C, H, W", s, bs)
		return nil
	}
	N, C, H, W := s[0], s[1].Off, s[2].Off, s[3].Off
	st := func(d ...int64) ir.Shape { return append(ir.Shape{N}, ir.Static(d...)...) }
	if n.p.GetOpType() == "DepthToSpace" {
		if C%(bs*bs) != 0 {
			n.failf("channels %d not divisible by blocksize² %d", C, bs*bs)
			return nil
		}
		c := C / (bs * bs)
		out := st(c, H*bs, W*bs)
		if mode == "CRD" {
			y := n.transpose(n.reshape(x, st(c, bs, bs, H, W)), []int64{0, 1, 4, 2, 5, 3})
			return []*val{n.reshape(y, out)}
		}
		y := n.transpose(n.reshape(x, st(bs, bs, c, H, W)), []int64{0, 3, 4, 1, 5, 2})
		return []*val{n.reshape(y, out)}
	}
	if H%bs != 0 || W%bs != 0 {
		n.failf("spatial dims %d×%d not divisible by blocksize %d", H, W, bs)
		return nil
	}
	y := n.transpose(n.reshape(x, st(C, H/bs, bs, W/bs, bs)), []int64{0, 3, 5, 1, 2, 4})
	return []*val{n.reshape(y, st(C*bs*bs, H/bs, W/bs))}
}

// convShrink: x < -lambd ? x + bias : x > lambd ? x - bias : 0.
func convShrink(n *node) []*val {
	x := n.need(0)
	l, b := n.float("lambd", 0.5), n.float("bias", 0)
	if !n.ok() {
		return nil
	}
	hi := n.where(n.cmp(x, n.like(x, l), "gt"), n.op(ir.OpSub, nil, x, n.like(x, b)), n.like(x, 0))
	return []*val{n.where(n.cmp(x, n.like(x, -l), "lt"), n.op(ir.OpAdd, nil, x, n.like(x, b)), hi)}
}

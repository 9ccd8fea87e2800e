package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() { register(27, convLinearAttention, "LinearAttention") }

// convLinearAttention converts the opset-27 LinearAttention. With
// q [B,T,Hq·dk], k [B,T,Hkv·dk], v [B,T,Hkv·dv] viewed per head, S
// [B,Hkv,dk,dv] starting at past_state (zeros when absent), and each query
// head h reading the state of key/value head h / (Hq/Hkv):
//
//	linear:      S_t = S_{t-1} + k_t ⊗ v_t
//	gated:       S_t = exp(g_t)·S_{t-1} + k_t ⊗ v_t
//	delta:       S_t = S_{t-1} + β_t·k_t ⊗ (v_t - S_{t-1}ᵀk_t)
//	gated_delta: S_t = exp(g_t)·S_{t-1} + β_t·k_t ⊗ (v_t - exp(g_t)·S_{t-1}ᵀk_t)
//	o_t = scale · q_tᵀ S_t     (scale 0: 1/√dk)
//
// g (decay) is per key dim [B,T,Hkv·dk] or per head [B,T,Hkv]; β is
// [B,T,Hkv] or [B,T,1]. The linear and gated rules are elementwise
// affine in S: one LinearScan over T (any length) followed by a MatMul.
// The delta rules multiply the state by a matrix and are unrolled over a
// static T. f16 and bf16 inputs are computed in f32.
func convLinearAttention(n *node) []*val {
	q, k, v := n.floatIn(0), n.floatIn(1), n.floatIn(2)
	past, decay, beta := n.arg(3), n.arg(4), n.arg(5)
	hq, hkv := n.int("q_num_heads", 0), n.int("kv_num_heads", 0)
	scale := n.float("scale", 0)
	rule := n.str("update_rule", "gated_delta")
	if !n.ok() {
		return nil
	}
	if hq <= 0 || hkv <= 0 || hq%hkv != 0 {
		n.failf("q_num_heads %d must be a positive multiple of kv_num_heads %d", hq, hkv)
		return nil
	}
	if q.rank() != 3 || k.rank() != 3 || v.rank() != 3 {
		n.failf("query, key and value must be rank 3")
		return nil
	}
	lq, lk, lv := q.shape()[2], k.shape()[2], v.shape()[2]
	if !lq.IsStatic() || !lk.IsStatic() || !lv.IsStatic() || lq.Off%hq != 0 || lk.Off != lq.Off/hq*hkv || lv.Off%hkv != 0 {
		n.failf("query %v, key %v and value %v do not split into %d and %d heads", q.shape(), k.shape(), v.shape(), hq, hkv)
		return nil
	}
	dk, dv, G := lq.Off/hq, lv.Off/hkv, hq/hkv
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	gated := rule == "gated" || rule == "gated_delta"
	delta := rule == "delta" || rule == "gated_delta"
	if !gated && !delta && rule != "linear" {
		n.failf("update_rule %q", clip(rule))
		return nil
	}
	if gated && decay == nil || delta && beta == nil {
		n.failf("update rule %s needs decay and/or beta", rule)
		return nil
	}
	outT, stateT := q.dtype(), q.dtype()
	if past != nil {
		stateT = past.dtype()
	}
	f32 := func(x *val) *val {
		if x == nil || x.dtype() == ir.F32 || x.dtype() == ir.F64 {
			return x
		}
		return n.cast(x, ir.F32)
	}
	q, k, v, past, decay, beta = f32(q), f32(k), f32(v), f32(past), f32(decay), f32(beta)
	dt := q.dtype()
	B, T := q.shape()[0], q.shape()[1]
	st := func(d ...int64) ir.Shape { return ir.Static(d...) }
	q5 := n.reshape(q, append(ir.Shape{B, T}, st(hkv, G, dk)...))
	k4 := n.reshape(k, append(ir.Shape{B, T}, st(hkv, dk)...))
	v4 := n.reshape(v, append(ir.Shape{B, T}, st(hkv, dv)...))
	stateShape := append(ir.Shape{B}, st(hkv, dk, dv)...)
	if past == nil {
		past = n.zeros(dt, stateShape)
	} else if !past.shape().Equal(stateShape) && n.ok() {
		n.failf("past_state is %v, want %v", past.shape(), stateShape)
	}
	// decay as [B, T, Hkv, dk|1, 1], β as [B, T, Hkv|1, 1, 1]
	var g, b *val
	if gated {
		switch decay.shape()[2] {
		case ir.StaticDim(hkv * dk):
			g = n.reshape(decay, append(ir.Shape{B, T}, st(hkv, dk, 1)...))
		case ir.StaticDim(hkv):
			g = n.reshape(decay, append(ir.Shape{B, T}, st(hkv, 1, 1)...))
		default:
			n.failf("decay is %v, want [B,T,%d] or [B,T,%d]", decay.shape(), hkv*dk, hkv)
			return nil
		}
		g = n.op(ir.OpExp, nil, g)
	}
	if delta {
		switch beta.shape()[2] {
		case ir.StaticDim(hkv), ir.StaticDim(1):
			b = n.reshape(beta, append(ir.Shape{B, T}, beta.shape()[2], ir.StaticDim(1), ir.StaticDim(1)))
		default:
			n.failf("beta is %v, want [B,T,%d] or [B,T,1]", beta.shape(), hkv)
			return nil
		}
	}
	if !n.ok() {
		return nil
	}
	var out, state *val
	if !delta {
		out, state = n.linearAttentionScan(q5, k4, v4, past, g, scale)
	} else {
		out, state = n.linearAttentionDelta(q5, k4, v4, past, g, b, scale)
	}
	out = n.reshape(out, ir.Shape{B, T, ir.StaticDim(hq * dv)})
	return []*val{n.cast(out, outT), n.cast(state, stateT)}
}

// linearAttentionScan computes the linear and gated rules for all steps:
// S = LinearScan(exp(g) or 1, k ⊗ v, S0) over T, o = scale · q·S.
func (n *node) linearAttentionScan(q5, k4, v4, s0, g *val, scale float64) (*val, *val) {
	ks, vs := k4.shape(), v4.shape()
	kv := n.op(ir.OpMul, nil,
		n.reshape(k4, append(ks.Clone(), ir.StaticDim(1))),
		n.reshape(v4, append(append(vs[:3:3], ir.StaticDim(1)), vs[3])))
	a := g
	if a == nil {
		a = scalar(kv.dtype(), 1)
	}
	S := n.op(ir.OpLinearScan, ir.Attrs{"axis": int64(1)}, a, kv, s0)
	o := n.op(ir.OpMul, nil, n.op(ir.OpMatMul, nil, q5, S), scalar(kv.dtype(), scale))
	last := n.slice(S, []int64{1}, []int64{-1}, []int64{ir.SliceEnd}, []int64{1})
	return o, n.reshape(last, s0.shape())
}

// linearAttentionDelta unrolls the delta rules over a static T.
func (n *node) linearAttentionDelta(q5, k4, v4, s0, g, b *val, scale float64) (*val, *val) {
	T := q5.shape()[1]
	if !T.IsStatic() {
		n.unsupported("the %s rule over a symbolic length %v", n.str("update_rule", "gated_delta"), T)
		return placeholder(), placeholder()
	}
	if T.Off > maxUnroll {
		n.unsupported("the delta rule over %d steps", T.Off)
		return placeholder(), placeholder()
	}
	at := func(x *val, t int64) *val { // x[:, t] without the T axis
		s := n.slice(x, []int64{1}, []int64{t}, []int64{t + 1}, []int64{1})
		sh := x.shape()
		return n.reshape(s, append(sh[:1:1], sh[2:]...))
	}
	dt := s0.dtype()
	S := s0
	var outs []*val
	for t := int64(0); t < T.Off && n.ok(); t++ {
		kt, vt, qt := at(k4, t), at(v4, t), at(q5, t) // [B,H,dk], [B,H,dv], [B,H,G,dk]
		if g != nil {
			S = n.op(ir.OpMul, nil, at(g, t), S)
		}
		ks := kt.shape()
		kRow := n.reshape(kt, append(append(ks[:2:2], ir.StaticDim(1)), ks[2])) // [B,H,1,dk]
		kCol := n.reshape(kt, append(ks.Clone(), ir.StaticDim(1)))              // [B,H,dk,1]
		vs := vt.shape()
		vRow := n.reshape(vt, append(append(vs[:2:2], ir.StaticDim(1)), vs[2])) // [B,H,1,dv]
		pred := n.op(ir.OpMatMul, nil, kRow, S)                                 // Sᵀk as [B,H,1,dv]
		upd := n.op(ir.OpMul, nil, kCol, n.op(ir.OpSub, nil, vRow, pred))
		S = n.op(ir.OpAdd, nil, S, n.op(ir.OpMul, nil, at(b, t), upd))
		o := n.op(ir.OpMul, nil, n.op(ir.OpMatMul, nil, qt, S), scalar(dt, scale)) // [B,H,G,dv]
		os := o.shape()
		outs = append(outs, n.reshape(o, append(append(os[:1:1], ir.StaticDim(1)), os[1:]...)))
	}
	if !n.ok() {
		return placeholder(), placeholder()
	}
	out := outs[0]
	if len(outs) > 1 {
		out = n.op(ir.OpConcat, ir.Attrs{"axis": int64(1)}, outs...)
	}
	return out, S
}

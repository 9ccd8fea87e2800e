package hf

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// This file emits the mixer's norm, convolution and recurrence, fused or
// decomposed into plain ops.

// rmsnorm emits an RMSNorm over the last axis; w nil means no weight (the
// Falcon-Mamba Δ/B/C norms). Fused: RMSNorm(x, w) (a ones constant when w
// is nil). Decomposed:
//
//	y = x · Rsqrt(ReduceMean(x·x, axes=[-1]) + eps) [· w]
func (g *gen) rmsnorm(x, w *ir.Value, eps float64) *ir.Value {
	if !g.opts.Decomposed {
		if w == nil {
			n := x.Type.Shape[x.Type.Shape.Rank()-1].Size()
			ones := make([]float64, max(n, 0))
			for i := range ones {
				ones[i] = 1
			}
			w = g.b.Const(ir.TensorFromFloat64s(ir.F32, []int64{n}, ones))
		}
		return g.op(ir.OpRMSNorm, ir.Attrs{"eps": eps}, x, w)
	}
	ms := g.op(ir.OpReduceMean, ir.Attrs{"axes": []int64{-1}, "keepdims": true}, g.op(ir.OpMul, nil, x, x))
	y := g.op(ir.OpMul, nil, x, g.op(ir.OpRsqrt, nil, g.op(ir.OpAdd, nil, ms, g.scalar(eps))))
	if w != nil {
		y = g.op(ir.OpMul, nil, y, w)
	}
	return y
}

// silu emits x·Sigmoid(x) (decomposed form only).
func (g *gen) silu(x *ir.Value) *ir.Value {
	return g.op(ir.OpMul, nil, x, g.op(ir.OpSigmoid, nil, x))
}

// zeros emits Expand(0.0, shape): a zero f32 tensor of a possibly symbolic
// shape.
func (g *gen) zeros(shape ...ir.Dim) *ir.Value {
	return g.op(ir.OpExpand, ir.Attrs{"shape": ir.Shape(shape)}, g.scalar(0))
}

// conv emits layer i's causal depthwise convolution with SiLU on x
// [B,L,D], starting from state [B,D,K-1] (nil: zeros), and returns the
// output [B,L,D] and the last K-1 inputs [B,D,K-1]. Fused:
// CausalConv1d{activation="silu"}. Decomposed:
//
//	xs = Concat(state, Transpose(x, [0,2,1]), axis=2)          [B,D,K-1+L]
//	y  = SiLU(Transpose(Conv1d(xs, w), [0,2,1]) + bias)        [B,L,D]
//	state' = Slice(xs, axis 2, -(K-1):)                         [B,D,K-1]
func (g *gen) conv(i int, x, state *ir.Value) (y, stateOut *ir.Value) {
	c := g.cfg
	w := g.param(LayerWeight(i, "mixer.conv1d.weight"))
	var bias *ir.Value
	if c.ConvBias {
		bias = g.param(LayerWeight(i, "mixer.conv1d.bias"))
	}
	if !g.opts.Decomposed {
		r := g.b.Tuple(ir.OpCausalConv1d, ir.Attrs{"activation": "silu"}, x, w, bias, state)
		return r[0], r[1]
	}
	k1 := int64(c.DConv - 1)
	if state == nil {
		state = g.zeros(g.batch, ir.StaticDim(int64(c.DInner)), ir.StaticDim(k1))
	}
	perm := ir.Attrs{"perm": []int64{0, 2, 1}}
	xs := g.op(ir.OpConcat, ir.Attrs{"axis": int64(2)}, state, g.op(ir.OpTranspose, perm, x))
	y = g.op(ir.OpTranspose, perm, g.op(ir.OpConv1d, nil, xs, w))
	if bias != nil {
		y = g.op(ir.OpAdd, nil, y, bias)
	}
	stateOut = g.op(ir.OpSlice, ir.Attrs{"axes": []int64{2}, "starts": []int64{-k1}, "ends": []int64{ir.SliceEnd}}, xs)
	return g.silu(y), stateOut
}

// scan emits layer i's selective scan over the sequence from a zero state:
// u, delta, z [B,L,D] (delta before bias and softplus), bm, cm [B,L,N]. It
// returns y [B,L,D] and the final state [B,D,N]. Fused: SelectiveScan
// {delta_softplus} with D, z and delta_bias. Decomposed: delta =
// Softplus(delta + dt_bias), then the recurrence unrolled over the SeqLen
// steps, each step t emitted by recurrence on the Slice of time t
// (Reshape'd to [B,D] / [B,N]), y_t gathered with Concat along axis 1.
func (g *gen) scan(i int, u, delta, bm, cm, z *ir.Value) (y, state *ir.Value) {
	if !g.opts.Decomposed {
		r := g.b.Tuple(ir.OpSelectiveScan, ir.Attrs{"delta_softplus": true},
			u, delta, g.param(AName(i)), bm, cm, g.param(LayerWeight(i, "mixer.D")), z,
			g.param(LayerWeight(i, "mixer.dt_proj.bias")))
		return r[0], r[1]
	}
	c := g.cfg
	d, n := int64(c.DInner), int64(c.DState)
	delta = g.softplusDelta(i, delta)
	h := g.zeros(g.batch, ir.StaticDim(d), ir.StaticDim(n))
	at := func(v *ir.Value, t int, width int64) *ir.Value {
		s := g.op(ir.OpSlice, ir.Attrs{"axes": []int64{1}, "starts": []int64{int64(t)}, "ends": []int64{int64(t) + 1}}, v)
		return g.reshape(s, g.batch, width)
	}
	ys := make([]*ir.Value, g.opts.SeqLen)
	for t := range ys {
		var yt *ir.Value
		yt, h = g.recurrence(i, at(u, t, d), at(delta, t, d), at(bm, t, n), at(cm, t, n), at(z, t, d), h)
		ys[t] = g.reshape(yt, g.batch, 1, d)
	}
	return g.op(ir.OpConcat, ir.Attrs{"axis": int64(1)}, ys...), h
}

// update emits one decoding step of layer i's recurrence: x, delta, z
// [B,D] (delta before bias and softplus), bm, cm [B,N], h [B,D,N]. Fused:
// SelectiveStateUpdate{delta_softplus} with D, z and delta_bias.
// Decomposed: Softplus(delta + dt_bias), then recurrence.
func (g *gen) update(i int, x, delta, bm, cm, z, h *ir.Value) (y, state *ir.Value) {
	if !g.opts.Decomposed {
		r := g.b.Tuple(ir.OpSelectiveStateUpdate, ir.Attrs{"delta_softplus": true},
			x, delta, g.param(AName(i)), bm, cm, g.param(LayerWeight(i, "mixer.D")), z,
			g.param(LayerWeight(i, "mixer.dt_proj.bias")), h)
		return r[0], r[1]
	}
	return g.recurrence(i, x, g.softplusDelta(i, delta), bm, cm, z, h)
}

// softplusDelta emits Softplus(delta + dt_proj.bias).
func (g *gen) softplusDelta(i int, delta *ir.Value) *ir.Value {
	return g.op(ir.OpSoftplus, nil, g.op(ir.OpAdd, nil, delta, g.param(LayerWeight(i, "mixer.dt_proj.bias"))))
}

// recurrence emits one step of the selective SSM in plain ops, with x, dt
// (after softplus), z [B,D], bm, cm [B,N] and h [B,D,N]:
//
//	dA = Exp(Reshape(dt, [B,D,1]) · A)                        [B,D,N]
//	h' = dA·h + Reshape(dt·x, [B,D,1]) · Reshape(bm, [B,1,N])
//	y  = (ReduceSum(h' · Reshape(cm, [B,1,N]), axes=[-1], keepdims=false) + D·x) · SiLU(z)
func (g *gen) recurrence(i int, x, dt, bm, cm, z, h *ir.Value) (y, state *ir.Value) {
	c := g.cfg
	d, n := int64(c.DInner), int64(c.DState)
	dA := g.op(ir.OpExp, nil, g.op(ir.OpMul, nil, g.reshape(dt, g.batch, d, 1), g.param(AName(i))))
	dBx := g.op(ir.OpMul, nil, g.reshape(g.op(ir.OpMul, nil, dt, x), g.batch, d, 1), g.reshape(bm, g.batch, 1, n))
	state = g.op(ir.OpAdd, nil, g.op(ir.OpMul, nil, dA, h), dBx)
	hc := g.op(ir.OpMul, nil, state, g.reshape(cm, g.batch, 1, n))
	y = g.op(ir.OpReduceSum, ir.Attrs{"axes": []int64{-1}, "keepdims": false}, hc)
	y = g.op(ir.OpAdd, nil, y, g.op(ir.OpMul, nil, g.param(LayerWeight(i, "mixer.D")), x))
	return g.op(ir.OpMul, nil, y, g.silu(z)), state
}

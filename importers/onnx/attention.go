package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() { register(23, convAttention, "Attention") }

// convAttention converts Attention (opsets 23, 24) following its ONNX
// definition:
//
//	Q, K, V as [B, H, S, D] (3-D inputs [B, S, H·D] are split into heads);
//	K, V = past ++ K, past ++ V along S (the present outputs);
//	K and V heads repeated Hq/Hkv times (GQA: query head h reads kv head h / (Hq/Hkv));
//	s = (Q·√scale)(K·√scale)ᵀ, scale = 1/√D by default;  s = c·tanh(s/c) when softcap c > 0;
//	bias = attn_mask (bool: 0 where true, -inf where false; padded to the
//	       total length with -inf) + causal (-inf where j > i + offset,
//	       offset = past length, or nonpad_kv_seqlen[b] - S_q per batch)
//	       + padding (-inf where j ≥ nonpad_kv_seqlen[b]);
//	p = softmax(s + bias) in softmax_precision, rows whose bias is all -inf set to 0;
//	Y = p·V (back to [B, S, Hq·Dv] for 3-D inputs);
//	qk_matmul_output = s (mode 0, 1), s + bias (2) or p (3).
//
// Masks and causal attention need static sequence lengths.
func convAttention(n *node) []*val {
	q, k, v := n.floatIn(0), n.floatIn(1), n.floatIn(2)
	mask, pastK, pastV := n.arg(3), n.arg(4), n.arg(5)
	var nonpad *val
	if n.opset >= 24 {
		nonpad = n.arg(6)
	}
	causal := n.int("is_causal", 0) != 0
	hq, hkv := n.int("q_num_heads", 0), n.int("kv_num_heads", 0)
	mode := n.int("qk_matmul_output_mode", 0)
	softcap := n.float("softcap", 0)
	scale := n.float("scale", 0)
	hasScale := n.has("scale")
	if !n.ok() {
		return nil
	}
	dt := q.dtype()
	threeD := q.rank() == 3
	heads := func(x *val, h int64, what string) *val { // [B, S, H·D] -> [B, H, S, D]
		s := x.shape()
		if !threeD {
			if x.rank() != 4 {
				n.failf("%s is %v, want rank 4 like Q", what, x.typ)
			}
			return x
		}
		if x.rank() != 3 || h <= 0 || !s[2].IsStatic() || s[2].Off%h != 0 {
			n.failf("%s is %v, which does not split into %d heads", what, x.typ, h)
			return placeholder()
		}
		y := n.reshape(x, ir.Shape{s[0], s[1], ir.StaticDim(h), ir.StaticDim(s[2].Off / h)})
		return n.transpose(y, []int64{0, 2, 1, 3})
	}
	q, k, v = heads(q, hq, "Q"), heads(k, hkv, "K"), heads(v, hkv, "V")
	if !n.ok() {
		return nil
	}
	Hq, Sq, D := q.shape()[1], q.shape()[2], q.shape()[3]
	Hkv := k.shape()[1]
	if !D.IsStatic() || !Hq.IsStatic() || !Hkv.IsStatic() || Hq.Off%Hkv.Off != 0 {
		n.failf("heads %v of Q and %v of K: want static counts, Q's a multiple of K's", Hq, Hkv)
		return nil
	}
	if !hasScale {
		scale = 1 / math.Sqrt(float64(D.Off))
	}
	past := int64(0)
	if pastK != nil {
		if !pastK.shape()[2].IsStatic() {
			n.unsupported("a past of symbolic length")
			return nil
		}
		past = pastK.shape()[2].Off
		k = n.op(ir.OpConcat, ir.Attrs{"axis": int64(2)}, pastK, k)
	}
	if pastV != nil {
		v = n.op(ir.OpConcat, ir.Attrs{"axis": int64(2)}, pastV, v)
	}
	presentK, presentV := k, v
	Skv := k.shape()[2]
	if G := Hq.Off / Hkv.Off; G > 1 { // repeat each kv head G times
		rep := func(x *val) *val {
			s := x.shape()
			y := n.reshape(x, ir.Shape{s[0], s[1], ir.StaticDim(1), s[2], s[3]})
			y = n.expand(y, ir.Shape{s[0], s[1], ir.StaticDim(G), s[2], s[3]})
			return n.reshape(y, ir.Shape{s[0], Hq, s[2], s[3]})
		}
		k, v = rep(k), rep(v)
	}
	sq := n.like(q, math.Sqrt(scale))
	s := n.op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, n.op(ir.OpMul, nil, q, sq), n.op(ir.OpMul, nil, k, sq))
	if softcap > 0 {
		c := n.like(s, softcap)
		s = n.op(ir.OpMul, nil, n.op(ir.OpTanh, nil, n.op(ir.OpDiv, nil, s, c)), c)
	}
	bias := n.attentionBias(mask, nonpad, causal, past, dt, Sq, Skv)
	if !n.ok() {
		return nil
	}
	sb := s
	if bias != nil {
		sb = n.op(ir.OpAdd, nil, s, bias)
	}
	qkOut := s
	if mode == 2 {
		qkOut = sb
	}
	x := sb
	if n.has("softmax_precision") {
		pt, ok := dtypeOf(int32(n.int("softmax_precision", 0)))
		if !ok || !pt.IsFloat() {
			n.failf("softmax_precision %d is not a float type", n.int("softmax_precision", 0))
			return nil
		}
		x = n.cast(x, pt)
	}
	p := n.op(ir.OpSoftmax, ir.Attrs{"axis": int64(-1)}, x)
	if bias != nil {
		masked := n.cmp(n.op(ir.OpReduceMax, ir.Attrs{"axes": []int64{-1}}, bias), n.like(bias, math.Inf(-1)), "eq")
		p = n.where(masked, n.like(p, 0), p)
	}
	if mode == 3 {
		qkOut = p
	}
	y := n.op(ir.OpMatMul, nil, n.cast(p, dt), v)
	if threeD && n.ok() {
		ys := y.shape()
		y = n.transpose(y, []int64{0, 2, 1, 3})
		hd, _ := ir.MulDims(ys[1], ys[3])
		y = n.reshape(y, ir.Shape{ys[0], ys[2], hd})
	}
	return []*val{y, presentK, presentV, n.cast(qkOut, dt)}
}

// attentionBias builds the additive bias of Attention (nil when there is
// none): the mask, the causal frontier and the padding of nonpad_kv_seqlen.
func (n *node) attentionBias(mask, nonpad *val, causal bool, past int64, dt ir.DType, Sq, Skv ir.Dim) *val {
	if mask == nil && nonpad == nil && !causal {
		return nil
	}
	if !Sq.IsStatic() || !Skv.IsStatic() {
		n.unsupported("attention masks over symbolic lengths %v, %v", Sq, Skv)
		return nil
	}
	ninf, zero := n.like(scalar(dt, 0), math.Inf(-1)), scalar(dt, 0)
	var bias *val
	if mask != nil {
		if mask.rank() == 0 {
			n.failf("attn_mask is a scalar")
			return nil
		}
		if last := mask.shape()[mask.rank()-1]; last.IsStatic() && last.Off < Skv.Off {
			fill := ninf
			if mask.dtype() == ir.Bool {
				fill = scalar(ir.Bool, 0)
			}
			mask = n.padFill(mask, mask.rank()-1, 0, Skv.Off-last.Off, fill)
		}
		if mask.dtype() == ir.Bool {
			mask = n.where(mask, zero, ninf)
		}
		bias = mask
	}
	add := func(b *val) {
		if bias == nil {
			bias = b
		} else {
			bias = n.op(ir.OpAdd, nil, bias, b)
		}
	}
	if causal {
		ji := make([]int64, Sq.Off*Skv.Off) // j - i
		if !n.alloc(int64(len(ji)), 8) {
			return nil
		}
		for i := int64(0); i < Sq.Off; i++ {
			for j := int64(0); j < Skv.Off; j++ {
				ji[i*Skv.Off+j] = j - i
			}
		}
		diff := constVal(ir.TensorFromInt64s(ir.I64, []int64{Sq.Off, Skv.Off}, ji))
		if nonpad != nil && past == 0 {
			off := n.op(ir.OpSub, nil, n.cast(nonpad, ir.I64), scalar(ir.I64, float64(Sq.Off)))
			off = n.reshape(off, ir.Shape{nonpad.shape()[0], ir.StaticDim(1), ir.StaticDim(1), ir.StaticDim(1)})
			add(n.where(n.cmp(diff, off, "le"), zero, ninf))
		} else {
			add(n.where(n.cmp(diff, scalar(ir.I64, float64(past)), "le"), zero, ninf))
		}
	}
	if nonpad != nil {
		if nonpad.rank() != 1 {
			n.failf("nonpad_kv_seqlen is %v, want [B]", nonpad.typ)
			return nil
		}
		j := n.iota(Skv.Off, 0, 1)
		lens := n.reshape(n.cast(nonpad, ir.I64), ir.Shape{nonpad.shape()[0], ir.StaticDim(1), ir.StaticDim(1), ir.StaticDim(1)})
		add(n.where(n.cmp(j, lens, "lt"), zero, ninf))
	}
	return bias
}

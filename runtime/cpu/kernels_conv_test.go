package cpu

import (
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// convCases covers Conv1d (pads, dilation, both weight layouts, with and
// without bias) and CausalConv1d (with and without state and bias, L
// shorter than K-1, one-step decoding with K = 1, 2, 4 and 5, K = 1,
// both activations).
func convCases() []kcase {
	conv := func(p0, p1, dil int64) ir.Attrs {
		return ir.Attrs{"pads": []int64{p0, p1}, "dilation": dil}
	}
	silu := ir.Attrs{"activation": "silu"}
	none := ir.Attrs{}
	return []kcase{
		{name: "causal pads", op: ir.OpConv1d, attrs: conv(3, 0, 1), args: []*opnd{f32s(2, 3, 10), f32s(3, 1, 4), f32s(3)}},
		{name: "dilation 2 no bias", op: ir.OpConv1d, attrs: conv(1, 2, 2), args: []*opnd{f32s(2, 3, 9), f32s(3, 3)}},
		{name: "valid dilation 3", op: ir.OpConv1d, attrs: conv(0, 0, 3), args: []*opnd{f32s(1, 4, 12), f32s(4, 1, 3), f32s(4)}},
		{name: "pads wider than x", op: ir.OpConv1d, attrs: conv(5, 4, 1), args: []*opnd{f32s(1, 2, 3), f32s(2, 2), f32s(2)}},

		{name: "no state silu", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(2, 7, 5), f32s(5, 4), f32s(5)}},
		{name: "state", op: ir.OpCausalConv1d, attrs: none, args: []*opnd{f32s(2, 6, 5), f32s(5, 1, 4), nil, f32s(2, 5, 3)}},
		{name: "state bias silu", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(2, 6, 5), f32s(5, 4), f32s(5), f32s(2, 5, 3)}},
		{name: "L < K-1 with state", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(2, 2, 5), f32s(5, 4), f32s(5), f32s(2, 5, 3)}},
		{name: "L < K-1 no state", op: ir.OpCausalConv1d, attrs: none, args: []*opnd{f32s(1, 1, 3), f32s(3, 1, 4)}},
		{name: "decode step", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(3, 1, 8), f32s(8, 4), f32s(8), f32s(3, 8, 3)}},
		{name: "K 1", op: ir.OpCausalConv1d, attrs: none, args: []*opnd{f32s(2, 3, 4), f32s(4, 1), f32s(4)}},
		{name: "K 2 state", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(1, 3, 4), f32s(4, 2), nil, f32s(1, 4, 1)}},
		{name: "decode step no state", op: ir.OpCausalConv1d, attrs: none, args: []*opnd{f32s(2, 1, 8), f32s(8, 4), f32s(8)}},
		{name: "decode step K 2", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(2, 1, 7), f32s(7, 2), nil, f32s(2, 7, 1)}},
		{name: "decode step K 5", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(1, 1, 9), f32s(9, 1, 5), f32s(9), f32s(1, 9, 4)}},
		{name: "decode step K 1", op: ir.OpCausalConv1d, attrs: silu, args: []*opnd{f32s(2, 1, 5), f32s(5, 1), f32s(5)}},
	}
}

// TestCausalConvInPlaceState checks that the state result may share
// memory with the state operand (decoding updates the state in place), for
// L both shorter and longer than K-1 and one-step decoding with several K,
// and that a warm call allocates nothing.
func TestCausalConvInPlaceState(t *testing.T) {
	for _, c := range []struct{ l, k int64 }{{1, 4}, {2, 4}, {6, 4}, {1, 3}, {1, 6}} {
		l, k := c.l, c.k
		c := kcase{name: "in place", op: ir.OpCausalConv1d, attrs: ir.Attrs{"activation": "silu"},
			args: []*opnd{f32s(2, l, 6), f32s(6, k), f32s(6), f32s(2, 6, k-1)}}
		b := c.build(t)
		b.out[1] = &Tensor{DType: ir.F32, Shape: b.out[1].Shape, F32: append([]float32(nil), b.in[3].F32...)}
		b.in[3] = &Tensor{DType: ir.F32, Shape: b.in[3].Shape, F32: b.out[1].F32}
		var s Scratch
		if err := b.run(&s); err != nil {
			t.Fatal(err)
		}
		b.check(t, false)
		if n := testing.AllocsPerRun(10, func() { _ = b.run(&s) }); n != 0 {
			t.Errorf("L=%d K=%d: warm CausalConv1d allocates %v times", l, k, n)
		}
	}
}

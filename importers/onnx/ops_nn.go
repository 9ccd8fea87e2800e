package onnx

import (
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convMatMul, "MatMul")
	register(7, convGemm, "Gemm")
	register(7, convConv, "Conv")
	register(27, convCausalConvWithState, "CausalConvWithState")
}

func convMatMul(n *node) []*val {
	a, b := n.floatIn(0), n.floatIn(1)
	if n.ok() && a.rank() == 0 || b.rank() == 0 {
		n.failf("MatMul of a scalar")
		return nil
	}
	return []*val{n.op(ir.OpMatMul, nil, a, b)}
}

// convGemm: y = alpha·A'·B' + beta·C with A' = Aᵀ when transA, B' = Bᵀ
// when transB.
func convGemm(n *node) []*val {
	a, b, c := n.floatIn(0), n.floatIn(1), n.arg(2)
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	if !n.ok() {
		return nil
	}
	if a.rank() != 2 || b.rank() != 2 {
		n.failf("A and B must be matrices, are %v and %v", a.typ, b.typ)
		return nil
	}
	if n.int("transA", 0) != 0 {
		a = n.transpose(a, []int64{1, 0})
	}
	y := n.op(ir.OpMatMul, ir.Attrs{"transpose_b": n.int("transB", 0) != 0}, a, b)
	if alpha != 1 {
		y = n.op(ir.OpMul, nil, y, n.like(y, alpha))
	}
	if c != nil {
		if beta != 1 {
			c = n.op(ir.OpMul, nil, c, n.like(c, beta))
		}
		y = n.op(ir.OpAdd, nil, y, c)
	}
	return []*val{y}
}

// convCausalConvWithState maps the opset-27 op onto CausalConv1d, which
// takes its input channel-last: y = CausalConv1d(xᵀ, w, bias, state)ᵀ.
func convCausalConvWithState(n *node) []*val {
	x, w, bias, state := n.floatIn(0), n.need(1), n.arg(2), n.arg(3)
	act := n.str("activation", "none")
	if !n.ok() {
		return nil
	}
	switch act {
	case "swish":
		act = "silu"
	case "none", "silu":
	default:
		n.failf("activation %q, want none, silu or swish", clip(act))
		return nil
	}
	if x.rank() != 3 {
		n.failf("input is %v, want rank 3", x.typ)
		return nil
	}
	res := n.tuple(ir.OpCausalConv1d, ir.Attrs{"activation": act}, 2, n.transpose(x, []int64{0, 2, 1}), w, bias, state)
	return []*val{n.transpose(res[0], []int64{0, 2, 1}), res[1]}
}

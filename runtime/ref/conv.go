package ref

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// convKernel returns the depthwise kernel w [C,K] or [C,1,K] as float64
// rows of K taps, checking it has c channels.
func convKernel(c *call, w *ir.Tensor, channels int64) ([]float64, int64, error) {
	var k int64
	switch {
	case len(w.Shape) == 2 && w.Shape[0] == channels:
		k = w.Shape[1]
	case len(w.Shape) == 3 && w.Shape[0] == channels && w.Shape[1] == 1:
		k = w.Shape[2]
	default:
		return nil, 0, c.errorf("weight %v is not a depthwise kernel [%d,1,K] or [%d,K]", w.Shape, channels, channels)
	}
	if k < 1 {
		return nil, 0, c.errorf("kernel size %d", k)
	}
	return w.Float64s(), k, nil
}

// optionalVec returns the float64 elements of an optional operand, or
// zeros of length n when it is absent.
func optionalVec(t *ir.Tensor, n int64) []float64 {
	if t == nil {
		return make([]float64, n)
	}
	return t.Float64s()
}

// evalConv1d is a depthwise 1-D convolution with x [N,C,L], w [C,K] or
// [C,1,K], optional bias [C], pads [p0,p1] and dilation, in float64:
//
//	Lout = L + p0 + p1 - dilation·(K-1)
//	y[n,c,t] = bias[c] + sum_{k<K} w[c,k] · xpad[n,c,t + k·dilation]
//	xpad[n,c,s] = x[n,c,s-p0] for p0 ≤ s < p0+L, 0 otherwise
func evalConv1d(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	nb, ch, l := x.Shape[0], x.Shape[1], x.Shape[2]
	w, k, err := convKernel(c, c.args[1], ch)
	if err != nil {
		return nil, err
	}
	bias := optionalVec(c.arg(2), ch)
	pads, dil := c.at.IntsAttr("pads"), c.at.IntAttr("dilation")
	out := c.outShape(0)
	lout := out[2]
	if len(pads) != 2 || lout != l+pads[0]+pads[1]-dil*(k-1) {
		return nil, c.errorf("internal error: output length %d", lout)
	}
	xv := x.Float64s()
	y := make([]float64, nb*ch*lout)
	for n := int64(0); n < nb; n++ {
		for ci := int64(0); ci < ch; ci++ {
			row := xv[(n*ch+ci)*l : (n*ch+ci+1)*l]
			for t := int64(0); t < lout; t++ {
				acc := bias[ci]
				for kk := int64(0); kk < k; kk++ {
					s := t + kk*dil - pads[0] // index into x
					if s >= 0 && s < l {
						acc += w[ci*k+kk] * row[s]
					}
				}
				y[(n*ch+ci)*lout+t] = acc
			}
		}
	}
	return []*ir.Tensor{floatTensor(c.out[0].DType, out, y)}, nil
}

// evalCausalConv1d is the channel-last causal depthwise convolution with a
// carried state, x [Bt,L,D], w [D,K] or [D,1,K], bias? [D],
// state? [Bt,D,K-1] (zeros when absent), in float64:
//
//	xs[b,d,j] = state[b,d,j] for j < K-1, x[b,j-(K-1),d] otherwise   (j < K-1+L)
//	y[b,t,d] = act(bias[d] + sum_{k<K} w[d,k] · xs[b,d,t+k])          act: identity or silu
//	state_out[b,d,j] = xs[b,d,L+j]   for j < K-1 (the last K-1 columns, oldest first)
//
// y is rounded to x's dtype; state_out copies elements of state and x, so
// it is exact.
func evalCausalConv1d(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	bt, l, dm := x.Shape[0], x.Shape[1], x.Shape[2]
	w, k, err := convKernel(c, c.args[1], dm)
	if err != nil {
		return nil, err
	}
	bias := optionalVec(c.arg(2), dm)
	state := optionalVec(c.arg(3), bt*dm*(k-1))
	act := func(a float64) float64 { return a }
	switch s := c.at.StringAttr("activation"); s {
	case "none":
	case "silu":
		act = silu
	default:
		return nil, c.errorf("unknown activation %q", s)
	}
	xv := x.Float64s()
	width := k - 1 + l
	xs := make([]float64, width) // one (b, d) row of xs at a time
	y := make([]float64, bt*l*dm)
	stateOut := make([]float64, bt*dm*(k-1))
	for b := int64(0); b < bt; b++ {
		for d := int64(0); d < dm; d++ {
			for j := int64(0); j < width; j++ {
				if j < k-1 {
					xs[j] = state[(b*dm+d)*(k-1)+j]
				} else {
					xs[j] = xv[(b*l+j-(k-1))*dm+d]
				}
			}
			for t := int64(0); t < l; t++ {
				acc := bias[d]
				for kk := int64(0); kk < k; kk++ {
					acc += w[d*k+kk] * xs[t+kk]
				}
				y[(b*l+t)*dm+d] = act(acc)
			}
			for j := int64(0); j < k-1; j++ {
				stateOut[(b*dm+d)*(k-1)+j] = xs[l+j]
			}
		}
	}
	dt := c.out[0].DType
	return []*ir.Tensor{
		floatTensor(dt, c.outShape(0), y),
		floatTensor(c.out[1].DType, c.outShape(1), stateOut),
	}, nil
}

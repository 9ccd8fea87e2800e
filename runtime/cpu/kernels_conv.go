package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpConv1d, conv1dKernel)
	register(ir.OpCausalConv1d, causalConv1dKernel)
}

// depthwiseTaps checks a depthwise kernel w [C,K] or [C,1,K] with c
// channels and returns K.
func depthwiseTaps(w *Tensor, c int) (int, bool) {
	switch {
	case len(w.Shape) == 2 && w.Shape[0] == c:
		return w.Shape[1], w.Shape[1] >= 1
	case len(w.Shape) == 3 && w.Shape[0] == c && w.Shape[1] == 1:
		return w.Shape[2], w.Shape[2] >= 1
	}
	return 0, false
}

// conv1dKernel is a depthwise 1-D convolution with x [N,C,L], w [C,K] or
// [C,1,K], optional bias [C], pads [p0,p1] and dilation:
//
//	Lout = L + p0 + p1 - dilation·(K-1)
//	y[n,c,t] = bias[c] + sum_{k<K} w[c,k] · xpad[n,c,t + k·dilation]
//	xpad[n,c,s] = x[n,c,s-p0] for p0 ≤ s < p0+L, 0 otherwise
//
// computed tap by tap over the range of t each tap reads inside x.
func conv1dKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	w, err := f32Operand(v, in, 1, "w")
	if err != nil {
		return err
	}
	bias, err := f32Optional(v, in, 2, "bias")
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	if len(x.Shape) != 3 {
		return kernelError(v, "x is %v, want [N,C,L]", x)
	}
	nb, ch, l := x.Shape[0], x.Shape[1], x.Shape[2]
	k, ok := depthwiseTaps(w, ch)
	if !ok || (bias != nil && (len(bias.Shape) != 1 || bias.Shape[0] != ch)) {
		return kernelError(v, "weight %v or bias %v does not fit %v", w, bias, x)
	}
	pads, dil := v.IntsAttr("pads"), v.IntAttr("dilation")
	if len(pads) != 2 || pads[0] < 0 || pads[1] < 0 || pads[0] > maxElements || pads[1] > maxElements ||
		dil < 1 || dil > maxElements/int64(k) {
		return kernelError(v, "bad pads %v or dilation %d", pads, dil)
	}
	p0, d := int(pads[0]), int(dil)
	lout := l + p0 + int(pads[1]) - d*(k-1)
	if lout < 0 || len(y.Shape) != 3 || y.Shape[0] != nb || y.Shape[1] != ch || y.Shape[2] != lout {
		return kernelError(v, "convolving %v gives length %d, result is %v", x, lout, y)
	}
	for n := 0; n < nb; n++ {
		for c := 0; c < ch; c++ {
			row := x.F32[(n*ch+c)*l : (n*ch+c+1)*l]
			yr := y.F32[(n*ch+c)*lout : (n*ch+c+1)*lout]
			b := float32(0)
			if bias != nil {
				b = bias.F32[c]
			}
			for t := range yr {
				yr[t] = b
			}
			for kk := 0; kk < k; kk++ {
				wk := w.F32[c*k+kk]
				shift := kk*d - p0 // y[t] reads x[t+shift]
				lo, hi := max(0, -shift), min(lout, l-shift)
				for t := lo; t < hi; t++ {
					yr[t] += wk * row[t+shift]
				}
			}
		}
	}
	return nil
}

// causalConv1dKernel is the channel-last causal depthwise convolution
// with a carried state, x [Bt,L,D], w [D,K] or [D,1,K], bias? [D],
// state? [Bt,D,K-1] (zeros when absent):
//
//	xs[b,d,j] = state[b,d,j] for j < K-1, x[b,j-(K-1),d] otherwise   (j < K-1+L)
//	y[b,t,d] = act(bias[d] + sum_{k<K} w[d,k] · xs[b,d,t+k])          act: identity or silu
//	state_out[b,d,j] = xs[b,d,L+j]   for j < K-1 (the last K-1 columns, oldest first)
//
// The taps are transposed into scratch [K,D] so each output row y[b,t,:]
// accumulates contiguous rows of x. y must not share memory with x;
// state_out may share memory with state (y is written first and
// state_out[j] reads only columns ≥ j).
func causalConv1dKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	w, err := f32Operand(v, in, 1, "w")
	if err != nil {
		return err
	}
	bias, err := f32Optional(v, in, 2, "bias")
	if err != nil {
		return err
	}
	state, err := f32Optional(v, in, 3, "state")
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	so, err := f32Result(v, out, 1)
	if err != nil {
		return err
	}
	if len(x.Shape) != 3 {
		return kernelError(v, "x is %v, want [Bt,L,D]", x)
	}
	bt, l, dm := x.Shape[0], x.Shape[1], x.Shape[2]
	k, ok := depthwiseTaps(w, dm)
	if !ok || (bias != nil && (len(bias.Shape) != 1 || bias.Shape[0] != dm)) {
		return kernelError(v, "weight %v or bias %v does not fit %v", w, bias, x)
	}
	ks := k - 1
	if state != nil && (len(state.Shape) != 3 || state.Shape[0] != bt || state.Shape[1] != dm || state.Shape[2] != ks) {
		return kernelError(v, "state is %v, want [%d,%d,%d]", state, bt, dm, ks)
	}
	if !sameShape(y.Shape, x.Shape) || len(so.Shape) != 3 || so.Shape[0] != bt || so.Shape[1] != dm || so.Shape[2] != ks {
		return kernelError(v, "results %v and %v, want %v and [%d,%d,%d]", y, so, x, bt, dm, ks)
	}
	var silu bool
	switch a := v.StringAttr("activation"); a {
	case "none":
	case "silu":
		silu = true
	default:
		return kernelError(v, "unknown activation %q", a)
	}
	wt := s.F32(k * dm)
	for d := 0; d < dm; d++ {
		for kk := 0; kk < k; kk++ {
			wt[kk*dm+d] = w.F32[d*k+kk]
		}
	}
	for b := 0; b < bt; b++ {
		for t := 0; t < l; t++ {
			yr := y.F32[(b*l+t)*dm : (b*l+t+1)*dm]
			if bias != nil {
				copy(yr, bias.F32)
			} else {
				clear(yr)
			}
			for kk := 0; kk < k; kk++ {
				wk := wt[kk*dm : kk*dm+dm]
				j := t + kk // column of xs
				if j >= ks {
					xr := x.F32[(b*l+j-ks)*dm : (b*l+j-ks+1)*dm]
					for d := range yr {
						yr[d] += wk[d] * xr[d]
					}
				} else if state != nil {
					st := state.F32[b*dm*ks:]
					for d := range yr {
						yr[d] += wk[d] * st[d*ks+j]
					}
				}
			}
			if silu {
				siluInPlace(yr)
			}
		}
		for d := 0; d < dm; d++ {
			sr := so.F32[(b*dm+d)*ks : (b*dm+d+1)*ks]
			for j := range sr {
				src := l + j // column of xs
				switch {
				case src >= ks:
					sr[j] = x.F32[(b*l+src-ks)*dm+d]
				case state != nil:
					sr[j] = state.F32[(b*dm+d)*ks+src]
				default:
					sr[j] = 0
				}
			}
		}
	}
	return nil
}

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
// accumulates contiguous rows of x (vector fma); the rows are split
// among the workers. y must not share memory with x;
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
	if l == 1 {
		// One step (decoding): a single pass over the channels, every
		// channel's taps and state row read where they are, channels
		// split among the workers.
		t := step1Tasks.get()
		*t = conv1Task{x: x.F32, y: y.F32, w: w.F32, so: so.F32, bt: bt, dm: dm, k: k, silu: silu}
		if bias != nil {
			t.bias = bias.F32
		}
		if state != nil {
			t.state = state.F32
		}
		t.chunks = chunksFor(dm, 64, float64(bt*k), 1024, 2)
		parallel(t, t.chunks)
		*t = conv1Task{}
		step1Tasks.put(t)
		return nil
	}
	wt := s.F32(k * dm)
	for d := 0; d < dm; d++ {
		for kk := 0; kk < k; kk++ {
			wt[kk*dm+d] = w.F32[d*k+kk]
		}
	}
	t := convTasks.get()
	*t = convTask{x: x.F32, y: y.F32, wt: wt, l: l, dm: dm, k: k, silu: silu, gather: t.gather}
	if bias != nil {
		t.bias = bias.F32
	}
	if state != nil {
		t.state = state.F32
	}
	t.chunks = chunksFor(bt*l, 1, float64(dm*k), 16384, 8)
	for len(t.gather) < workers() {
		t.gather = append(t.gather, nil)
	}
	if state != nil {
		for w := range t.gather { // sized here, so that no worker allocates
			grow(&t.gather[w], dm)
		}
	}
	parallel(t, t.chunks)
	*t = convTask{gather: t.gather}
	convTasks.put(t)
	// The state is written after every y row that reads it: it may be the
	// same memory.
	for b := 0; b < bt; b++ {
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

var step1Tasks freeList[conv1Task]

// conv1Task is causalConv1dKernel for L = 1 on the channels
// chunkRange(chunk): for each batch b and channel d, with xs =
// state[b,d,:] ++ [x[b,d]],
//
//	y[b,d] = act(bias[d] + sum_{k<K} w[d,k]·xs[k]);  state_out[b,d,:] = xs[1:]
//
// (the same sums in the same order as the general path). state_out may
// be the state's memory: each row is read before it is written.
type conv1Task struct {
	x, y, w, bias, state, so []float32
	bt, dm, k, chunks        int
	silu                     bool
}

func (t *conv1Task) run(_, chunk int) {
	c0, c1 := chunkRange(chunk, t.chunks, t.dm, 64)
	dm, k, ks := t.dm, t.k, t.k-1
	for b := 0; b < t.bt; b++ {
		yr, xr := t.y[b*dm+c0:b*dm+c1], t.x[b*dm+c0:b*dm+c1]
		sob := t.so[(b*dm+c0)*ks : (b*dm+c1)*ks]
		var st []float32
		if t.state != nil {
			st = t.state[(b*dm+c0)*ks : (b*dm+c1)*ks]
		}
		w := t.w[c0*k : c1*k]
		for d, xd := range xr {
			acc := float32(0)
			if t.bias != nil {
				acc = t.bias[c0+d]
			}
			wd := w[d*k : d*k+k]
			if st == nil {
				acc += wd[ks] * xd
				yr[d] = acc
				sr := sob[d*ks : d*ks+ks]
				clear(sr)
				if ks > 0 {
					sr[ks-1] = xd
				}
				continue
			}
			if ks == 3 { // d_conv = 4, the usual
				sd := st[3*d : 3*d+3 : 3*d+3]
				s0, s1, s2 := sd[0], sd[1], sd[2]
				acc += wd[0] * s0
				acc += wd[1] * s1
				acc += wd[2] * s2
				acc += wd[3] * xd
				yr[d] = acc
				sr := sob[3*d : 3*d+3 : 3*d+3]
				sr[0], sr[1], sr[2] = s1, s2, xd
				continue
			}
			sd, sr := st[d*ks:d*ks+ks], sob[d*ks:d*ks+ks]
			for j, sv := range sd {
				acc += wd[j] * sv
			}
			acc += wd[ks] * xd
			yr[d] = acc
			for j := 0; j+1 < ks; j++ {
				sr[j] = sd[j+1] // sr may be sd: j+1 is read before j+1 is written
			}
			if ks > 0 {
				sr[ks-1] = xd
			}
		}
		if t.silu {
			simd.silu(yr, yr)
		}
	}
}

var convTasks freeList[convTask]

// convTask computes the output rows chunkRange(chunk) of (b, t) of a
// causal convolution; gather holds one state column per worker.
type convTask struct {
	x, y, wt, bias, state []float32
	l, dm, k, chunks      int
	silu                  bool
	gather                [][]float32
}

func (t *convTask) run(worker, chunk int) {
	dm, ks := t.dm, t.k-1
	if dm == 0 {
		return
	}
	r0, r1 := chunkRange(chunk, t.chunks, len(t.y)/dm, 1)
	for r := r0; r < r1; r++ {
		b, tt := r/t.l, r%t.l
		yr := t.y[r*dm : r*dm+dm]
		if t.bias != nil {
			copy(yr, t.bias)
		} else {
			clear(yr)
		}
		for kk := 0; kk < t.k; kk++ {
			wk := t.wt[kk*dm : kk*dm+dm]
			j := tt + kk // column of xs
			if j >= ks {
				o := (b*t.l + j - ks) * dm
				simd.fma(yr, wk, t.x[o:o+dm])
			} else if t.state != nil {
				col := t.gather[worker][:dm]
				st := t.state[b*dm*ks:]
				for d := range col {
					col[d] = st[d*ks+j]
				}
				simd.fma(yr, wk, col)
			}
		}
		if t.silu {
			simd.silu(yr, yr)
		}
	}
}

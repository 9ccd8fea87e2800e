package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpSelectiveScan, selectiveScanKernel)
	register(ir.OpSelectiveStateUpdate, stateUpdateKernel)
}

// scan holds the checked operands of a SelectiveScan or
// SelectiveStateUpdate (see ir/ops_ssm.go):
//
//	u, z, y  [Bt, L, Dm]          (L = 1 for the state update)
//	delta    [Bt, L, Dc]          Dc = Dm (Mamba-1) or H (Mamba-2)
//	A        [Dm, N] or [H]
//	B, C     [Bt, L, G, N], or [Dm, N] when constBC
//	D        [Dm] or [Dc];  delta_bias [Dc]
//	h        [Bt, Dm, N]          (Mamba-2: head h owns channels h·P..h·P+P-1, P = Dm/H)
type scan struct {
	bt, l, dm, n, heads, groups, dc int
	constBC, softplus               bool
	u, delta, a, b, c               []float32
	d, z, bias                      []float32 // nil when absent
	y, h                            []float32
	h0                              []float32 // the initial state (h itself once copied there)
	tmp                             []float32 // n floats of scratch
}

// setup checks the operands of v (a scan when seq, else a state update)
// against each other and the results, and fills sc. The state result is
// zeroed when the state operand is absent; otherwise the scalar loop
// gets the operand copied into it, while the vector path reads the
// operand (sc.h0) and writes the result, saving that copy.
func (sc *scan) setup(s *Scratch, v *ir.Value, in, out []*Tensor, seq bool) error {
	uName, lead := "x", 1
	if seq {
		uName, lead = "u", 2
	}
	u, err := f32Operand(v, in, 0, uName)
	if err != nil {
		return err
	}
	if len(u.Shape) != lead+1 {
		return kernelError(v, "%s is %v, want rank %d", uName, u, lead+1)
	}
	prefix := u.Shape[:lead]
	sc.bt, sc.l, sc.dm = u.Shape[0], 1, u.Shape[lead]
	if seq {
		sc.l = u.Shape[1]
	}
	heads := v.IntAttr("heads")
	sc.softplus = v.BoolAttr("delta_softplus")
	var t [8]*Tensor
	names := [8]string{uName, "delta", "A", "B", "C", "D", "z", "delta_bias"}
	t[0] = u
	for i := 1; i < 8; i++ {
		f := f32Optional
		if i < 5 {
			f = f32Operand
		}
		if t[i], err = f(v, in, i, names[i]); err != nil {
			return err
		}
	}
	A := t[2]
	switch {
	case heads == 0 && len(A.Shape) == 2 && A.Shape[0] == sc.dm:
		sc.n, sc.dc = A.Shape[1], sc.dm
	case heads > 0 && heads <= int64(sc.dm) && len(A.Shape) == 1 && A.Shape[0] == int(heads) && sc.dm%int(heads) == 0:
		sc.heads, sc.dc = int(heads), int(heads)
	default:
		return kernelError(v, "A is %v; want [%d, N] (Mamba-1) or [heads] with heads (%d) dividing %d", A, sc.dm, heads, sc.dm)
	}
	if dl := t[1]; len(dl.Shape) != lead+1 || !sameShape(dl.Shape[:lead], prefix) || dl.Shape[lead] != sc.dc {
		return kernelError(v, "delta is %v, want %v with last dim %d", dl, prefix, sc.dc)
	}
	for i := 3; i <= 4; i++ {
		g, n, constBC, err := sc.bcLayout(v, i, t[i], prefix, seq)
		if err != nil {
			return kernelError(v, "%s is %v: %v", names[i], t[i], err)
		}
		if i == 3 {
			sc.groups, sc.constBC = g, constBC
			if sc.heads > 0 {
				sc.n = n
			}
		}
		if g != sc.groups || n != sc.n || constBC != sc.constBC {
			return kernelError(v, "B %v and C %v disagree with each other or with A %v", t[3], t[4], A)
		}
	}
	if sc.groups < 1 || sc.dc%sc.groups != 0 {
		return kernelError(v, "%d groups do not divide %d", sc.groups, sc.dc)
	}
	if D := t[5]; D != nil && (len(D.Shape) != 1 || (D.Shape[0] != sc.dm && D.Shape[0] != sc.dc)) {
		return kernelError(v, "D is %v, want [%d] or [%d]", D, sc.dm, sc.dc)
	}
	if z := t[6]; z != nil && !sameShape(z.Shape, u.Shape) {
		return kernelError(v, "z is %v, want %v", z, u)
	}
	if db := t[7]; db != nil && (len(db.Shape) != 1 || db.Shape[0] != sc.dc) {
		return kernelError(v, "delta_bias is %v, want [%d]", db, sc.dc)
	}
	hName := "h"
	if seq {
		hName = "h0"
	}
	var h0 *Tensor
	if seq {
		h0, err = f32Optional(v, in, 8, hName)
	} else {
		h0, err = f32Operand(v, in, 8, hName)
	}
	if err != nil {
		return err
	}
	if h0 != nil && !sc.isState(h0.Shape) {
		return kernelError(v, "%s is %v, want [%d,%d,%d]", hName, h0, sc.bt, sc.dm, sc.n)
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	hOut, err := f32Result(v, out, 1)
	if err != nil {
		return err
	}
	if !sameShape(y.Shape, u.Shape) || !sc.isState(hOut.Shape) {
		return kernelError(v, "results %v and %v, want %v and [%d,%d,%d]", y, hOut, u, sc.bt, sc.dm, sc.n)
	}
	sc.u, sc.delta, sc.a, sc.b, sc.c = u.F32, t[1].F32, A.F32, t[3].F32, t[4].F32
	for i, p := range [3]*[]float32{&sc.d, &sc.z, &sc.bias} {
		if t[5+i] != nil {
			*p = t[5+i].F32
		}
	}
	sc.y, sc.h = y.F32, hOut.F32
	sc.h0 = nil
	if h0 != nil {
		sc.h0 = h0.F32
	}
	if sc.h0 == nil {
		clear(sc.h)
		sc.h0 = sc.h
	} else if !sc.fast() {
		// The scalar loop updates h in place; the vector path reads h0
		// and writes h itself.
		copy(sc.h, sc.h0)
		sc.h0 = sc.h
	}
	sc.tmp = s.F32(sc.n)
	return nil
}

// isState reports whether shape is the state's [Bt, Dm, N].
func (sc *scan) isState(shape []int) bool {
	return len(shape) == 3 && shape[0] == sc.bt && shape[1] == sc.dm && shape[2] == sc.n
}

// bcLayout classifies B or C: prefix ++ [N] (one group), prefix ++ [G, N],
// or [Dm, N] (constant, Mamba-1 only). For a state update a rank-2 operand
// [X, N] with X = Bt = Dm is told apart by its IR type.
func (sc *scan) bcLayout(v *ir.Value, arg int, t *Tensor, prefix []int, seq bool) (groups, n int, constBC bool, err error) {
	s, lead := t.Shape, len(prefix)
	switch {
	case len(s) == lead+2 && sameShape(s[:lead], prefix):
		return s[lead], s[lead+1], false, nil
	case len(s) == 2 && seq && sc.heads == 0 && s[0] == sc.dm:
		return 1, s[1], true, nil
	case len(s) == lead+1 && sameShape(s[:lead], prefix) && (seq || sc.heads > 0 || s[0] != sc.dm):
		return 1, s[lead], false, nil
	case len(s) == 2 && !seq && sc.heads == 0 && s[0] == sc.dm && s[0] != sc.bt:
		return 1, s[1], true, nil
	case len(s) == 2 && !seq && sc.heads == 0 && s[0] == sc.dm:
		// Bt = Dm: the IR type says whether dim 0 is the batch or the channels.
		if vu, vb := v.Arg(0), v.Arg(arg); vu != nil && vb != nil && vu.Type.Shape.Rank() == 2 && vb.Type.Shape.Rank() == 2 {
			batch, ch, d0 := vu.Type.Shape[0], vu.Type.Shape[1], vb.Type.Shape[0]
			switch {
			case d0 == batch && d0 != ch:
				return 1, s[1], false, nil
			case d0 == ch && d0 != batch:
				return 1, s[1], true, nil
			}
		}
		return 0, 0, false, errAmbiguousBC
	}
	return 0, 0, false, errBCLayout
}

type scanError string

func (e scanError) Error() string { return string(e) }

const (
	errAmbiguousBC = scanError("cannot tell per-batch [Bt, N] from constant [Dm, N] when Bt = Dm")
	errBCLayout    = scanError("want [Bt, (L,) N], [Bt, (L,) G, N] or constant [Dm, N] (Mamba-1)")
)

// run advances the state over every batch and step and writes y. For
// each channel d, with head = d / (Dm/H), dc = d (Mamba-1) or head
// (Mamba-2) and group g = d / (Dm/G):
//
//	dt = delta[b,t,dc] + delta_bias[dc];  dt = softplus(dt) if delta_softplus
//	a_n = A[d,n] (Mamba-1) or A[head] (Mamba-2)
//	Bn, Cn = B[b,t,g,n], C[b,t,g,n]   (B[d,n], C[d,n] when constant)
//	for n: h[b,d,n] = exp(dt·a_n)·h[b,d,n] + dt·u[b,t,d]·Bn
//	y[b,t,d] = (sum_n h[b,d,n]·Cn + D[d or dc]·u[b,t,d]) · silu(z[b,t,d])
//
// all in float32 (exp32, silu32, softplus32 or their vector forms: a
// few ulp each). Channels are independent, so the worker pool splits
// them; Mamba-1 with N = 16 and per-step B, C runs the vector path
// (runFast), everything else the scalar loop (runChannels). Each state
// element is read before it is written and y[b,t,d] after u and z at the
// same index, so h may be updated in place.
func (sc *scan) run() {
	t := scanTasks.get()
	t.sc = *sc
	cost := float64(sc.bt * sc.l * max(sc.n, 1))
	t.chunks = chunksFor(sc.dm, 8, cost, 4096, 8)
	if sc.heads > 0 {
		t.chunks = 1 // heads share dt and exp(dt·A): keep them in one chunk
	}
	if !t.sc.fast() && sc.n > len(t.local[0]) {
		t.chunks = 1 // the scalar loop uses sc.tmp, which is not per worker
	}
	parallel(t, t.chunks)
	t.sc = scan{}
	scanTasks.put(t)
}

var scanTasks freeList[scanTask]

// scanTask runs the channels chunkRange(chunk) of a scan.
type scanTask struct {
	sc     scan
	chunks int
	local  [64][64]float32 // per-worker exp buffers of the scalar loop (workers ≤ 64)
}

func (t *scanTask) run(worker, chunk int) {
	c0, c1 := chunkRange(chunk, t.chunks, t.sc.dm, 8)
	if c0 == c1 {
		return
	}
	if t.sc.fast() {
		t.sc.runFast(c0, c1)
		return
	}
	e := t.sc.tmp
	if t.chunks > 1 {
		e = t.local[worker][:t.sc.n]
	}
	t.sc.runChannels(c0, c1, e)
}

// fast reports whether the vector path applies: Mamba-1, N = 16, B and C
// per step.
func (sc *scan) fast() bool { return sc.heads == 0 && sc.n == 16 && !sc.constBC }

// runFast computes channels [c0, c1) with the vector primitives, for
// each batch in three passes over those channels of every step:
//
//	y[t, c]  = softplus(delta[t, c] + delta_bias[c])        (dt, kept in y)
//	scan16:    h, y[t, c] = the recurrence, y = sum_n h·C    (per group)
//	y[t, c]  = (y[t, c] + D[c]·u[t, c]) · silu(z[t, c])
func (sc *scan) runFast(c0, c1 int) {
	dm, l, g := sc.dm, sc.l, sc.groups
	perGroup := dm / g
	for b := 0; b < sc.bt; b++ {
		for t := 0; t < l; t++ {
			o := (b*l + t) * dm
			yr, dr := sc.y[o+c0:o+c1], sc.delta[o+c0:o+c1]
			switch {
			case sc.softplus && sc.bias != nil:
				simd.addSoftplus(yr, dr, sc.bias[c0:c1])
			case sc.softplus:
				simd.softplus(yr, dr)
			case sc.bias != nil:
				bias := sc.bias[c0:c1]
				for i, x := range dr {
					yr[i] = x + bias[i]
				}
			default:
				copy(yr, dr)
			}
		}
		base := b * l * dm
		for c := c0; c < c1; {
			grp := c / perGroup
			e := min(c1, (grp+1)*perGroup)
			bo := (b*l*g + grp) * 16
			simd.scan16(sc.h0[(b*dm+c)*16:], sc.h[(b*dm+c)*16:], sc.a[c*16:], e-c, l, sc.y[base+c:], sc.u[base+c:], dm,
				sc.b[bo:], sc.c[bo:], g*16)
			c = e
		}
		for t := 0; t < l; t++ {
			o := (b*l + t) * dm
			yr, ur := sc.y[o+c0:o+c1], sc.u[o+c0:o+c1]
			switch {
			case sc.d != nil && sc.z != nil:
				simd.gate(yr, ur, sc.d[c0:c1], sc.z[o+c0:o+c1])
			case sc.d != nil:
				d := sc.d[c0:c1]
				for i, uu := range ur {
					yr[i] += d[i] * uu
				}
			case sc.z != nil:
				z := sc.z[o+c0 : o+c1]
				for i := range yr {
					yr[i] *= silu32(z[i])
				}
			}
		}
	}
}

// runChannels is the scalar loop of run over channels [c0, c1); e holds
// n floats of scratch.
func (sc *scan) runChannels(c0, c1 int, e []float32) {
	dm, n, l := sc.dm, sc.n, sc.l
	perHead := 1
	if sc.heads > 0 {
		perHead = dm / sc.heads
	}
	perGroup := dm / sc.groups
	dPerChan := sc.d != nil && len(sc.d) == dm
	e = e[:n]
	for b := 0; b < sc.bt; b++ {
		hb := sc.h[b*dm*n : (b+1)*dm*n]
		for t := 0; t < l; t++ {
			row := b*l + t
			dRow := sc.delta[row*sc.dc : (row+1)*sc.dc]
			uRow := sc.u[row*dm : (row+1)*dm]
			yRow := sc.y[row*dm : (row+1)*dm]
			var dt, dA float32
			for d := c0; d < c1; d++ {
				dc := d
				if sc.heads > 0 {
					dc = d / perHead
				}
				if sc.heads == 0 || d%perHead == 0 || d == c0 {
					dt = dRow[dc]
					if sc.bias != nil {
						dt += sc.bias[dc]
					}
					if sc.softplus {
						dt = softplus32(dt)
					}
					if sc.heads > 0 {
						dA = exp32(dt * sc.a[dc])
					}
				}
				uu := uRow[d]
				bo := (row*sc.groups + d/perGroup) * n
				if sc.constBC {
					bo = d * n
				}
				bn, cn := sc.b[bo:bo+n], sc.c[bo:bo+n]
				hd := hb[d*n : d*n+n]
				dtu := dt * uu
				var acc float32
				if sc.heads == 0 {
					ad := sc.a[d*n : d*n+n]
					for i := range e {
						e[i] = dt * ad[i]
					}
					expInPlace(e)
					for i, hv := range hd {
						hv = e[i]*hv + dtu*bn[i]
						hd[i] = hv
						acc += hv * cn[i]
					}
				} else {
					for i, hv := range hd {
						hv = dA*hv + dtu*bn[i]
						hd[i] = hv
						acc += hv * cn[i]
					}
				}
				if sc.d != nil {
					if dPerChan {
						acc += sc.d[d] * uu
					} else {
						acc += sc.d[dc] * uu
					}
				}
				if sc.z != nil {
					acc *= silu32(sc.z[row*dm+d])
				}
				yRow[d] = acc
			}
		}
	}
}

// selectiveScanKernel computes SelectiveScan(u, delta, A, B, C, D?, z?,
// delta_bias?, h0?) -> (y, h_last): starting from h0 (zeros when absent),
// for b < Bt and t = 0..L-1 it runs the recurrence of scan.run, state in
// float32, and returns y and the final state.
func selectiveScanKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	var sc scan
	if err := sc.setup(s, v, in, out, true); err != nil {
		return err
	}
	sc.run()
	return nil
}

// stateUpdateKernel computes SelectiveStateUpdate(x, delta, A, B, C, D?,
// z?, delta_bias?, h) -> (y, h'): one step of the recurrence of scan.run
// with x [Bt, Dm], delta [Bt, Dm] or [Bt, H], B and C [Bt, N], [Bt, G, N]
// or [Dm, N]. The new state may share memory with h (decoding updates the
// state in place).
func stateUpdateKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	var sc scan
	if err := sc.setup(s, v, in, out, false); err != nil {
		return err
	}
	sc.run()
	return nil
}

package ref

import (
	"fmt"
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// scan holds the operands of a SelectiveScan or SelectiveStateUpdate as
// float64 arrays, with the dims that index them (see ir/ops_ssm.go):
//
//	u, z    [Bt, L, Dm]          (L = 1 for the state update)
//	delta   [Bt, L, Dc]          Dc = Dm (Mamba-1) or H (Mamba-2)
//	A       [Dm, N] or [H]
//	B, C    [Bt, L, G, N], or [Dm, N] when constBC
//	D       [Dm] or [H];  delta_bias [Dc]
//	h       [Bt, Dm, N]          (Mamba-2: head h owns channels h·P..h·P+P-1, P = Dm/H)
type scan struct {
	bt, l, dm, n, heads, groups int64
	constBC, softplus           bool
	u, delta, a, b, c           []float64
	d, z, bias                  []float64 // nil when absent
}

// newScan reads the operands of c, a SelectiveScan or SelectiveStateUpdate
// whose shapes prepare has checked with the op table (ir.ScanShapes), and
// checks once more every length the loops rely on.
func newScan(c *call) (*scan, error) {
	sd, err := ir.ScanShapes(c.at)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	s := &scan{bt: sd.Batch.Size(), l: sd.Len.Size(), dm: sd.Channels.Size(), n: sd.N,
		heads: sd.Heads, groups: sd.Groups, constBC: sd.ConstBC, softplus: c.at.BoolAttr("delta_softplus")}
	// The layout of B and C comes from the IR's types: with concrete shapes
	// a per-batch [Bt, N] and a constant [Dm, N] look alike when Bt = Dm.
	if declared, err := ir.ScanShapes(c.v); err == nil {
		s.constBC = declared.ConstBC
	}
	vals := func(i int) []float64 {
		if c.arg(i) == nil {
			return nil
		}
		return c.arg(i).Float64s()
	}
	s.u, s.delta, s.a, s.b, s.c = vals(0), vals(1), vals(2), vals(3), vals(4)
	s.d, s.z, s.bias = vals(5), vals(6), vals(7)
	if err := s.check(); err != nil {
		return nil, c.errorf("%v", err)
	}
	return s, nil
}

// dc is the size of delta's last dim (and of delta_bias).
func (s *scan) dc() int64 {
	if s.heads > 0 {
		return s.heads
	}
	return s.dm
}

// check verifies the dims and operand lengths that step indexes with.
func (s *scan) check() error {
	if s.bt < 0 || s.l < 0 || s.dm < 0 || s.n < 0 || s.groups < 1 || s.heads < 0 {
		return fmt.Errorf("bad scan dims Bt=%d L=%d Dm=%d N=%d G=%d H=%d", s.bt, s.l, s.dm, s.n, s.groups, s.heads)
	}
	perGroup := s.dm // channels (Mamba-1) or heads (Mamba-2) split among the groups
	if s.heads > 0 {
		if s.dm%s.heads != 0 {
			return fmt.Errorf("%d channels not divisible by %d heads", s.dm, s.heads)
		}
		perGroup = s.heads
	}
	if perGroup%s.groups != 0 {
		return fmt.Errorf("%d groups do not divide %d", s.groups, perGroup)
	}
	bc := s.bt * s.l * s.groups * s.n
	if s.constBC {
		bc = s.dm * s.n
	}
	a := s.dm * s.n
	if s.heads > 0 {
		a = s.heads
	}
	want := []struct {
		name string
		got  []float64
		n    int64
		opt  bool
	}{
		{"u", s.u, s.bt * s.l * s.dm, false}, {"delta", s.delta, s.bt * s.l * s.dc(), false},
		{"A", s.a, a, false}, {"B", s.b, bc, false}, {"C", s.c, bc, false},
		{"z", s.z, s.bt * s.l * s.dm, true}, {"delta_bias", s.bias, s.dc(), true},
	}
	for _, w := range want {
		if (w.got != nil || !w.opt) && int64(len(w.got)) != w.n {
			return fmt.Errorf("%s has %d elements, want %d", w.name, len(w.got), w.n)
		}
	}
	if s.d != nil && int64(len(s.d)) != s.dm && int64(len(s.d)) != s.dc() {
		return fmt.Errorf("D has %d elements, want %d or %d", len(s.d), s.dm, s.dc())
	}
	return nil
}

// step advances the state of batch b over time step t and returns y[b,t,:]
// in out. h is batch b's state [Dm, N], f32 values. For each channel d,
// with head = d / (Dm/H) and dc = d (Mamba-1) or head (Mamba-2):
//
//	dt = delta[b,t,dc] + delta_bias[dc];  dt = softplus(dt) if delta_softplus
//	g  = d / (Dm/G) (Mamba-1) or head / (H/G) (Mamba-2)
//	a_n = A[d,n] (Mamba-1) or A[head] (Mamba-2)
//	Bn, Cn = B[b,t,g,n], C[b,t,g,n]  (B[d,n], C[d,n] when constant)
//	for n: h[d,n] = f32(exp(dt·a_n)·h[d,n] + dt·Bn·u[b,t,d])
//	y = sum_n h[d,n]·Cn  (+ D[d or head]·u[b,t,d])  (· silu(z[b,t,d]))
//
// in float64, the state stored as f32 after the step and y read from the
// stored state.
func (s *scan) step(b, t int64, h, out []float64) {
	bt := b*s.l + t // row of (b, t) in the [Bt, L, ...] operands
	perHead := int64(1)
	if s.heads > 0 {
		perHead = s.dm / s.heads
	}
	for d := int64(0); d < s.dm; d++ {
		head := d / perHead
		dc, g := d, d/(s.dm/s.groups)
		if s.heads > 0 {
			dc, g = head, head/(s.heads/s.groups)
		}
		dt := s.delta[bt*s.dc()+dc]
		if s.bias != nil {
			dt += s.bias[dc]
		}
		if s.softplus {
			dt = softplus(dt)
		}
		u := s.u[bt*s.dm+d]
		bcOff := (bt*s.groups + g) * s.n
		if s.constBC {
			bcOff = d * s.n
		}
		y := 0.0
		for n := int64(0); n < s.n; n++ {
			a := 0.0
			if s.heads > 0 {
				a = s.a[head]
			} else {
				a = s.a[d*s.n+n]
			}
			hv := math.Exp(dt*a)*h[d*s.n+n] + dt*s.b[bcOff+n]*u
			hv = float64(float32(hv))
			h[d*s.n+n] = hv
			y += hv * s.c[bcOff+n]
		}
		if s.d != nil {
			if int64(len(s.d)) == s.dm {
				y += s.d[d] * u
			} else {
				y += s.d[head] * u
			}
		}
		if s.z != nil {
			y *= silu(s.z[bt*s.dm+d])
		}
		out[d] = y
	}
}

// evalScan computes SelectiveScan and SelectiveStateUpdate:
//
//	h = h0 (zeros when absent) or the state operand h
//	for b < Bt, t < L: y[b,t,:] = step(b, t, h[b])
//	return (y rounded to u's dtype, h as f32)
//
// A state update is the scan with L = 1, so a scan over L steps equals L
// successive state updates bit for bit.
func evalScan(c *call) ([]*ir.Tensor, error) {
	s, err := newScan(c)
	if err != nil {
		return nil, err
	}
	hn := s.bt * s.dm * s.n
	h := make([]float64, hn)
	if h0 := c.arg(8); h0 != nil {
		h = h0.Float64s()
		if int64(len(h)) != hn {
			return nil, c.errorf("state has %d elements, want %d", len(h), hn)
		}
	}
	y := make([]float64, s.bt*s.l*s.dm)
	for b := int64(0); b < s.bt; b++ {
		hb := h[b*s.dm*s.n : (b+1)*s.dm*s.n]
		for t := int64(0); t < s.l; t++ {
			row := (b*s.l + t) * s.dm
			s.step(b, t, hb, y[row:row+s.dm])
		}
	}
	return []*ir.Tensor{
		floatTensor(c.out[0].DType, c.outShape(0), y),
		floatTensor(c.out[1].DType, c.outShape(1), h),
	}, nil
}

package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// scanCase describes one SelectiveScan configuration.
type scanCase struct {
	name               string
	bt, l, dm, n       int
	heads              int  // 0: Mamba-1
	groups             int  // 0: B/C [Bt,L,N]; else [Bt,L,G,N]
	constBC            bool // B/C [Dm,N] (Mamba-1 only)
	withD, dPerChannel bool // D [Dm] rather than [H] (Mamba-2)
	withZ, withBias    bool
	withH0, softplus   bool
	dtype              ir.DType // of u, delta, z, B, C
	tol                float64
}

// scanData holds a case's operands as float64 arrays (nil when absent).
type scanData struct {
	u, delta, a, b, c, d, z, bias, h0 []float64
}

// dc is the size of delta's channel dim.
func (sc scanCase) dc() int {
	if sc.heads > 0 {
		return sc.heads
	}
	return sc.dm
}

// g is the number of B/C groups.
func (sc scanCase) g() int { return max(sc.groups, 1) }

func (sc scanCase) data(r *rand.Rand) scanData {
	var s scanData
	n := func(k int) int64 { return int64(k) }
	s.u = randVals(r, n(sc.bt*sc.l*sc.dm), -1, 1)
	if sc.softplus {
		s.delta = randVals(r, n(sc.bt*sc.l*sc.dc()), -3, 1)
	} else {
		s.delta = randVals(r, n(sc.bt*sc.l*sc.dc()), 0.01, 0.5)
	}
	if sc.heads > 0 {
		s.a = randVals(r, n(sc.heads), -2, -0.1)
	} else {
		s.a = randVals(r, n(sc.dm*sc.n), -2, -0.1)
	}
	bc := sc.bt * sc.l * sc.g() * sc.n
	if sc.constBC {
		bc = sc.dm * sc.n
	}
	s.b, s.c = randVals(r, n(bc), -1, 1), randVals(r, n(bc), -1, 1)
	if sc.withD {
		nd := sc.dc()
		if sc.dPerChannel {
			nd = sc.dm
		}
		s.d = randVals(r, n(nd), -1, 1)
	}
	if sc.withZ {
		s.z = randVals(r, n(sc.bt*sc.l*sc.dm), -2, 2)
	}
	if sc.withBias {
		s.bias = randVals(r, n(sc.dc()), -1, 1)
	}
	if sc.withH0 {
		s.h0 = randVals(r, n(sc.bt*sc.dm*sc.n), -1, 1)
	}
	return s
}

// naiveScan is an independent reference written from the formula in
// ir/ops_ssm.go, with the state kept in float64 (no per-step rounding).
func naiveScan(sc scanCase, s scanData) (y, h []float64) {
	bt, l, dm, n, g := sc.bt, sc.l, sc.dm, sc.n, sc.g()
	h = make([]float64, bt*dm*n)
	if s.h0 != nil {
		copy(h, s.h0)
	}
	y = make([]float64, bt*l*dm)
	for b := 0; b < bt; b++ {
		for t := 0; t < l; t++ {
			for d := 0; d < dm; d++ {
				ch := d // index into delta, delta_bias (and D unless per channel)
				grp := d / (dm / g)
				if sc.heads > 0 {
					head := d / (dm / sc.heads)
					ch, grp = head, head/(sc.heads/g)
				}
				dt := s.delta[(b*l+t)*sc.dc()+ch]
				if s.bias != nil {
					dt += s.bias[ch]
				}
				if sc.softplus {
					dt = math.Log(1 + math.Exp(dt))
				}
				u := s.u[(b*l+t)*dm+d]
				acc := 0.0
				for k := 0; k < n; k++ {
					a := 0.0
					if sc.heads > 0 {
						a = s.a[ch]
					} else {
						a = s.a[d*n+k]
					}
					var bv, cv float64
					if sc.constBC {
						bv, cv = s.b[d*n+k], s.c[d*n+k]
					} else {
						bv, cv = s.b[((b*l+t)*g+grp)*n+k], s.c[((b*l+t)*g+grp)*n+k]
					}
					hi := (b*dm+d)*n + k
					h[hi] = math.Exp(dt*a)*h[hi] + dt*bv*u
					acc += h[hi] * cv
				}
				if s.d != nil {
					if len(s.d) == dm {
						acc += s.d[d] * u
					} else {
						acc += s.d[ch] * u
					}
				}
				if s.z != nil {
					z := s.z[(b*l+t)*dm+d]
					acc *= z / (1 + math.Exp(-z))
				}
				y[(b*l+t)*dm+d] = acc
			}
		}
	}
	return y, h
}

// operands returns the tensors of a scan over steps t0..t0+l-1 (or, when
// update, of the single state update at step t0), and their shapes follow
// the case's layout.
func (sc scanCase) operands(s scanData, t0, l int, update bool, h []float64) []*ir.Tensor {
	bt, dm, n, g := sc.bt, sc.dm, sc.n, sc.g()
	// steps cuts [Bt, L, inner] data to steps t0..t0+l-1.
	steps := func(v []float64, inner int) []float64 {
		var out []float64
		for b := 0; b < bt; b++ {
			out = append(out, v[(b*sc.l+t0)*inner:(b*sc.l+t0+l)*inner]...)
		}
		return out
	}
	lead := []int64{int64(bt), int64(l)}
	if update {
		lead = lead[:1]
	}
	with := func(dims ...int64) []int64 { return append(append([]int64{}, lead...), dims...) }
	dt := sc.dtype
	args := make([]*ir.Tensor, 9)
	args[0] = ten(dt, with(int64(dm)), steps(s.u, dm)...)
	args[1] = ten(dt, with(int64(sc.dc())), steps(s.delta, sc.dc())...)
	if sc.heads > 0 {
		args[2] = f32(shp(int64(sc.heads)), s.a...)
	} else {
		args[2] = f32(shp(int64(dm), int64(n)), s.a...)
	}
	switch {
	case sc.constBC:
		args[3], args[4] = ten(dt, shp(int64(dm), int64(n)), s.b...), ten(dt, shp(int64(dm), int64(n)), s.c...)
	case sc.groups == 0:
		args[3], args[4] = ten(dt, with(int64(n)), steps(s.b, n)...), ten(dt, with(int64(n)), steps(s.c, n)...)
	default:
		sh := with(int64(g), int64(n))
		args[3], args[4] = ten(dt, sh, steps(s.b, g*n)...), ten(dt, sh, steps(s.c, g*n)...)
	}
	if s.d != nil {
		args[5] = f32(shp(int64(len(s.d))), s.d...)
	}
	if s.z != nil {
		args[6] = ten(dt, with(int64(dm)), steps(s.z, dm)...)
	}
	if s.bias != nil {
		args[7] = f32(shp(int64(len(s.bias))), s.bias...)
	}
	if h != nil {
		args[8] = f32(shp(int64(bt), int64(dm), int64(n)), h...)
	}
	return args
}

func (sc scanCase) attrs() ir.Attrs {
	return ir.Attrs{"delta_softplus": sc.softplus, "heads": int64(sc.heads)}
}

var scanCases = []scanCase{
	{name: "mamba1 rank-3 B/C, all options", bt: 2, l: 5, dm: 4, n: 3, withD: true, withZ: true, withBias: true,
		withH0: true, softplus: true, dtype: ir.F32, tol: 1e-5},
	{name: "mamba1 1 group rank-4, no options", bt: 2, l: 4, dm: 4, n: 3, groups: 1, dtype: ir.F32, tol: 1e-5},
	{name: "mamba1 2 groups", bt: 2, l: 6, dm: 6, n: 2, groups: 2, withD: true, withZ: true, softplus: true,
		dtype: ir.F32, tol: 1e-5},
	{name: "mamba1 constant B/C", bt: 2, l: 5, dm: 3, n: 4, constBC: true, withD: true, withBias: true,
		withH0: true, softplus: true, dtype: ir.F32, tol: 1e-5},
	{name: "mamba2 4 heads 2 groups", bt: 2, l: 5, dm: 8, n: 3, heads: 4, groups: 2, withD: true, withZ: true,
		withBias: true, withH0: true, softplus: true, dtype: ir.F32, tol: 1e-5},
	{name: "mamba2 D per channel", bt: 1, l: 4, dm: 4, n: 2, heads: 2, withD: true, dPerChannel: true,
		withBias: true, dtype: ir.F64, tol: 1e-6},
	{name: "bf16 activations", bt: 2, l: 3, dm: 4, n: 3, groups: 2, withD: true, withZ: true, withBias: true,
		softplus: true, dtype: ir.BF16, tol: 2e-2},
	{name: "empty sequence", bt: 2, l: 0, dm: 4, n: 3, withH0: true, withD: true, dtype: ir.F32, tol: 0},
}

func TestSelectiveScan(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, sc := range scanCases {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.data(r)
			// Round the data to the operand dtypes first, so that the naive
			// loop sees the same inputs.
			args := sc.operands(s, 0, sc.l, false, s.h0)
			s = roundScanData(s, args)
			got := eval(t, ir.OpSelectiveScan, sc.attrs(), args...)
			wantY, wantH := naiveScan(sc, s)
			checkTensorClose(t, "y", got[0], sc.dtype, shp(int64(sc.bt), int64(sc.l), int64(sc.dm)), wantY, sc.tol)
			checkTensorClose(t, "h_last", got[1], ir.F32, shp(int64(sc.bt), int64(sc.dm), int64(sc.n)), wantH, max(sc.tol, 1e-6))
		})
	}
}

// roundScanData replaces s's arrays by the values the tensors hold.
func roundScanData(s scanData, args []*ir.Tensor) scanData {
	get := func(i int, old []float64) []float64 {
		if args[i] == nil {
			return old
		}
		return args[i].Float64s()
	}
	s.u, s.delta, s.a, s.b, s.c = get(0, s.u), get(1, s.delta), get(2, s.a), get(3, s.b), get(4, s.c)
	s.d, s.z, s.bias, s.h0 = get(5, s.d), get(6, s.z), get(7, s.bias), get(8, s.h0)
	return s
}

// TestScanEqualsStateUpdates checks that a scan over L steps gives the same
// y and h_last, bit for bit, as L successive SelectiveStateUpdate calls,
// and that a scan split in two chunks carrying h does too.
func TestScanEqualsStateUpdates(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sc := range scanCases {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.data(r)
			s = roundScanData(s, sc.operands(s, 0, sc.l, false, s.h0))
			scan := eval(t, ir.OpSelectiveScan, sc.attrs(), sc.operands(s, 0, sc.l, false, s.h0)...)
			y := scan[0].Float64s()
			h := s.h0
			if h == nil {
				h = make([]float64, sc.bt*sc.dm*sc.n)
			}
			for step := 0; step < sc.l; step++ {
				res := eval(t, ir.OpSelectiveStateUpdate, sc.attrs(), sc.operands(s, step, 1, true, h)...)
				if len(res) != 2 {
					t.Fatalf("update gave %d results", len(res))
				}
				yt := res[0].Float64s()
				for b := 0; b < sc.bt; b++ {
					for d := 0; d < sc.dm; d++ {
						want := y[(b*sc.l+step)*sc.dm+d]
						if got := yt[b*sc.dm+d]; got != want {
							t.Fatalf("step %d y[%d,%d] = %v, scan gives %v", step, b, d, got, want)
						}
					}
				}
				h = res[1].Float64s()
			}
			if fmt.Sprint(h) != fmt.Sprint(scan[1].Float64s()) {
				t.Errorf("state after %d updates differs from h_last", sc.l)
			}
			if sc.l < 2 {
				return
			}
			half := sc.l / 2
			first := eval(t, ir.OpSelectiveScan, sc.attrs(), sc.operands(s, 0, half, false, s.h0)...)
			second := eval(t, ir.OpSelectiveScan, sc.attrs(), sc.operands(s, half, sc.l-half, false, first[1].Float64s())...)
			if !second[1].Equal(scan[1]) {
				t.Errorf("chunked scan: h_last differs")
			}
			joined := eval(t, ir.OpConcat, ir.Attrs{"axis": int64(1)}, first[0], second[0])[0]
			if !joined.Equal(scan[0]) {
				t.Errorf("chunked scan: y differs")
			}
		})
	}
}

func BenchmarkSelectiveScan(b *testing.B) {
	sc := scanCase{bt: 1, l: 64, dm: 128, n: 16, withD: true, withZ: true, withBias: true, softplus: true, dtype: ir.F32}
	s := sc.data(rand.New(rand.NewPCG(1, 1)))
	args := sc.operands(s, 0, sc.l, false, nil)
	v, err := newValue(ir.OpSelectiveScan, sc.attrs(), args...)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := EvalOp(v, args); err != nil {
			b.Fatal(err)
		}
	}
}

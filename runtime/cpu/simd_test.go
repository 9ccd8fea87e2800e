package cpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// The vector primitives of every implementation this machine supports
// (pure Go, AVX2, AVX-512) against float64 references.

// randF32 returns n values uniform in [lo, hi).
func randF32(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

// ulpDiff is |got - want| in units of float32 spacing at want.
func ulpDiff(got float32, want float64) float64 {
	w := float32(want)
	ulp := math.Abs(float64(math.Nextafter32(w, float32(math.Inf(1)))) - float64(w))
	return math.Abs(float64(got)-want) / ulp
}

// TestExpAccuracy checks exp of every implementation against math.Exp:
// within 2.5 ulp over [-87, 88.7] (normal results; the assembly stays
// within 1 ulp, the pure-Go table method within 2.5), to the nearest
// subnormal below, and exactly at the special values.
func TestExpAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randF32(r, 20000, -87, 88.7)
	x = append(x, 0, 1, -1, 0.5, -0.5, 1e-8, -1e-8, 88.72, -87.33)
	tiny := randF32(r, 1000, -104, -87.4)
	for _, im := range impls {
		y := make([]float32, len(x))
		im.exp(y, x)
		worst := 0.0
		for i, a := range x {
			d := ulpDiff(y[i], math.Exp(float64(a)))
			if d > worst {
				worst = d
			}
			if d > 2.5 {
				t.Errorf("%s: exp(%v) = %v, want %v (%.1f ulp)", im.name, a, y[i], math.Exp(float64(a)), d)
				break
			}
		}
		t.Logf("%s: worst %.2f ulp over [-87, 88.7]", im.name, worst)
		yt := make([]float32, len(tiny))
		im.exp(yt, tiny)
		for i, a := range tiny {
			if d := math.Abs(float64(yt[i]) - math.Exp(float64(a))); d > 1.5e-45 {
				t.Errorf("%s: exp(%v) = %v, want %v", im.name, a, yt[i], math.Exp(float64(a)))
				break
			}
		}
		special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 89, -200, 1000, -1000}
		want := []float64{math.NaN(), math.Inf(1), 0, math.Inf(1), 0, math.Inf(1), 0}
		ys := make([]float32, len(special))
		im.exp(ys, special)
		for i, w := range want {
			if g := float64(ys[i]); !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
				t.Errorf("%s: exp(%v) = %v, want %v", im.name, special[i], g, w)
			}
		}
	}
}

// TestVectorMath checks silu, softplus, addSoftplus, gate, fma, scaleMul
// and dot of every implementation against float64 formulas, on lengths
// around the vector widths (the tails go through padded buffers), and
// that an element gets the same result whether it sits in a whole vector
// or in the tail.
func TestVectorMath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	silu := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	softplus := func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }
	for _, im := range impls {
		for _, n := range []int{1, 7, 8, 15, 16, 17, 33, 100} {
			x, b := randF32(r, n, -30, 30), randF32(r, n, -2, 2)
			u, d, z := randF32(r, n, -3, 3), randF32(r, n, -1, 1), randF32(r, n, -10, 10)
			y := make([]float32, n)
			check := func(op string, i int, got float32, want, tol float64) {
				t.Helper()
				if math.Abs(float64(got)-want) > tol*math.Abs(want)+1e-37 {
					t.Errorf("%s n=%d %s[%d] = %v, want %v", im.name, n, op, i, got, want)
				}
			}
			im.silu(y, x)
			for i := range y {
				check("silu", i, y[i], silu(float64(x[i])), 1e-6)
			}
			im.softplus(y, x)
			for i := range y {
				check("softplus", i, y[i], softplus(float64(x[i])), 1e-6)
			}
			im.addSoftplus(y, x, b)
			for i := range y {
				check("addSoftplus", i, y[i], softplus(float64(x[i]+b[i])), 1e-6)
			}
			y0 := randF32(r, n, -1, 1)
			copy(y, y0)
			im.gate(y, u, d, z)
			for i := range y {
				want := (float64(y0[i]) + float64(d[i])*float64(u[i])) * silu(float64(z[i]))
				check("gate", i, y[i], want, 1e-5)
			}
			copy(y, y0)
			im.fma(y, u, d)
			for i := range y {
				check("fma", i, y[i], float64(y0[i])+float64(u[i])*float64(d[i]), 1e-6)
			}
			im.scaleMul(y, u, d, 0.75)
			for i := range y {
				check("scaleMul", i, y[i], float64(u[i])*0.75*float64(d[i]), 1e-6)
			}
			got, want, mag := float64(im.dot(u, d)), 0.0, 0.0
			for i := range u {
				want += float64(u[i]) * float64(d[i])
				mag += math.Abs(float64(u[i]) * float64(d[i]))
			}
			if math.Abs(got-want) > 1e-6*mag {
				t.Errorf("%s n=%d: dot = %v, want %v", im.name, n, got, want)
			}
		}
		// Extreme and special arguments: no overflow to NaN, tiny results
		// stay tiny, NaN stays NaN.
		ext := []float32{-200, -100, -88, -50, -1e-30, 0, 1e-30, 50, 88, 100, 200, float32(math.NaN())}
		ys := make([]float32, len(ext))
		for _, f := range []struct {
			name string
			f    func(y, x []float32)
			ref  func(float64) float64
		}{{"silu", im.silu, silu}, {"softplus", im.softplus, softplus}} {
			f.f(ys, ext)
			for i, a := range ext {
				want, got := f.ref(float64(a)), float64(ys[i])
				if math.IsNaN(want) != math.IsNaN(got) || math.Abs(got-want) > 1e-6*math.Abs(want)+1e-37 {
					t.Errorf("%s: %s(%v) = %v, want %v", im.name, f.name, a, got, want)
				}
			}
		}
		// Same value in a whole vector and in the tail: same result.
		x := make([]float32, 21)
		for i := range x {
			x[i] = 0.37 * float32(i%5)
		}
		y := make([]float32, len(x))
		fma := func(y, x []float32) {
			for i := range y {
				y[i] = 0.1
			}
			im.fma(y, x, x)
		}
		scale := func(y, x []float32) { im.scaleMul(y, x, x, 1.37) }
		for _, f := range []func(y, x []float32){im.exp, im.silu, im.softplus, fma, scale} {
			f(y, x)
			for i := 16; i < len(x); i++ {
				if y[i] != y[i-5] {
					t.Errorf("%s: element %d (tail) = %v, element %d = %v for the same input", im.name, i, y[i], i-5, y[i-5])
				}
			}
		}
	}
}

// TestGEMV checks the gemv primitives of every implementation with f32,
// bf16 and f16 weights, m = 1..8 rows and lengths with and without a
// partial vector, against float64 dot products of the widened weights.
func TestGEMV(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, im := range impls {
		for _, k := range []int{0, 1, 5, 16, 23, 48, 130} {
			for m := 1; m <= 8; m++ {
				rows := 1 + (m*7+k)%11
				x := randF32(r, m*k, -1, 1)
				wf := randF32(r, rows*k, -1, 1)
				raw := make([]byte, 2*rows*k)
				for _, dt := range []string{"f32", "bf16", "f16"} {
					wv := make([]float64, rows*k) // the weights as the kernel reads them
					for i, a := range wf {
						switch dt {
						case "f32":
							wv[i] = float64(a)
						case "bf16":
							h := half.F32ToBF16(a)
							binary.LittleEndian.PutUint16(raw[2*i:], h)
							wv[i] = float64(half.BF16ToF32(h))
						default:
							h := half.F32ToF16(a)
							binary.LittleEndian.PutUint16(raw[2*i:], h)
							wv[i] = float64(half.F16ToF32(h))
						}
					}
					ldy := rows + 3
					y := make([]float32, m*ldy)
					for i := range y {
						y[i] = float32(math.NaN())
					}
					switch dt {
					case "f32":
						im.gemvF32(y, ldy, x, m, k, wf, rows)
					case "bf16":
						im.gemvBF16(y, ldy, x, m, k, raw, rows)
					default:
						im.gemvF16(y, ldy, x, m, k, raw, rows)
					}
					for i := 0; i < m; i++ {
						for j := 0; j < rows; j++ {
							want, mag := 0.0, 0.0
							for l := 0; l < k; l++ {
								p := float64(x[i*k+l]) * wv[j*k+l]
								want += p
								mag += math.Abs(p)
							}
							if g := float64(y[i*ldy+j]); !(math.Abs(g-want) <= 1e-6*mag) {
								t.Fatalf("%s %s k=%d m=%d: y[%d,%d] = %v, want %v", im.name, dt, k, m, i, j, g, want)
							}
						}
						for j := rows; j < ldy && i < m-1; j++ {
							if !math.IsNaN(float64(y[i*ldy+j])) {
								t.Fatalf("%s %s k=%d m=%d: wrote y[%d,%d] outside the rows", im.name, dt, k, m, i, j)
							}
						}
					}
				}
			}
		}
	}
}

// TestGEMMKernel checks every implementation's micro-kernel, overwriting
// and accumulating, against float64 sums.
func TestGEMMKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls {
		mr, nr := im.mr, im.nr
		for _, kc := range []int{1, 3, 4, 9, 64} {
			lda, ldc := kc+5, nr+7
			a := randF32(r, mr*lda, -1, 1)
			b := randF32(r, kc*nr, -1, 1)
			for _, acc := range []bool{false, true} {
				c0 := randF32(r, mr*ldc, -1, 1)
				c := append([]float32(nil), c0...)
				im.gemmKernel(kc, a, lda, b, c, ldc, acc)
				for i := 0; i < mr; i++ {
					for j := 0; j < ldc; j++ {
						got := float64(c[i*ldc+j])
						if j >= nr {
							if got != float64(c0[i*ldc+j]) {
								t.Fatalf("%s: wrote c[%d,%d] outside the tile", im.name, i, j)
							}
							continue
						}
						want := 0.0
						if acc {
							want = float64(c0[i*ldc+j])
						}
						for l := 0; l < kc; l++ {
							want += float64(a[i*lda+l]) * float64(b[l*nr+j])
						}
						if math.Abs(got-want) > 1e-5 {
							t.Fatalf("%s kc=%d acc=%v: c[%d,%d] = %v, want %v", im.name, kc, acc, i, j, got, want)
						}
					}
				}
			}
		}
	}
}

// TestPackRows8 checks every implementation's packRows8 with f32, bf16
// and f16 rows and column counts around the eight-column blocks, against
// the widened weights, and that it writes nothing outside the block.
func TestPackRows8(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls {
		for _, kb := range []int{1, 7, 8, 9, 16, 37} {
			const k, o, ldd = 50, 3, 11
			vals := randF32(r, 8*k+o, -2, 2)
			for _, dt := range []ir.DType{ir.F32, ir.BF16, ir.F16} {
				w := weight{dt: dt}
				wv := make([]float32, len(vals))
				switch dt {
				case ir.F32:
					w.f32 = vals
					copy(wv, vals)
				default:
					w.raw = make([]byte, 2*len(vals))
					for i, v := range vals {
						h := half.F32ToBF16(v)
						wv[i] = half.BF16ToF32(h)
						if dt == ir.F16 {
							h = half.F32ToF16(v)
							wv[i] = half.F16ToF32(h)
						}
						binary.LittleEndian.PutUint16(w.raw[2*i:], h)
					}
				}
				dst := make([]float32, kb*ldd+5)
				for i := range dst {
					dst[i] = -99
				}
				im.packRows8(dst, ldd, w, o, k, kb)
				for i, got := range dst {
					l, j := i/ldd, i%ldd
					want := float32(-99)
					if l < kb && j < 8 {
						want = wv[o+j*k+l]
					}
					if got != want {
						t.Fatalf("%s %v kb=%d: dst[%d] (l=%d, j=%d) = %v, want %v", im.name, dt, kb, i, l, j, got, want)
					}
				}
			}
		}
	}
}

// TestScan16 checks every implementation's scan16 against a float64
// recurrence, with strides as the scan kernel uses them, with the state
// updated in place and written to separate memory (the initial state then
// left as it was).
func TestScan16(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const nch, l, sy, sbc = 5, 9, 7, 20
	for _, im := range impls {
		for _, inPlace := range []bool{true, false} {
			h0 := randF32(r, 16*nch, -1, 1)
			a := randF32(r, 16*nch, -3, -0.1)
			dt := randF32(r, l*sy, 0.01, 0.5)
			u := randF32(r, l*sy, -1, 1)
			b, c := randF32(r, l*sbc, -1, 1), randF32(r, l*sbc, -1, 1)
			hIn, h, y := append([]float32(nil), h0...), make([]float32, len(h0)), append([]float32(nil), dt...)
			if inPlace {
				h = hIn
			}
			im.scan16(hIn, h, a, nch, l, y, u, sy, b, c, sbc)
			for ch := 0; ch < nch; ch++ {
				hs := make([]float64, 16)
				for n := range hs {
					hs[n] = float64(h0[16*ch+n])
				}
				for tt := 0; tt < l; tt++ {
					d := float64(dt[tt*sy+ch])
					want, mag := 0.0, 0.0
					for n := range hs {
						hs[n] = math.Exp(d*float64(a[16*ch+n]))*hs[n] + d*float64(u[tt*sy+ch])*float64(b[tt*sbc+n])
						p := hs[n] * float64(c[tt*sbc+n])
						want += p
						mag += math.Abs(p)
					}
					if g := float64(y[tt*sy+ch]); math.Abs(g-want) > 1e-5*mag+1e-7 {
						t.Fatalf("%s in place %v: y[%d, %d] = %v, want %v", im.name, inPlace, tt, ch, g, want)
					}
				}
				for n := range hs {
					if g := float64(h[16*ch+n]); math.Abs(g-hs[n]) > 1e-5*math.Abs(hs[n])+1e-6 {
						t.Fatalf("%s in place %v: h[%d, %d] = %v, want %v", im.name, inPlace, ch, n, g, hs[n])
					}
				}
			}
			if !inPlace {
				for i := range h0 {
					if hIn[i] != h0[i] {
						t.Fatalf("%s: the initial state was written at %d", im.name, i)
					}
				}
			}
		}
	}
}

// TestAVX2Registers checks that the AVX2 routines of the generated
// assembly use only X0-X15 / Y0-Y15: the upper sixteen need AVX-512.
func TestAVX2Registers(t *testing.T) {
	src, err := os.ReadFile("simd_amd64.s")
	if os.IsNotExist(err) {
		t.Skip("no assembly in this package")
	}
	if err != nil {
		t.Fatal(err)
	}
	high := regexp.MustCompile(`\b[XYZ](1[6-9]|2[0-9]|3[01])\b|\bZ[0-9]+\b|\bK[1-7]\b`)
	fn := ""
	funcs := 0
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "TEXT ") {
			fn = line
			if strings.Contains(fn, "AVX2(SB)") {
				funcs++
			}
			continue
		}
		if strings.Contains(fn, "AVX2(SB)") && high.MatchString(line) {
			t.Errorf("%s uses an AVX-512 register: %s", fn, strings.TrimSpace(line))
		}
	}
	if funcs == 0 {
		t.Error("no AVX2 routines found")
	}
}

// TestRoundBF16 checks every implementation's roundBF16 against
// half.F32ToBF16 bit for bit: ties to even both ways, values that round
// up to the next binade or to infinity, subnormals, signed zeros,
// infinities and NaNs of several payloads (which must stay NaN), at every
// position of a vector and in the remainder.
func TestRoundBF16(t *testing.T) {
	special := []uint32{0, 0x80000000, 0x3f808000, 0x3f818000, 0x3f80ffff, 0x3f7fffff, 0x7f7fffff, 0xff7fffff,
		0x7f800000, 0xff800000, 0x7f800001, 0x7fc00000, 0x7fffffff, 0xffffffff, 0xff800001, 0x00000001, 0x00008000,
		0x00018000, 0x807fffff, 0x3f800001, 0x47fff000}
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 0, 203)
	for len(x) < cap(x) {
		if len(x)%3 == 0 {
			x = append(x, math.Float32frombits(special[len(x)/3%len(special)]))
		} else {
			x = append(x, math.Float32frombits(r.Uint32()))
		}
	}
	for _, im := range impls {
		y := make([]float32, len(x))
		im.roundBF16(y, x)
		for i := range x {
			want := uint32(half.F32ToBF16(x[i])) << 16
			if got := math.Float32bits(y[i]); got != want {
				t.Errorf("%s: round(%#08x) = %#08x, want %#08x", im.name, math.Float32bits(x[i]), got, want)
			}
		}
		z := append([]float32(nil), x...)
		im.roundBF16(z, z) // in place
		for i := range z {
			if math.Float32bits(z[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s: in place differs at %d", im.name, i)
			}
		}
	}
}

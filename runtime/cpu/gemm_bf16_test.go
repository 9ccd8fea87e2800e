package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// bf16Operands returns x [m, k] (f32) and w [n, k] bf16, seeded.
func bf16Operands(r *rand.Rand, m, k, n int) ([]float32, weight) {
	x := make([]float32, m*k)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x, randomWeight(r, ir.BF16, n, k).asWeight()
}

func (t *Tensor) asWeight() weight { w, _ := weightOf(t); return w }

// TestGEMMBF16 compares the bf16 dot-product GEMM with a float64 sum of
// the products of x rounded to bf16 and w, rounded to bf16 at the end
// (MatMul{round = bf16}), over shapes that leave edge tiles in both
// directions, odd k (a half-filled last pair), k beyond one block, and a
// split into two parts. A sum may land on the other side of a bf16
// rounding boundary: one bf16 unit is allowed.
func TestGEMMBF16(t *testing.T) {
	if simd.gemmBF16 == nil {
		t.Skip("no bf16 dot products on this CPU (or -tags noasm)")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ m, k, n int }{
		{9, 16, 32}, {12, 64, 32}, {13, 33, 40}, {37, 300, 70}, {64, 768, 96}, {25, 1, 5}, {30, 513, 33},
	} {
		t.Run(fmt.Sprintf("m=%d,k=%d,n=%d", c.m, c.k, c.n), func(t *testing.T) {
			x, w := bf16Operands(r, c.m, c.k, c.n)
			y := make([]float32, c.m*c.n)
			for i := range y {
				y[i] = float32(math.NaN()) // every element must be written
			}
			// two parts: columns [0, n1) and [n1, n)
			n1 := c.n / 3
			y0, y1 := make([]float32, c.m*n1), make([]float32, c.m*(c.n-n1))
			for i := range y0 {
				y0[i] = float32(math.NaN()) // every element must be written
			}
			for i := range y1 {
				y1[i] = float32(math.NaN())
			}
			matmulNTBF16([]splitPart{{y: y0, n: n1}, {y: y1, off: n1, n: c.n - n1}}, x, c.m, c.k, w)
			matmulNTBF16([]splitPart{{y: y, n: c.n}}, x, c.m, c.k, w)
			wf := make([]float32, c.k)
			for i := 0; i < c.m; i++ {
				for j := 0; j < c.n; j++ {
					w.row(wf, j*c.k, c.k)
					want, mag := 0.0, 0.0
					for l := 0; l < c.k; l++ {
						p := float64(half.BF16ToF32(half.F32ToBF16(x[i*c.k+l]))) * float64(wf[l])
						want += p
						mag += math.Abs(p)
					}
					got := y[i*c.n+j]
					if float32(half.BF16ToF32(half.F32ToBF16(got))) != got {
						t.Fatalf("y[%d,%d] = %g is not a bf16 value", i, j, got)
					}
					if d := math.Abs(float64(got) - want); !(d <= math.Abs(want)/128+1e-6*mag+1e-30) {
						t.Fatalf("y[%d,%d] = %g, want %g (|products| %g)", i, j, got, want, mag)
					}
					split := float32(0)
					if j < n1 {
						split = y0[i*n1+j]
					} else {
						split = y1[i*(c.n-n1)+j-n1]
					}
					if split != got {
						t.Fatalf("split: y[%d,%d] = %g, unsplit %g", i, j, split, got)
					}
				}
			}
		})
	}
}

// BenchmarkGEMMBF16 is BenchmarkGEMM's prompt projection (x [512,768] ·
// Wᵀ, W [3072,768] bf16) through the bf16 dot-product GEMM, next to the
// f32 GEMM on the same bf16 weights: GFLOP/s.
func BenchmarkGEMMBF16(b *testing.B) {
	const m, k, n = 512, 768, 3072
	r := rand.New(rand.NewPCG(1, 2))
	x, w := bf16Operands(r, m, k, n)
	y := make([]float32, m*n)
	for _, path := range []string{"bf16dot", "f32fma"} {
		b.Run(path, func(b *testing.B) {
			if path == "bf16dot" && simd.gemmBF16 == nil {
				b.Skip("no bf16 dot products")
			}
			for b.Loop() {
				if path == "bf16dot" {
					matmulNTBF16([]splitPart{{y: y, n: n}}, x, m, k, w)
				} else {
					matmulNT(y, x, m, k, n, w)
				}
			}
			b.ReportMetric(2*m*k*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

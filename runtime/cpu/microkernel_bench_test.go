package cpu

import (
	"fmt"
	"testing"
)

// BenchmarkGEMMMicroKernel runs the micro-kernel alone on a tile that
// stays in the L1/L2 cache: the ceiling the blocked GEMM can reach on one
// core (GFLOP/s), to compare with BenchmarkGEMM.
func BenchmarkGEMMMicroKernel(b *testing.B) {
	for _, kc := range []int{64, 256} {
		b.Run(fmt.Sprintf("kc=%d", kc), func(b *testing.B) {
			forImpls(b, func(b *testing.B) {
				impl := simd
				if impl.gemmKernel == nil {
					b.Skip("no micro-kernel")
				}
				mr, nr := impl.mr, impl.nr
				a := make([]float32, mr*kc)
				p := make([]float32, kc*nr)
				c := make([]float32, mr*nr)
				for i := range a {
					a[i] = 1
				}
				for i := range p {
					p[i] = 0.5
				}
				b.ResetTimer()
				for b.Loop() {
					impl.gemmKernel(kc, a, kc, p, c, nr, false)
				}
				b.ReportMetric(float64(2*mr*nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

// BenchmarkGEMVCached runs the GEMV primitive for m rows of x on weights
// that stay in the L2 cache (64 rows × 768): its compute ceiling, to
// compare with BenchmarkGEMV, which streams the weights from memory.
func BenchmarkGEMVCached(b *testing.B) {
	const k, rows = 768, 64
	for _, m := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			forImpls(b, func(b *testing.B) {
				x := make([]float32, m*k)
				w := make([]float32, rows*k)
				y := make([]float32, m*rows)
				for b.Loop() {
					simd.gemvF32(y, rows, x, m, k, w, rows)
				}
				b.ReportMetric(float64(2*m*k*rows)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

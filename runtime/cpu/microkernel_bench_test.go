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

package ssmc

import (
	"context"
	"os"
	"testing"
)

// The model benchmarks run a compiled artifact named by SSMC_BENCH_MODEL
// (for example the 130m shape: see docs/benchmarks.md) and skip without
// it. They exist for profiling (-cpuprofile); ssmc bench is the tool that
// reports throughput.
func benchModel(b *testing.B) *Model {
	path := os.Getenv("SSMC_BENCH_MODEL")
	if path == "" {
		b.Skip("SSMC_BENCH_MODEL is not set")
	}
	m, err := LoadWith(path, LoadOptions{Backend: "cpu"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkModelDecode measures one greedy decode step at batch 1.
func BenchmarkModelDecode(b *testing.B) {
	m := benchModel(b)
	s, err := m.NewSession(SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Prefill(ctx, []int{1, 2, 3, 4}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Step(ctx, 5+i%50); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkModelPrefill512 measures a 512-token prefill at batch 1.
func BenchmarkModelPrefill512(b *testing.B) {
	m := benchModel(b)
	s, err := m.NewSession(SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	toks := make([]int, 512)
	for i := range toks {
		toks[i] = (i * 7919) % 50000
	}
	b.ResetTimer()
	for b.Loop() {
		s.Reset()
		if _, err := s.Prefill(ctx, toks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "tok/s")
}

package ssmc

import (
	"context"
	"os"
	"strconv"
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

// BenchmarkModelDecode measures one decode step of a batch of
// SSMC_BENCH_BATCH sequences (default 1).
func BenchmarkModelDecode(b *testing.B) {
	m := benchModel(b)
	batch, _ := strconv.Atoi(os.Getenv("SSMC_BENCH_BATCH"))
	batch = max(batch, 1)
	s, err := m.NewSession(SessionOptions{Batch: batch})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	toks := make([]int, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range toks {
			toks[j] = 5 + (i+j)%50
		}
		if _, err := s.StepBatch(ctx, toks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tok/s")
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

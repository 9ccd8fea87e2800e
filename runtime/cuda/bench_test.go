package cuda

import (
	"math/rand/v2"
	"testing"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/ir"
)

// The benchmarks need a GPU (see gpu_test.go); scripts/gpu-check.sh runs
// them.

// scanBenchIR is the selective scan of mamba-130m (d_inner 1536, N 16)
// with every operand, in f32.
const scanBenchIR = `
func @scan(%u: f32[B,L,1536], %delta: f32[B,L,1536], %b: f32[B,L,16], %c: f32[B,L,16], %z: f32[B,L,1536]) -> (f32[B,L,1536], f32[B,1536,16]) {
  %5 = Param() {name = "neg_A"} : f32[1536,16]
  %6 = Param() {name = "D"} : f32[1536]
  %7 = Param() {name = "dt_bias"} : f32[1536]
  %8 = SelectiveScan(%u, %delta, %5, %b, %c, %6, %z, %7) {delta_softplus = true} : (f32[B,L,1536], f32[B,1536,16])
  %9 = Extract(%8) {index = 0} : f32[B,L,1536]
  %10 = Extract(%8) {index = 1} : f32[B,1536,16]
  return %9, %10
}`

// BenchmarkScan130m measures the scan kernel on a batch of 4 sequences of
// 2048 steps and reports the memory traffic it achieves against the
// device's peak bandwidth: u, delta, z read and y written ([B, L, 1536]
// each), B and C read ([B, L, 16]), A read and the final state written.
func BenchmarkScan130m(b *testing.B) {
	dev := gpuForTest(b)
	const batch, length, dm, n = 4, 2048, 1536, 16
	m, err := ir.Parse("scan.ir", scanBenchIR)
	if err != nil {
		b.Fatal(err)
	}
	c := cudatest.Case{Name: "scan", Env: map[string]int64{"B": batch, "L": length}}
	weights, inputs, err := c.Data(m.Func("scan"))
	if err != nil {
		b.Fatal(err)
	}
	inst := benchInstance(b, dev, m, weights, "scan", c.Env)
	for i, x := range inputs {
		if err := inst.SetInput(i, x); err != nil {
			b.Fatal(err)
		}
	}
	bytes := float64(4 * (4*batch*length*dm + 2*batch*length*n + dm*n + batch*dm*n))
	for b.Loop() {
		if err := inst.Launch(); err != nil {
			b.Fatal(err)
		}
	}
	gbps := bytes * float64(b.N) / b.Elapsed().Seconds() / 1e9
	b.ReportMetric(gbps, "GB/s")
	b.ReportMetric(100*gbps*1e9/dev.PeakBandwidth, "%peak")
}

// benchInstance generates, loads and instantiates function fn of m.
func benchInstance(b *testing.B, dev *Device, m *ir.Module, weights map[string]*ir.Tensor, fn string, env map[string]int64) *Instance {
	b.Helper()
	gen, err := cudagen.Generate(m)
	if err != nil {
		b.Fatal(err)
	}
	prog, err := Load(dev, gen, weights)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { prog.Close() })
	inst, err := prog.Instantiate(fn, env)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inst.Close() })
	return inst
}

// mamba130mProgram loads a 24-layer Mamba-130m-shaped model with random
// weights.
func mamba130mProgram(b *testing.B, dev *Device) *Program {
	b.Helper()
	m, err := cudatest.Mamba130m(24)
	if err != nil {
		b.Fatal(err)
	}
	gen, err := cudagen.Generate(m)
	if err != nil {
		b.Fatal(err)
	}
	prog, err := Load(dev, gen, m.Weights)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { prog.Close() })
	return prog
}

// randomTokens returns n token ids below the 130m vocabulary.
func randomTokens(n int) []int64 {
	rng := rand.New(rand.NewPCG(7, 7))
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = rng.Int64N(50280)
	}
	return ids
}

// BenchmarkPrefill130m measures the prefill of one 2048-token prompt
// through 24 layers, in tokens/s (logits included, on the device).
func BenchmarkPrefill130m(b *testing.B) {
	dev := gpuForTest(b)
	const length = 2048
	prog := mamba130mProgram(b, dev)
	inst, err := prog.Instantiate("prefill", map[string]int64{"B": 1, "L": length})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	if err := inst.SetInput(0, ir.TensorFromInt64s(ir.I64, []int64{1, length}, randomTokens(length))); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := inst.Launch(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(length*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecode130m measures decoding one sequence token by token, the
// states on the device and the logits downloaded each step, in tokens/s.
func BenchmarkDecode130m(b *testing.B) {
	dev := gpuForTest(b)
	prog := mamba130mProgram(b, dev)
	dec, err := prog.NewDecoder(1)
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	ids := randomTokens(1024)
	i := 0
	for b.Loop() {
		if _, err := dec.Step(ids[i%len(ids) : i%len(ids)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// benchKernel builds op(args){attrs} on random operands (the case's
// generators) and returns a function calling its kernel, checking it runs.
func benchKernel(b *testing.B, c kcase) func() {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	f := ir.NewFunc("bench")
	vals := make([]*ir.Value, len(c.args))
	in := make([]*Tensor, len(c.args))
	for i, o := range c.args {
		if o == nil {
			continue
		}
		vals[i] = f.NewArg(fmt.Sprintf("a%d", i), ir.TensorType(o.dt, ir.Static(o.shape...)))
		t, err := FromIR(o.tensor(r))
		if err != nil {
			b.Fatal(err)
		}
		in[i] = t
	}
	v, err := f.Append(c.op, c.attrs, vals...)
	if err != nil {
		b.Fatal(err)
	}
	types := []ir.Type{v.Type}
	if v.Type.IsTuple() {
		types = v.Type.Elems
	}
	var out []*Tensor
	for _, t := range types {
		sizes := t.Shape.Sizes()
		shape := make([]int, len(sizes))
		n := 1
		for i, d := range sizes {
			shape[i] = int(d)
			n *= int(d)
		}
		out = append(out, &Tensor{DType: ir.F32, Shape: shape, F32: make([]float32, n)})
	}
	k, err := KernelFor(c.op)
	if err != nil {
		b.Fatal(err)
	}
	var s Scratch
	if err := k(&s, v, in, out); err != nil {
		b.Fatal(err)
	}
	return func() { _ = k(&s, v, in, out) }
}

// BenchmarkMatMulGEMV is one decoding projection, x [1,768] · Wᵀ with W
// [1536,768] (Mamba-130m's in_proj), with f32 and bf16 weights: weight
// bytes streamed per second and GFLOP/s.
func BenchmarkMatMulGEMV(b *testing.B) {
	const m, k, n = 1, 768, 1536
	for _, w := range []*opnd{f32s(n, k), bf16s(n, k), f16s(n, k)} {
		b.Run(w.dt.String(), func(b *testing.B) {
			run := benchKernel(b, kcase{op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true}, args: []*opnd{f32s(m, k), w}})
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(n*k*w.dt.Size())/sec/1e9, "GB/s")
			b.ReportMetric(2*m*k*n/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMatMulPrefill is the same projection over 64 rows (a prompt),
// where the four-row blocks reuse each weight row.
func BenchmarkMatMulPrefill(b *testing.B) {
	const m, k, n = 64, 768, 1536
	for _, w := range []*opnd{f32s(n, k), bf16s(n, k)} {
		b.Run(w.dt.String(), func(b *testing.B) {
			run := benchKernel(b, kcase{op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true}, args: []*opnd{f32s(m, k), w}})
			for b.Loop() {
				run()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*m*k*n/sec/1e9, "GFLOP/s")
		})
	}
}

// scanFlops counts the float operations of one state element per step:
// dt·A, exp, ·h, dt·u·B, +, ·C, + (exp counted as one).
const scanFlops = 7

// BenchmarkSelectiveScan is a Mamba-1 scan (B=1, L=128, D=1536, N=16) with
// D, z, delta_bias and softplus: GFLOP/s at scanFlops per state element
// and step, and nanoseconds per state element and step.
func BenchmarkSelectiveScan(b *testing.B) {
	const bt, l, dm, n = 1, 128, 1536, 16
	run := benchKernel(b, kcase{op: ir.OpSelectiveScan, attrs: ir.Attrs{"delta_softplus": true}, args: []*opnd{
		f32s(bt, l, dm), f32s(bt, l, dm).in(-4, 1), f32s(dm, n).negExp(), f32s(bt, l, n), f32s(bt, l, n),
		f32s(dm), f32s(bt, l, dm), f32s(dm)}})
	for b.Loop() {
		run()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	elems := float64(bt * l * dm * n)
	b.ReportMetric(scanFlops*elems/sec/1e9, "GFLOP/s")
	b.ReportMetric(sec*1e9/elems, "ns/elem")
}

// BenchmarkSelectiveStateUpdate is one decoding step of the same layer.
func BenchmarkSelectiveStateUpdate(b *testing.B) {
	const bt, dm, n = 1, 1536, 16
	run := benchKernel(b, kcase{op: ir.OpSelectiveStateUpdate, attrs: ir.Attrs{"delta_softplus": true}, args: []*opnd{
		f32s(bt, dm), f32s(bt, dm).in(-4, 1), f32s(dm, n).negExp(), f32s(bt, n), f32s(bt, n),
		f32s(dm), f32s(bt, dm), f32s(dm), f32s(bt, dm, n)}})
	for b.Loop() {
		run()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(scanFlops*bt*dm*n/sec/1e9, "GFLOP/s")
}

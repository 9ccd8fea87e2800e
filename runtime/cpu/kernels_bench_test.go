package cpu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// Kernel benchmarks. Each runs once per implementation of the vector
// primitives this machine supports (sub-benchmarks impl=go, impl=avx2,
// impl=avx512), so one run compares the assembly with the pure-Go
// fallback on the same machine at the same moment; scripts/bench-guard.sh
// checks that the assembly wins. Throughput is reported as GB/s of weight
// (or tensor) bytes and GFLOP/s. The shapes are Mamba-130m's (d_model
// 768, d_inner 1536, N 16, vocab 50280).

// forImpls runs f as a sub-benchmark per implementation, with simd set.
// The environment variable SSMC_BENCH_IMPL limits the implementations:
// "best" (the one in use) or a name (go, avx2, avx512).
func forImpls(b *testing.B, f func(b *testing.B)) {
	old := simd
	defer func() { simd = old }()
	only := os.Getenv("SSMC_BENCH_IMPL")
	for _, im := range impls {
		if only == "best" && im != old || only != "" && only != "best" && only != im.name {
			continue
		}
		b.Run("impl="+im.name, func(b *testing.B) {
			simd = im
			f(b)
		})
	}
}

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

// loop runs fn b.N times and reports rates: bytes (GB/s) and flops
// (GFLOP/s) per call; zero counts are not reported.
func loop(b *testing.B, fn func(), bytes, flops float64) {
	b.Helper()
	fn()
	b.ResetTimer()
	for b.Loop() {
		fn()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	if bytes > 0 {
		b.ReportMetric(bytes/sec/1e9, "GB/s")
	}
	if flops > 0 {
		b.ReportMetric(flops/sec/1e9, "GFLOP/s")
	}
}

// streamCopies is how many copies of a decode weight the GEMV
// benchmarks cycle through: 24 layers' worth, as decoding reads them,
// far more than the last-level cache, so the weights come from memory.
const streamCopies = 24

// BenchmarkGEMV is decoding's projection x [m,768] · Wᵀ with W
// [3072,768] (in_proj) for m = 1 and 8, with f32, bf16 and f16 weights,
// cycling through streamCopies weights so each call reads its weight
// from memory: weight GB/s (to compare with the memory bandwidth,
// BenchmarkReadBandwidth) and GFLOP/s.
func BenchmarkGEMV(b *testing.B) {
	const k, n = 768, 3072
	r := rand.New(rand.NewPCG(1, 2))
	for _, dt := range []ir.DType{ir.F32, ir.BF16, ir.F16} {
		ws := make([]*Tensor, streamCopies)
		for i := range ws {
			ws[i] = randomWeight(r, dt, n, k)
		}
		for _, m := range []int{1, 8} {
			b.Run(fmt.Sprintf("m=%d/%v", m, dt), func(b *testing.B) {
				f := ir.NewFunc("bench")
				xa := f.NewArg("x", ir.TensorType(ir.F32, ir.Static(int64(m), k)))
				wa := f.NewArg("w", ir.TensorType(dt, ir.Static(n, k)))
				v, err := f.Append(ir.OpMatMul, ir.Attrs{"transpose_b": true}, xa, wa)
				if err != nil {
					b.Fatal(err)
				}
				x := &Tensor{DType: ir.F32, Shape: []int{m, k}, F32: randF32(r, m*k, -1, 1)}
				y := &Tensor{DType: ir.F32, Shape: []int{m, n}, F32: make([]float32, m*n)}
				var s Scratch
				forImpls(b, func(b *testing.B) {
					i := 0
					in, out := []*Tensor{x, nil}, []*Tensor{y}
					loop(b, func() {
						in[1] = ws[i%len(ws)]
						i++
						if err := matmulKernel(&s, v, in, out); err != nil {
							b.Fatal(err)
						}
					}, float64(n*k*dt.Size()), float64(2*m*k*n))
				})
			})
		}
	}
}

// randomWeight is a [n, k] weight of dtype dt with values uniform in
// [-1, 1).
func randomWeight(r *rand.Rand, dt ir.DType, n, k int) *Tensor {
	w := &Tensor{DType: dt, Shape: []int{n, k}}
	vals := randF32(r, n*k, -1, 1)
	switch dt {
	case ir.F32:
		w.F32 = vals
	default:
		w.Raw = make([]byte, 2*n*k)
		for i, v := range vals {
			h := half.F32ToBF16(v)
			if dt == ir.F16 {
				h = half.F32ToF16(v)
			}
			w.Raw[2*i], w.Raw[2*i+1] = byte(h), byte(h>>8)
		}
	}
	return w
}

// BenchmarkGEMM is a prompt's projection x [512,768] · Wᵀ with W
// [3072,768] (in_proj over a 512-token prefill): GFLOP/s.
func BenchmarkGEMM(b *testing.B) {
	const m, k, n = 512, 768, 3072
	for _, dt := range []ir.DType{ir.F32, ir.BF16} {
		b.Run(dt.String(), func(b *testing.B) {
			run := benchKernel(b, kcase{op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true},
				args: []*opnd{f32s(m, k), {dt: dt, shape: []int64{n, k}}}})
			forImpls(b, func(b *testing.B) { loop(b, run, 0, 2*m*k*n) })
		})
	}
}

// scanFlops counts the float operations of one state element per step:
// dt·A, exp, ·h, dt·u·B, +, ·C, + (exp counted as one).
const scanFlops = 7

// BenchmarkSelectiveScan is a Mamba-1 scan (B=1, L=512, D=1536, N=16)
// with D, z, delta_bias and softplus: GFLOP/s at scanFlops per state
// element and step.
func BenchmarkSelectiveScan(b *testing.B) {
	const bt, l, dm, n = 1, 512, 1536, 16
	run := benchKernel(b, kcase{op: ir.OpSelectiveScan, attrs: ir.Attrs{"delta_softplus": true}, args: []*opnd{
		f32s(bt, l, dm), f32s(bt, l, dm).in(-4, 1), f32s(dm, n).negExp(), f32s(bt, l, n), f32s(bt, l, n),
		f32s(dm), f32s(bt, l, dm), f32s(dm)}})
	forImpls(b, func(b *testing.B) { loop(b, run, 0, scanFlops*bt*l*dm*n) })
}

// BenchmarkSelectiveStateUpdate is one decoding step of the same layer:
// GFLOP/s, and GB/s of state read and written.
func BenchmarkSelectiveStateUpdate(b *testing.B) {
	const bt, dm, n = 1, 1536, 16
	run := benchKernel(b, kcase{op: ir.OpSelectiveStateUpdate, attrs: ir.Attrs{"delta_softplus": true}, args: []*opnd{
		f32s(bt, dm), f32s(bt, dm).in(-4, 1), f32s(dm, n).negExp(), f32s(bt, n), f32s(bt, n),
		f32s(dm), f32s(bt, dm), f32s(dm), f32s(bt, dm, n)}})
	forImpls(b, func(b *testing.B) { loop(b, run, 2*4*bt*dm*n, scanFlops*bt*dm*n) })
}

// BenchmarkCausalConv1d is the layer's convolution (K=4, SiLU) over a
// 512-token prompt: GB/s of input and output.
func BenchmarkCausalConv1d(b *testing.B) {
	const bt, l, dm, k = 1, 512, 1536, 4
	run := benchKernel(b, kcase{op: ir.OpCausalConv1d, attrs: ir.Attrs{"activation": "silu"}, args: []*opnd{
		f32s(bt, l, dm), f32s(dm, k), f32s(dm), f32s(bt, dm, k-1)}})
	forImpls(b, func(b *testing.B) { loop(b, run, 2*4*bt*l*dm, 2*k*bt*l*dm) })
}

// BenchmarkRMSNorm normalizes a 512-token prompt's residual stream
// [512,768]: GB/s of input and output.
func BenchmarkRMSNorm(b *testing.B) {
	const rows, n = 512, 768
	run := benchKernel(b, kcase{op: ir.OpRMSNorm, attrs: ir.Attrs{"eps": 1e-5}, args: []*opnd{f32s(rows, n), f32s(n)}})
	forImpls(b, func(b *testing.B) { loop(b, run, 2*4*rows*n, 4*rows*n) })
}

// BenchmarkVectorMath runs the elementwise primitives on 1536×16 floats
// (one layer's exp(dt·A) of a decoding step): GB/s read and written.
func BenchmarkVectorMath(b *testing.B) {
	const n = 1536 * 16
	x := randF32(rand.New(rand.NewPCG(1, 1)), n, -5, 5)
	y := make([]float32, n)
	for _, op := range []string{"exp", "silu", "softplus"} {
		b.Run(op, func(b *testing.B) {
			forImpls(b, func(b *testing.B) {
				f := map[string]func(y, x []float32){"exp": simd.exp, "silu": simd.silu, "softplus": simd.softplus}[op]
				loop(b, func() { f(y, x) }, 8*n, 0)
			})
		})
	}
}

// BenchmarkReadBandwidth reads 24 in_proj weights' worth of f32 (226 MB)
// through the dot primitive: the memory bandwidth the GEMV benchmarks are
// bound by, measured in the same run.
func BenchmarkReadBandwidth(b *testing.B) {
	const n = streamCopies * 3072 * 768
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	forImpls(b, func(b *testing.B) {
		t := &bwTask{x: x, chunks: 2 * workers()}
		loop(b, func() { parallel(t, t.chunks) }, 4*n, 0)
	})
}

// bwTask reads chunkRange(chunk) of x.
type bwTask struct {
	x      []float32
	chunks int
	sink   [64]float32
}

func (t *bwTask) run(w, chunk int) {
	lo, hi := chunkRange(chunk, t.chunks, len(t.x), 1024)
	t.sink[w] += simd.dot(t.x[lo:hi], t.x[lo:hi])
}

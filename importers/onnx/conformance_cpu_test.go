package onnx

import (
	"context"
	"fmt"
	"math"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

// cpuOutcome is what running a conformance case on the CPU backend gave.
type cpuOutcome int

const (
	cpuNotRun cpuOutcome = iota // a dtype the CPU backend computes in another precision, or no kernel
	cpuAgrees
	cpuDiffers
)

// runOnCPU runs f on the CPU backend with the data set's inputs and
// compares with the reference interpreter's results: the conformance
// suite then checks the CPU kernels too (f32 within 1e-4 relative with an
// absolute allowance of 1e-5 scaled by the largest value, integers and
// bools exactly). Cases whose arguments or results are not f32, i64, i32
// or bool (f64 and f16 compute in f32 there) are not run.
func runOnCPU(f *ir.Func, weights map[string]*ir.Tensor, ins, want []*ir.Tensor) (cpuOutcome, error) {
	runtimeOK := func(dt ir.DType) bool { return dt == ir.F32 || dt == ir.I64 || dt == ir.I32 || dt == ir.Bool }
	for _, a := range f.Args {
		if !runtimeOK(a.Type.DType) {
			return cpuNotRun, nil
		}
	}
	for _, r := range f.Results {
		if !runtimeOK(r.Type.DType) {
			return cpuNotRun, nil
		}
	}
	for _, v := range f.Body {
		if v.Op == ir.OpParam || v.Op == ir.OpConst || v.Op == ir.OpExtract || v.Op == ir.OpLinearScan {
			continue
		}
		if _, err := cpu.KernelFor(v.Op); err != nil {
			return cpuNotRun, nil
		}
	}
	prog, err := cpu.Compile(f, weights)
	if err != nil {
		return cpuDiffers, fmt.Errorf("cpu compile: %v", err)
	}
	env := map[string]int64{}
	for i, a := range f.Args {
		for d, dim := range a.Type.Shape {
			if dim.S != "" && dim.K == 1 && dim.Off == 0 && d < len(ins[i].Shape) {
				env[dim.S] = ins[i].Shape[d]
			}
		}
	}
	inst, err := prog.Instantiate(env)
	if err != nil {
		return cpuNotRun, nil // a symbol only a product binds: not worth solving here
	}
	var in []*cpu.Tensor
	for _, x := range ins[:len(f.Args)] {
		t, err := cpu.FromIR(x)
		if err != nil {
			return cpuNotRun, nil
		}
		in = append(in, t)
	}
	got, err := inst.Run(context.Background(), in, nil)
	if err != nil {
		return cpuDiffers, fmt.Errorf("cpu run: %v", err)
	}
	for k, w := range want {
		g := cpu.ToIR(got[k], w.DType)
		if w.DType.IsFloat() {
			wv, gv := w.Float64s(), g.Float64s()
			scale := 0.0
			for _, x := range wv {
				if !math.IsInf(x, 0) && !math.IsNaN(x) {
					scale = math.Max(scale, math.Abs(x))
				}
			}
			for i := range wv {
				if math.IsNaN(wv[i]) && math.IsNaN(gv[i]) || wv[i] == gv[i] {
					continue
				}
				if math.Abs(gv[i]-wv[i]) > 1e-4*math.Abs(wv[i])+1e-5*math.Max(scale, 1) {
					return cpuDiffers, fmt.Errorf("cpu output %d element %d: %g, reference %g", k, i, gv[i], wv[i])
				}
			}
			continue
		}
		if !g.Equal(w) {
			return cpuDiffers, fmt.Errorf("cpu output %d: %v, reference %v", k, g.Int64s(), w.Int64s())
		}
	}
	return cpuAgrees, nil
}

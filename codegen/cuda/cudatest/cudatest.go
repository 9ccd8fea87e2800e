// Package cudatest holds the conformance cases of the CUDA kernels and
// what running them needs: random inputs and weights, the oracles
// (runtime/ref, and the CPU backend for f32 functions) and the error
// measure. The emulation tests of codegen/cuda run the cases on the CPU;
// the GPU tests of runtime/cuda run the same cases on a device.
package cudatest

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// Case is one function to run through the generated kernels.
//
// Inputs and weights are random, by name: names starting with "neg" get
// values in [-2, -0.1] (the scan's A), "pos" values in [0.1, 2], "wide"
// values of either sign with magnitudes from 2^-30 to 2^17 (the subnormal
// and overflow ranges of f16), integer tensors indices in [-Rows, Rows),
// everything else values in [-1.5, 1.5].
type Case struct {
	Name string
	Func string           // the function, in the IR text format, named @Name
	Env  map[string]int64 // sizes of its symbols
	Rows int64            // index range of integer inputs
	// Exact cases must match the reference bit for bit (conversions).
	Exact bool
}

// Tolerance is the largest relative error (RelDiff) allowed per result
// dtype: f32 results within 1e-5 of the float64 reference, bf16 and f16
// within 1e-2, indices exact.
var Tolerance = map[ir.DType]float64{ir.F32: 1e-5, ir.BF16: 1e-2, ir.F16: 1e-2, ir.I64: 0}

// Module parses every case into one module (one translation unit).
func Module() (*ir.Module, error) {
	var src strings.Builder
	for _, c := range Cases {
		src.WriteString(c.Func)
		src.WriteString("\n")
	}
	return ir.Parse("cudatest.ir", src.String())
}

// Data returns random weights (for every Param of f) and inputs (for its
// arguments, with the case's sizes), the same on every call.
func (c Case) Data(f *ir.Func) (map[string]*ir.Tensor, []*ir.Tensor, error) {
	h := fnv.New64a()
	h.Write([]byte(c.Name))
	rng := rand.New(rand.NewPCG(1, h.Sum64()))
	weights := map[string]*ir.Tensor{}
	for _, v := range f.Body {
		if v.Op != ir.OpParam {
			continue
		}
		name := v.Attrs.String("name", "")
		shape := v.Type.Shape.Sizes()
		weights[name] = ir.TensorFromFloat64s(v.Type.DType, shape, c.values(name, v.Type.DType, count(shape), rng))
	}
	var inputs []*ir.Tensor
	for _, a := range f.Args {
		shape, err := ir.EvalShape(a.Type.Shape, c.Env)
		if err != nil {
			return nil, nil, fmt.Errorf("argument %s: %v", a.Name, err)
		}
		inputs = append(inputs, ir.TensorFromFloat64s(a.Type.DType, shape, c.values(a.Name, a.Type.DType, count(shape), rng)))
	}
	return weights, inputs, nil
}

func count(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// values returns n random values for a tensor named name.
func (c Case) values(name string, dt ir.DType, n int64, rng *rand.Rand) []float64 {
	vals := make([]float64, n)
	for i := range vals {
		switch {
		case dt.IsInt():
			vals[i] = float64(rng.Int64N(2*c.Rows) - c.Rows)
		case strings.HasPrefix(name, "neg"):
			vals[i] = -0.1 - 1.9*rng.Float64()
		case strings.HasPrefix(name, "pos"):
			vals[i] = 0.1 + 1.9*rng.Float64()
		case strings.HasPrefix(name, "wide"):
			vals[i] = math.Ldexp(1+rng.Float64(), rng.IntN(48)-30)
			if rng.IntN(2) == 0 {
				vals[i] = -vals[i]
			}
		default:
			vals[i] = 3*rng.Float64() - 1.5
		}
	}
	return vals
}

// Reference runs f on runtime/ref.
func Reference(f *ir.Func, weights map[string]*ir.Tensor, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	return ref.Run(f, weights, inputs)
}

// CPU runs f on the CPU backend when every float of f is f32 (ok false
// otherwise), with the results converted back to IR tensors.
func CPU(f *ir.Func, weights map[string]*ir.Tensor, inputs []*ir.Tensor) (res []*ir.Tensor, ok bool, err error) {
	for _, v := range f.Values() {
		types := []ir.Type{v.Type}
		if v.Type.IsTuple() {
			types = v.Type.Elems
		}
		for _, t := range types {
			if t.DType.IsFloat() && t.DType != ir.F32 {
				return nil, false, nil
			}
		}
	}
	prog, err := cpu.Compile(f, weights)
	if err != nil {
		return nil, true, err
	}
	env := map[string]int64{}
	in := make([]*cpu.Tensor, len(inputs))
	for i, a := range f.Args {
		if err := ir.BindShape(a.Type.Shape, inputs[i].Shape, env); err != nil {
			return nil, true, err
		}
		if in[i], err = cpu.FromIR(inputs[i]); err != nil {
			return nil, true, err
		}
	}
	inst, err := prog.Instantiate(env)
	if err != nil {
		return nil, true, err
	}
	out, err := inst.Run(context.Background(), in, nil)
	if err != nil {
		return nil, true, err
	}
	for i, r := range out {
		res = append(res, cpu.ToIR(r, f.Results[i].Type.DType))
	}
	return res, true, nil
}

// RelDiff is max|got - want| over max|want| (1 when want is all zeros and
// got is not): the error relative to the tensor's scale, which does not
// blow up where single elements cancel to near zero. NaN in got where want
// is a number counts as an infinite error.
func RelDiff(got, want *ir.Tensor) (float64, error) {
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return 0, fmt.Errorf("got %v%v, want %v%v", got.DType, got.Shape, want.DType, want.Shape)
	}
	g, w := got.Float64s(), want.Float64s()
	scale, diff := 0.0, 0.0
	for i := range w {
		if !math.IsNaN(w[i]) {
			scale = math.Max(scale, math.Abs(w[i]))
		}
		d := math.Abs(g[i] - w[i])
		switch {
		case math.IsNaN(w[i]) && math.IsNaN(g[i]), g[i] == w[i]:
			d = 0
		case math.IsNaN(d):
			d = math.Inf(1)
		}
		diff = math.Max(diff, d)
	}
	if scale == 0 {
		if diff == 0 {
			return 0, nil
		}
		return 1, nil
	}
	return diff / scale, nil
}

// Compare is the package's Compare, plus, for an Exact case, an error
// for every result that differs from the oracle's in any bit.
func (c Case) Compare(got, want []*ir.Tensor) ([]float64, error) {
	diffs, err := Compare(got, want)
	if err != nil || !c.Exact {
		return diffs, err
	}
	for i := range got {
		if string(got[i].Data) != string(want[i].Data) {
			return diffs, fmt.Errorf("result %d (%v%v) is not bit for bit the oracle's", i, got[i].DType, got[i].Shape)
		}
	}
	return diffs, nil
}

// Compare measures each result against the oracle's and returns the
// relative differences, with an error naming every result beyond its
// Tolerance.
func Compare(got, want []*ir.Tensor) ([]float64, error) {
	if len(got) != len(want) {
		return nil, fmt.Errorf("%d results, want %d", len(got), len(want))
	}
	diffs := make([]float64, len(got))
	var bad []string
	for i := range got {
		d, err := RelDiff(got[i], want[i])
		if err != nil {
			bad = append(bad, fmt.Sprintf("result %d: %v", i, err))
			continue
		}
		diffs[i] = d
		if tol := Tolerance[got[i].DType]; d > tol {
			bad = append(bad, fmt.Sprintf("result %d (%v%v) differs by %.3g relative, tolerance %.g", i, got[i].DType, got[i].Shape, d, tol))
		}
	}
	if bad != nil {
		return diffs, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return diffs, nil
}

package cli

import (
	_ "embed"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"math/rand"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// demoModel is the placeholder model `ssmc demo` runs until the checkpoint
// importer lands (see the comment at its top).
//
//go:embed demo/model.ir
var demoModel string

// demoTolerance is how far (relative to max(1, |x|)) the optimized
// program's results may drift from the unoptimized one's.
const demoTolerance = 1e-4

var demoCmd = &command{
	name:  "demo",
	args:  "[-seed=N]",
	short: "compile and run the built-in demo model",
	long: `
Demo shows the whole path on a small model, offline: it parses and verifies
the model, runs the pass pipeline and prints its report, then runs the
optimized program with the reference interpreter on random weights and
inputs (drawn from -seed) and prints the output shapes, their sums, a
checksum and the time taken. It also runs the unoptimized program and fails
if the two disagree.

For now the model is a built-in placeholder, a 2-layer Mamba-style network
with random weights; once the checkpoint importer lands, demo will run a
real checkpoint.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		seed := fs.Int64("seed", 1, "seed for the random weights and inputs")
		return func(c *ctx, args []string) error {
			if len(args) > 0 {
				return usagef("demo takes no arguments")
			}
			return runDemo(c.stdout, *seed)
		}
	},
}

// demoResult is what one demo run computed.
type demoResult struct {
	outputs  []*ir.Tensor
	checksum uint64
	maxDiff  float64
}

// runDemo compiles and runs the demo model, writing its story to w.
func runDemo(w io.Writer, seed int64) error {
	fmt.Fprint(w, `ssmc demo: the placeholder model
  This is a built-in 2-layer Mamba-style model with random weights, standing
  in until the checkpoint importer lands; demo will then run a real checkpoint.

`)
	res, err := demo(w, seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "checksum: %016x (FNV-1a of the output bytes, seed %d)\n", res.checksum, seed)
	fmt.Fprintf(w, "check: the optimized program matches the unoptimized one (max |diff| = %.3g)\n", res.maxDiff)
	return nil
}

// demo does the work of runDemo and returns the results.
func demo(w io.Writer, seed int64) (*demoResult, error) {
	orig, err := ir.Parse("demo/model.ir", demoModel)
	if err != nil {
		return nil, fmt.Errorf("internal error: the demo model does not parse: %w", err)
	}
	f0 := orig.Funcs[0]
	rng := rand.New(rand.NewSource(seed))
	weights, nparams := demoWeights(rng, f0)
	orig.Weights = weights
	if err := ir.Verify(orig); err != nil {
		return nil, fmt.Errorf("internal error: the demo model does not verify: %w", err)
	}
	opt := &ir.Module{Funcs: []*ir.Func{f0.Clone()}, Weights: maps.Clone(weights)}
	var sig []string
	for _, a := range f0.Args {
		sig = append(sig, fmt.Sprintf("%v: %v", a, a.Type))
	}
	fmt.Fprintf(w, "model: @%s(%s) -> %d results; %d Mamba layers; %d weights in %d tensors (seed %d)\n\n",
		f0.Name, strings.Join(sig, ", "), len(f0.Results), countOp(f0, ir.OpSelectiveScan), nparams, len(weights), seed)

	start := time.Now()
	rep, err := passes.Run(opt, passes.Options{Verify: true})
	if err != nil {
		return nil, fmt.Errorf("compiling the demo model: %w", err)
	}
	fmt.Fprintf(w, "compile: %d ops -> %d ops in %v\n", passes.CountOps(f0), passes.CountOps(opt.Funcs[0]),
		time.Since(start).Round(time.Microsecond))
	fmt.Fprint(w, rep.String())
	fmt.Fprintln(w)

	inputs := demoInputs(rng, f0)
	start = time.Now()
	got, err := ref.Run(opt.Funcs[0], opt.Weights, inputs)
	if err != nil {
		return nil, fmt.Errorf("running the optimized demo model: %w", err)
	}
	elapsed := time.Since(start)
	want, err := ref.Run(f0, orig.Weights, inputs)
	if err != nil {
		return nil, fmt.Errorf("running the unoptimized demo model: %w", err)
	}
	fmt.Fprintf(w, "run (reference interpreter on the CPU): %v\n", elapsed.Round(time.Microsecond))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	res := &demoResult{outputs: got}
	h := fnv.New64a()
	for i, t := range got {
		name := fmt.Sprintf("result %d", i)
		if i < len(f0.ResultNames) && f0.ResultNames[i] != "" {
			name = f0.ResultNames[i]
		}
		sum := 0.0
		for _, x := range t.Float64s() {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("internal error: demo result %s holds %v", name, x)
			}
			sum += x
		}
		fmt.Fprintf(tw, "  %s\t%v\tsum = %+.6e\n", name, t.Type(), sum)
		h.Write(t.Data)
		d, err := maxRelDiff(t, want[i])
		if err != nil {
			return nil, fmt.Errorf("demo result %s: %v", name, err)
		}
		res.maxDiff = max(res.maxDiff, d)
	}
	tw.Flush()
	res.checksum = h.Sum64()
	if !(res.maxDiff <= demoTolerance) {
		return nil, fmt.Errorf("internal error: the optimized demo program differs from the unoptimized one (max |diff| = %g)", res.maxDiff)
	}
	return res, nil
}

// countOp counts f's values with op op.
func countOp(f *ir.Func, op ir.Op) int {
	n := 0
	for _, v := range f.Body {
		if v.Op == op {
			n++
		}
	}
	return n
}

// demoWeights draws a tensor for every Param of f: vectors (norm weights,
// biases, D) around 1, matrices normal with standard deviation
// 1/sqrt(columns), so activations stay O(1) through the layers. It returns
// the weights and their element count.
func demoWeights(rng *rand.Rand, f *ir.Func) (map[string]*ir.Tensor, int64) {
	weights := map[string]*ir.Tensor{}
	var n int64
	for _, v := range f.Body {
		name := v.Attrs.String("name", "")
		if v.Op != ir.OpParam || weights[name] != nil {
			continue
		}
		shape := v.Type.Shape.Sizes()
		t := randomTensor(rng, v.Type.DType, shape, func() float64 {
			if len(shape) <= 1 {
				return 1 + 0.1*rng.NormFloat64()
			}
			return rng.NormFloat64() / math.Sqrt(float64(shape[len(shape)-1]))
		})
		weights[name] = t
		n += t.NumElements()
	}
	return weights, n
}

// demoInputs draws f's inputs: floats standard normal, integers uniform
// below the size of the axis of every Gather that indexes with them (token
// ids below the vocabulary size), or 0/1 when nothing bounds them.
func demoInputs(rng *rand.Rand, f *ir.Func) []*ir.Tensor {
	var inputs []*ir.Tensor
	for _, a := range f.Args {
		bound := int64(math.MaxInt64)
		for _, u := range a.Users {
			if u.Op == ir.OpGather && u.Args[1] == a {
				ax := u.IntAttr("axis")
				data := u.Args[0].Type.Shape
				if ax < 0 {
					ax += int64(len(data))
				}
				if ax >= 0 && ax < int64(len(data)) && data[ax].IsStatic() {
					bound = min(bound, data[ax].Off)
				}
			}
		}
		if bound == math.MaxInt64 {
			bound = 2
		}
		inputs = append(inputs, randomTensor(rng, a.Type.DType, a.Type.Shape.Sizes(), func() float64 {
			if a.Type.DType.IsFloat() {
				return rng.NormFloat64()
			}
			return float64(rng.Int63n(max(bound, 1)))
		}))
	}
	return inputs
}

// randomTensor fills a tensor of the given static shape from draw.
func randomTensor(rng *rand.Rand, dt ir.DType, shape []int64, draw func() float64) *ir.Tensor {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = draw()
	}
	return ir.TensorFromFloat64s(dt, shape, vals)
}

// maxRelDiff returns max_i |a_i - b_i| / max(1, |a_i|, |b_i|), or an
// error when the tensors differ in type or either holds a NaN.
func maxRelDiff(a, b *ir.Tensor) (float64, error) {
	if a.DType != b.DType || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		return 0, fmt.Errorf("%v%v vs %v%v", a.DType, a.Shape, b.DType, b.Shape)
	}
	x, y := a.Float64s(), b.Float64s()
	d := 0.0
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return 0, fmt.Errorf("element %d: %v vs %v", i, x[i], y[i])
		}
		if x[i] == y[i] {
			continue
		}
		d = max(d, math.Abs(x[i]-y[i])/math.Max(1, math.Max(math.Abs(x[i]), math.Abs(y[i]))))
	}
	return d, nil
}

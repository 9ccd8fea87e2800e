package onnx

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// nodeTestsDir holds ONNX's operator conformance tests (see
// shared/onnx-node-tests.NOTICE.md): per case a model.onnx and
// test_data_set_N/{input,output}_K.pb tensors.
const nodeTestsDir = "../../../shared/onnx-node-tests"

// caseResult is the outcome of one conformance case.
type caseResult struct {
	name    string
	skipped []Unsupported // set when the model uses something unsupported
	err     error         // set when a supported case failed
	bound   bool          // inputs were fixed at compile time (Options.Constants)
	cpu     cpuOutcome    // the CPU backend against the reference
	cpuErr  error
}

// TestConformance imports every ONNX node test, runs the pass pipeline and
// the reference interpreter on its data sets and compares the outputs
// with the stored ones (f32 and f64: |got - want| ≤ 1e-5 + 1e-4·|want|;
// f16 and bf16, whose results are rounded to 11 and 8 bits: 1e-3 + 1e-3·|want|
// and 1e-2 + 1e-2·|want|; integers and bools exactly). Cases that use an
// unsupported operator, element type or form of an operator are skipped;
// any other failure fails the test. Each passed case whose data the CPU
// backend computes at the same precision (f32, integers, bools) also runs
// there and must agree with the reference (runOnCPU). It prints a summary
// line for each.
func TestConformance(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(nodeTestsDir, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Skip("ONNX node tests not present")
	}
	sort.Strings(dirs)
	results := make([]caseResult, len(dirs))
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = runCase(dirs[i])
			}
		}()
	}
	for i := range dirs {
		work <- i
	}
	close(work)
	wg.Wait()

	passed, failed, skipped, bound := 0, 0, 0, 0
	missing := map[string]int{}
	for _, r := range results {
		switch {
		case r.err != nil:
			failed++
			t.Errorf("%s: %v", r.name, r.err)
		case r.skipped != nil:
			skipped++
			seen := map[string]bool{}
			for _, u := range r.skipped {
				key := u.Op
				if u.Domain != "" {
					key = u.Domain + ":" + u.Op
				}
				if u.Reason != "" {
					key += " (" + u.Reason + ")"
				}
				if !seen[key] {
					seen[key] = true
					missing[key]++
				}
			}
		default:
			passed++
			if r.bound {
				bound++
			}
		}
	}
	fmt.Printf("onnx-conformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	agree, differ := 0, 0
	for _, r := range results {
		switch {
		case r.err != nil || r.skipped != nil:
		case r.cpu == cpuAgrees:
			agree++
		case r.cpu == cpuDiffers:
			differ++
			t.Errorf("%s: the CPU backend differs from the reference: %v", r.name, r.cpuErr)
		}
	}
	fmt.Printf("onnx-conformance on the CPU backend: %d agree with the reference, %d differ, %d not run (f64/f16 data or an op without a CPU kernel)\n", agree, differ, passed-agree-differ)
	if path := os.Getenv("ONNX_CONFORMANCE_REPORT"); path != "" {
		writeReport(t, path, results)
	}
	keys := make([]string, 0, len(missing))
	for k := range missing {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if missing[keys[i]] != missing[keys[j]] {
			return missing[keys[i]] > missing[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for i, k := range keys {
		if i == 400 {
			break
		}
		fmt.Fprintf(&b, "\n  %4d  %s", missing[k], k)
	}
	t.Logf("%d of the passed cases take shapes, axes or counts as inputs, fixed at compile time (Options.Constants)", bound)
	t.Logf("cases skipped, by what is unsupported (top 40 of %d):%s", len(keys), b.String())
}

// runCase imports and runs one conformance case.
func runCase(dir string) (res caseResult) {
	res.name = filepath.Base(dir)
	defer func() {
		if r := recover(); r != nil {
			res.err = fmt.Errorf("panic: %v", r)
		}
	}()
	path := filepath.Join(dir, "model.onnx")
	m, err := Load(path)
	var ue *UnsupportedError
	if errors.As(err, &ue) {
		if !needsConstants(ue) {
			res.skipped = ue.Items
			return res
		}
		res.bound = true
	} else if err != nil {
		res.err = err
		return res
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	for _, set := range sets {
		want, err := readTensors(set, "output", -1)
		if err != nil {
			res.err = err
			return res
		}
		ins, err := readTensors(set, "input", -1)
		if err != nil {
			res.err = err
			return res
		}
		if res.bound {
			// Import again with the small inputs of this data set fixed:
			// shapes, axes and counts the importer needs at compile time.
			if m, ins, err = loadBound(path, ins); err != nil {
				if errors.As(err, &ue) {
					res.skipped = ue.Items
					return res
				}
				res.err = err
				return res
			}
		}
		if _, err := passes.Run(m, passes.Options{}); err != nil {
			res.err = fmt.Errorf("passes: %v", err)
			return res
		}
		f := m.Funcs[0]
		if len(ins) < len(f.Args) {
			res.err = fmt.Errorf("%s: %d inputs for %d arguments", filepath.Base(set), len(ins), len(f.Args))
			return res
		}
		got, err := ref.Run(f, m.Weights, ins[:len(f.Args)])
		if err != nil {
			res.err = fmt.Errorf("%s: %v", filepath.Base(set), err)
			return res
		}
		if len(got) != len(want) {
			res.err = fmt.Errorf("%s: %d outputs, want %d", filepath.Base(set), len(got), len(want))
			return res
		}
		for k := range want {
			if err := compareTensor(got[k], want[k], roundedCases[res.name]); err != nil {
				res.err = fmt.Errorf("%s: output %d: %v", filepath.Base(set), k, err)
				return res
			}
		}
		if res.cpu != cpuDiffers {
			if o, err := runOnCPU(f, m.Weights, ins, got); o != cpuNotRun || res.cpu == cpuNotRun {
				res.cpu, res.cpuErr = o, err
			}
		}
	}
	return res
}

// readTensors reads prefix_0.pb, prefix_1.pb, … from a data set folder
// (count of them, or all there are when count < 0).
func readTensors(dir, prefix string, count int) ([]*ir.Tensor, error) {
	var out []*ir.Tensor
	r := &tensorReader{}
	for k := 0; count < 0 || k < count; k++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, k)))
		if os.IsNotExist(err) && count < 0 {
			break
		}
		if err != nil {
			return nil, err
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(b, tp); err != nil {
			return nil, fmt.Errorf("%s_%d.pb: %v", prefix, k, err)
		}
		t, err := r.decode(tp)
		if err != nil {
			return nil, fmt.Errorf("%s_%d.pb: %v", prefix, k, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// roundedCases store expected values that ONNX's test generator wrote by
// hand to 4 significant digits (the exact result differs by up to 5e-5);
// they are compared with rtol 1e-3.
var roundedCases = map[string]bool{
	"test_averagepool_2d_ceil_last_window_starts_on_pad": true,
}

// compareTensor checks got against want with the tolerance of want's
// dtype.
func compareTensor(got, want *ir.Tensor, loose bool) error {
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("got %v%v, want %v%v", got.DType, got.Shape, want.DType, want.Shape)
	}
	if !want.DType.IsFloat() {
		g, w := got.Int64s(), want.Int64s()
		for i := range w {
			if g[i] != w[i] {
				return fmt.Errorf("element %d is %d, want %d", i, g[i], w[i])
			}
		}
		return nil
	}
	rtol, atol := 1e-4, 1e-5
	switch want.DType {
	case ir.F16:
		rtol, atol = 1e-3, 1e-3
	case ir.BF16:
		rtol, atol = 1e-2, 1e-2
	}
	if loose {
		rtol = max(rtol, 1e-3)
	}
	n := int(want.NumElements())
	for i := 0; i < n; i++ {
		g, w := got.At(i), want.At(i)
		switch {
		case math.IsNaN(w) && math.IsNaN(g), g == w:
			continue
		case math.IsNaN(w) || math.IsNaN(g) || math.IsInf(w, 0) || math.IsInf(g, 0) || math.Abs(g-w) > atol+rtol*math.Abs(w):
			return fmt.Errorf("element %d is %v, want %v", i, g, w)
		}
	}
	return nil
}

// writeReport writes one line per case (name, status, reason) to path,
// for people comparing runs.
func writeReport(t *testing.T, path string, results []caseResult) {
	var b strings.Builder
	for _, r := range results {
		switch {
		case r.err != nil:
			fmt.Fprintf(&b, "%s\tFAIL\t%v\n", r.name, r.err)
		case r.skipped != nil:
			fmt.Fprintf(&b, "%s\tSKIP\t%v\n", r.name, (&UnsupportedError{Items: r.skipped}).Error())
		default:
			fmt.Fprintf(&b, "%s\tPASS\n", r.name)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}

// needsConstants reports whether every unsupported item is a value that
// the importer needs at compile time but the model takes as an input.
func needsConstants(ue *UnsupportedError) bool {
	for _, u := range ue.Items {
		if !strings.Contains(u.Reason, "computed at run time") {
			return false
		}
	}
	return true
}

// loadBound imports the model with its small inputs (integer or bool
// tensors of rank ≤ 1, float scalars) fixed to the given values and
// returns the inputs that remain arguments.
func loadBound(path string, ins []*ir.Tensor) (*ir.Module, []*ir.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	mp, err := Decode(b)
	if err != nil {
		return nil, nil, err
	}
	inits := map[string]bool{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	consts := map[string]*ir.Tensor{}
	var rest []*ir.Tensor
	k := 0
	for _, in := range mp.GetGraph().GetInput() {
		if inits[in.GetName()] {
			continue
		}
		if k >= len(ins) {
			break
		}
		t := ins[k]
		k++
		small := (t.DType.IsInt() || t.DType == ir.Bool) && len(t.Shape) <= 1 && t.NumElements() <= 64 ||
			t.DType.IsFloat() && len(t.Shape) == 0
		if small {
			consts[in.GetName()] = t
		} else {
			rest = append(rest, t)
		}
	}
	m, err := LoadWithOptions(path, Options{Constants: consts})
	return m, rest, err
}

package cuda

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
)

// The tests in this file launch kernels: they need a GPU and skip without
// one, unless SSMC_REQUIRE_GPU=1 (scripts/gpu-check.sh), which makes a
// missing GPU a failure.

// gpuForTest opens device 0 for the test.
func gpuForTest(t testing.TB) *Device {
	t.Helper()
	if ok, reason := Available(); !ok {
		if os.Getenv("SSMC_REQUIRE_GPU") == "1" {
			t.Fatalf("SSMC_REQUIRE_GPU=1 but no GPU: %s", reason)
		}
		t.Skip(reason)
	}
	dev, err := OpenDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	t.Logf("device: %v", dev)
	return dev
}

// caseData is a conformance case's function and random data.
type caseData struct {
	f       *ir.Func
	weights map[string]*ir.Tensor
	inputs  []*ir.Tensor
}

// conformanceData makes the data of every conformance case of m and
// returns all their weights together (one program serves every case).
func conformanceData(t *testing.T, m *ir.Module) (map[string]*ir.Tensor, map[string]caseData) {
	t.Helper()
	all := map[string]*ir.Tensor{}
	cases := map[string]caseData{}
	for _, c := range cudatest.Cases {
		f := m.Func(c.Name)
		w, in, err := c.Data(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, x := range w {
			if all[name] != nil {
				t.Fatalf("weight %s appears in two cases", name)
			}
			all[name] = x
		}
		cases[c.Name] = caseData{f, w, in}
	}
	return all, cases
}

// TestGPUConformance runs every conformance case (every fused op and
// every other kernel generator) on the GPU and compares the results with
// runtime/ref and, for f32 functions, the CPU backend.
func TestGPUConformance(t *testing.T) {
	dev := gpuForTest(t)
	m, err := cudatest.Module()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := cudagen.Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	all, cases := conformanceData(t, m)
	prog, err := Load(dev, gen, all)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	for _, c := range cudatest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			d := cases[c.Name]
			inst, err := prog.Instantiate(c.Name, c.Env)
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			got, err := inst.Run(d.inputs)
			if err != nil {
				t.Fatal(err)
			}
			want, err := cudatest.Reference(d.f, d.weights, d.inputs)
			if err != nil {
				t.Fatal(err)
			}
			gpuCompare(t, c, "ref", got, want)
			if cpu, ok, err := cudatest.CPU(d.f, d.weights, d.inputs); err != nil {
				t.Fatal(err)
			} else if ok {
				gpuCompare(t, c, "cpu", got, cpu)
			}
		})
	}
}

func gpuCompare(t *testing.T, c cudatest.Case, oracle string, got, want []*ir.Tensor) {
	t.Helper()
	diffs, err := c.Compare(got, want)
	for i, d := range diffs {
		t.Logf("result %d (%v%v): max relative difference to %s %.3g", i, got[i].DType, got[i].Shape, oracle, d)
	}
	if err != nil {
		t.Errorf("against %s: %v", oracle, err)
	}
}

// tinyMambaDir is the tiny-mamba reference checkpoint (see codegen/cuda's
// emulation test of the same model).
const tinyMambaDir = "../../../shared/reference/tiny-mamba"

// TestGPUTinyMamba runs the tiny-mamba checkpoint on the GPU: the prefill
// logits, decoding from zero states with the states kept on the device,
// and decoding after a prefill whose states are handed over on the device
// must all match the float64 reference.
func TestGPUTinyMamba(t *testing.T) {
	dev := gpuForTest(t)
	raw, err := os.ReadFile(filepath.Join(tinyMambaDir, "reference.json"))
	if err != nil {
		t.Skipf("tiny-mamba reference not available: %v", err)
	}
	var want struct {
		Cases []struct {
			Name     string `json:"name"`
			InputIDs struct {
				Shape []int64   `json:"shape"`
				Data  []float64 `json:"data"`
			} `json:"input_ids"`
			Logits struct {
				Data []float64 `json:"data"`
			} `json:"logits"`
			Steps []struct {
				TokenIDs []int64 `json:"token_ids"`
				Logits   struct {
					Data []float64 `json:"data"`
				} `json:"logits"`
			} `json:"steps"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	model, err := hf.Load(tinyMambaDir, hf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	if _, err := passes.Run(model.Module, passes.Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	gen, err := cudagen.Generate(model.Module)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Load(dev, gen, model.Module.Weights)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	const tol = 1e-5
	check := func(what string, got *ir.Tensor, want []float64) {
		t.Helper()
		g := got.Float64s()
		diff, scale := 0.0, 0.0
		for i := range want {
			diff = math.Max(diff, math.Abs(g[i]-want[i]))
			scale = math.Max(scale, math.Abs(want[i]))
		}
		if d := diff / scale; !(d <= tol) {
			t.Errorf("%s differ from the reference by %.3g relative", what, d)
		} else {
			t.Logf("%s: max relative difference %.3g", what, d)
		}
	}
	for _, tc := range want.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			batch, length := tc.InputIDs.Shape[0], tc.InputIDs.Shape[1]
			ids := ir.TensorFromFloat64s(ir.I64, tc.InputIDs.Shape, tc.InputIDs.Data)
			prefill, err := prog.Instantiate("prefill", map[string]int64{"B": batch, "L": length})
			if err != nil {
				t.Fatal(err)
			}
			defer prefill.Close()
			out, err := prefill.Run([]*ir.Tensor{ids})
			if err != nil {
				t.Fatal(err)
			}
			check("prefill logits", out[0], tc.Logits.Data)
			if len(tc.Steps) == 0 {
				return
			}
			dec, err := prog.NewDecoder(batch)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			for s := range tc.Steps {
				logits, err := dec.Step(tc.Steps[s].TokenIDs)
				if err != nil {
					t.Fatal(err)
				}
				check("step logits", logits, tc.Steps[s].Logits.Data)
			}
			// Prefill half the prompt, hand the states over on the device
			// and decode the next token: the logits of the reference's step.
			half := length / 2
			firstHalf := make([]float64, 0, batch*half)
			for b := int64(0); b < batch; b++ {
				firstHalf = append(firstHalf, tc.InputIDs.Data[b*length:b*length+half]...)
			}
			short, err := prog.Instantiate("prefill", map[string]int64{"B": batch, "L": half})
			if err != nil {
				t.Fatal(err)
			}
			defer short.Close()
			if _, err := short.Run([]*ir.Tensor{ir.TensorFromFloat64s(ir.I64, []int64{batch, half}, firstHalf)}); err != nil {
				t.Fatal(err)
			}
			if err := dec.TakeStates(short); err != nil {
				t.Fatal(err)
			}
			logits, err := dec.Step(tc.Steps[half].TokenIDs)
			if err != nil {
				t.Fatal(err)
			}
			check("step logits after a prefill", logits, tc.Steps[half].Logits.Data)
		})
	}
}

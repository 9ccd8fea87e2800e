package cuda

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// tinyMambaDir is the tiny-mamba reference: a 2-layer Mamba-1 checkpoint
// with logits and states from an independent float64 implementation.
const tinyMambaDir = "../../../shared/reference/tiny-mamba"

// tinyArray is a tensor of reference.json.
type tinyArray struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

type tinyReference struct {
	Cases []struct {
		Name     string    `json:"name"`
		InputIDs tinyArray `json:"input_ids"`
		Logits   tinyArray `json:"logits"`
		Steps    []struct {
			TokenIDs []int64   `json:"token_ids"`
			Logits   tinyArray `json:"logits"`
		} `json:"steps"`
	} `json:"cases"`
}

// tinyStepsChecked is how many decoding steps the test runs per case.
const tinyStepsChecked = 3

// TestTinyMambaEmulated compiles the tiny-mamba checkpoint through the
// pass pipeline to CUDA and runs its launch tables on the CPU: the prefill
// logits and a few decoding steps (the states staying in the driver's
// buffers between steps, fed back as the next step's inputs) must match
// the float64 reference.
func TestTinyMambaEmulated(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(tinyMambaDir, "reference.json"))
	if err != nil {
		t.Skipf("tiny-mamba reference not available: %v", err)
	}
	var want tinyReference
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	model, err := hf.Load(tinyMambaDir, hf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	m := model.Module
	if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	prog, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	emu := newEmulator(t, prog)
	// f32 kernels against a float64 reference through 2 layers: the CPU
	// backend is within about 1e-7 of it; the GPU's reassociated sums and
	// scans within a few times that.
	const tol = 1e-5
	for _, tc := range want.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			ids := make([]float64, len(tc.InputIDs.Data))
			copy(ids, tc.InputIDs.Data)
			out, err := emu.run("prefill", m.Weights, []*ir.Tensor{ir.TensorFromFloat64s(ir.I64, tc.InputIDs.Shape, ids)})
			if err != nil {
				t.Fatal(err)
			}
			if d := scaledDiff(out[0].Float64s(), tc.Logits.Data); d > tol {
				t.Errorf("prefill logits differ from the reference by %.3g relative", d)
			} else {
				t.Logf("prefill logits: max relative difference %.3g", d)
			}
			step := m.Func("step")
			states := make([]*ir.Tensor, len(step.Args)-1)
			for i, a := range step.Args[1:] {
				shape, err := ir.EvalShape(a.Type.Shape, map[string]int64{"B": tc.InputIDs.Shape[0]})
				if err != nil {
					t.Fatal(err)
				}
				n := int64(1)
				for _, d := range shape {
					n *= d
				}
				states[i] = ir.TensorFromFloat64s(a.Type.DType, shape, make([]float64, n))
			}
			for s := 0; s < tinyStepsChecked && s < len(tc.Steps); s++ {
				tok := make([]float64, len(tc.Steps[s].TokenIDs))
				for i, id := range tc.Steps[s].TokenIDs {
					tok[i] = float64(id)
				}
				in := append([]*ir.Tensor{ir.TensorFromFloat64s(ir.I64, []int64{int64(len(tok)), 1}, tok)}, states...)
				res, err := emu.run("step", m.Weights, in)
				if err != nil {
					t.Fatal(err)
				}
				if d := scaledDiff(res[0].Float64s(), tc.Steps[s].Logits.Data); d > tol {
					t.Errorf("step %d logits differ from the reference by %.3g relative", s, d)
				} else {
					t.Logf("step %d logits: max relative difference %.3g", s, d)
				}
				states = res[1:]
			}
		})
	}
}

// scaledDiff is max|got - want| / max|want|.
func scaledDiff(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	diff, scale := 0.0, 0.0
	for i := range want {
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		diff = math.Max(diff, d)
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return diff / scale
}

// TestTinyMambaMixedPrecisionEmulated compiles the tiny-mamba checkpoint
// under the bf16 precision policy (narrow weights and activations, f32
// state and residual) and checks the emulated prefill against runtime/ref
// on the same IR.
func TestTinyMambaMixedPrecisionEmulated(t *testing.T) {
	model, err := hf.Load(tinyMambaDir, hf.Options{})
	if err != nil {
		t.Skipf("tiny-mamba checkpoint not available: %v", err)
	}
	defer model.Close()
	m := model.Module
	if _, err := passes.Run(m, passes.Options{Verify: true, DType: "bf16"}); err != nil {
		t.Fatal(err)
	}
	prog, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	emu := newEmulator(t, prog)
	ids := ir.TensorFromInt64s(ir.I64, []int64{2, 9}, []int64{3, 1, 4, 1, 5, 9, 2, 6, 5, 35, 89, 79, 32, 38, 46, 26, 43, 38})
	got, err := emu.run("prefill", m.Weights, []*ir.Tensor{ids})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Run(m.Func("prefill"), m.Weights, []*ir.Tensor{ids})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		d, err := cudatest.RelDiff(got[i], want[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("result %d (%v%v): max relative difference %.3g", i, got[i].DType, got[i].Shape, d)
		if d > 1e-2 {
			t.Errorf("result %d differs from runtime/ref by %.3g relative", i, d)
		}
	}
}

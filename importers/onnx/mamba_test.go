package onnx

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// tinyMambaDir holds the tiny-mamba reference: forward.onnx and
// step.onnx, exported the way ONNX model builders emit Mamba, and logits
// and states from independent implementations (reference.json).
const tinyMambaDir = "../../../shared/reference/tiny-mamba"

type refArray struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

type tinyCase struct {
	Name           string   `json:"name"`
	InputIDs       refArray `json:"input_ids"`
	Logits         refArray `json:"logits"`
	FinalConvState refArray `json:"final_conv_state"`
	FinalSSMState  refArray `json:"final_ssm_state"`
	Steps          []struct {
		TokenIDs  []int64  `json:"token_ids"`
		Logits    refArray `json:"logits"`
		ConvState refArray `json:"conv_state"`
		SSMState  refArray `json:"ssm_state"`
	} `json:"steps"`
}

// tinyCases reads reference.json, skipping the test when it is absent.
func tinyCases(t *testing.T) []tinyCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tinyMambaDir, "reference.json"))
	if os.IsNotExist(err) {
		t.Skip("tiny-mamba reference not present")
	}
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Cases []tinyCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Cases) == 0 {
		t.Fatal("reference.json has no cases")
	}
	return r.Cases
}

// compile imports an ONNX file and runs the pass pipeline on it.
func compile(t *testing.T, path string) *ir.Module {
	t.Helper()
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
		t.Fatalf("passes: %v", err)
	}
	return m
}

// maxDiff returns the largest |got - want| and fails on a shape mismatch.
func maxDiff(t *testing.T, what string, got *ir.Tensor, want refArray) float64 {
	t.Helper()
	if len(got.Shape) != len(want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	for i := range want.Shape {
		if got.Shape[i] != want.Shape[i] {
			t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
		}
	}
	d := 0.0
	for i, w := range want.Data {
		d = math.Max(d, math.Abs(got.At(i)-w))
	}
	return d
}

// checkFusedOps checks the compiled function's op counts (the fused
// forms present, the decomposed ones gone) and logs its histogram.
func checkFusedOps(t *testing.T, f *ir.Func, want map[string]int) {
	t.Helper()
	h := opHistogram(f)
	for op, n := range want {
		if h[op] != n {
			t.Errorf("%d %s after the passes, want %d", h[op], op, n)
		}
	}
	t.Logf("compiled to %d ops: %s", passes.CountOps(f), histString(h))
}

func ids(a refArray) *ir.Tensor {
	v := make([]int64, len(a.Data))
	for i, x := range a.Data {
		v[i] = int64(x)
	}
	return ir.TensorFromInt64s(ir.I64, a.Shape, v)
}

// TestTinyMambaForward: forward.onnx (one Scan per layer, a symbolic
// sequence length) compiles and its logits match the reference for both
// cases (different batch sizes and lengths, through one compiled graph).
func TestTinyMambaForward(t *testing.T) {
	cases := tinyCases(t)
	m := compile(t, filepath.Join(tinyMambaDir, "forward.onnx"))
	f := m.Funcs[0]
	checkFusedOps(t, f, map[string]int{"SelectiveScan": 2, "CausalConv1d": 2, "RMSNorm": 1, "AddRMSNorm": 2,
		"LinearScan": 0, "Conv1d": 0, "Exp": 0})
	for _, c := range cases {
		out, err := ref.Run(f, m.Weights, []*ir.Tensor{ids(c.InputIDs)})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if d := maxDiff(t, c.Name+" logits", out[0], c.Logits); d > 1e-4 {
			t.Errorf("%s: logits differ by %g (> 1e-4)", c.Name, d)
		} else {
			t.Logf("%s: forward.onnx logits max |diff| = %.3g", c.Name, d)
		}
	}
}

// TestTinyMambaStep: step.onnx decodes the b2_s16 case token by token
// from zero states; logits and both states match the reference after
// every step.
func TestTinyMambaStep(t *testing.T) {
	cases := tinyCases(t)
	m := compile(t, filepath.Join(tinyMambaDir, "step.onnx"))
	f := m.Funcs[0]
	checkFusedOps(t, f, map[string]int{"SelectiveStateUpdate": 2, "CausalConv1d": 2, "RMSNorm": 1, "AddRMSNorm": 2,
		"ReduceSum": 0, "Exp": 0, "MatMul": 9})
	for _, c := range cases {
		if len(c.Steps) == 0 {
			continue
		}
		conv := ir.TensorFromFloat64s(ir.F32, c.Steps[0].ConvState.Shape, make([]float64, len(c.Steps[0].ConvState.Data)))
		ssm := ir.TensorFromFloat64s(ir.F32, c.Steps[0].SSMState.Shape, make([]float64, len(c.Steps[0].SSMState.Data)))
		worst := 0.0
		for i, s := range c.Steps {
			tok := ir.TensorFromInt64s(ir.I64, []int64{int64(len(s.TokenIDs)), 1}, s.TokenIDs)
			out, err := ref.Run(f, m.Weights, []*ir.Tensor{tok, conv, ssm})
			if err != nil {
				t.Fatalf("%s step %d: %v", c.Name, i, err)
			}
			for k, want := range []refArray{s.Logits, s.ConvState, s.SSMState} {
				if d := maxDiff(t, c.Name, out[k], want); d > 1e-4 {
					t.Fatalf("%s step %d output %d: differs by %g (> 1e-4)", c.Name, i, k, d)
				} else {
					worst = math.Max(worst, d)
				}
			}
			conv, ssm = out[1], out[2]
		}
		t.Logf("%s: step.onnx max |diff| over %d steps = %.3g", c.Name, len(c.Steps), worst)
	}
}

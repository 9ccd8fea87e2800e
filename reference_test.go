package ssmc

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/onnx"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
)

// The shared reference: a seeded tiny Mamba-1 checkpoint with logits and
// states from independent implementations (see its README.md).
const referenceDir = "../shared/reference/tiny-mamba"

type refArray struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type refCase struct {
	Name           string   `json:"name"`
	Batch          int      `json:"batch"`
	InputIDs       refArray `json:"input_ids"`
	Logits         refArray `json:"logits"`
	FinalConvState refArray `json:"final_conv_state"`
	FinalSSMState  refArray `json:"final_ssm_state"`
	Steps          []struct {
		TokenIDs []int    `json:"token_ids"`
		Logits   refArray `json:"logits"`
	} `json:"steps"`
}

// TestReference runs the reference checkpoint through the whole path a
// user takes (checkpoint importer, CPU backend, sessions) and compares
// every logit and the final states with the stored independent results.
func TestReference(t *testing.T) {
	cases := referenceCases(t)
	ck, err := hf.Load(referenceDir, hf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, err := FromModule(ck.Module)
	if err != nil {
		t.Fatal(err)
	}
	worst := checkReference(t, m, cases)
	t.Logf("max abs diff against the reference: %.3g", worst)
}

// referenceCases reads the shared reference's cases, skipping the test
// when the shared material is absent.
func referenceCases(t *testing.T) []refCase {
	t.Helper()
	data, err := os.ReadFile(referenceDir + "/reference.json")
	if err != nil {
		t.Skipf("shared reference not available: %v", err)
	}
	var ref struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	return ref.Cases
}

// checkReference runs every reference case through m with sessions
// (prefill per sequence, then the step-by-step batch) and compares the
// logits and final states; it returns the largest difference.
func checkReference(t *testing.T, m *Model, cases []refCase) float64 {
	t.Helper()
	v := m.VocabSize()
	worst := 0.0
	check := func(what string, got []float32, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, reference %d", what, len(got), len(want))
		}
		for i := range got {
			d := math.Abs(float64(got[i]) - want[i])
			worst = math.Max(worst, d)
			if d > 1e-4 {
				t.Fatalf("%s[%d] = %v, reference %v", what, i, got[i], want[i])
			}
		}
	}
	for _, c := range cases {
		L := c.InputIDs.Shape[1]
		for b := 0; b < c.Batch; b++ {
			ids := make([]int, L)
			for i := range ids {
				ids[i] = int(c.InputIDs.Data[b*L+i])
			}
			s, _ := m.NewSession(SessionOptions{})
			all, err := s.PrefillAll(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			check(c.Name+" prefill logits", all, c.Logits.Data[b*L*v:(b+1)*L*v])
			// final states: the last columns of the reference's K
			conv, ssm := s.state[s.cur][0], s.state[s.cur][1]
			layers, batch, dInner, k := c.FinalConvState.Shape[0], c.FinalConvState.Shape[1], c.FinalConvState.Shape[2], c.FinalConvState.Shape[3]
			cols := conv.Shape[3] // K-1 (ssmc's checkpoint import) or K (an ONNX decode graph)
			var wantConv []float64
			for l := 0; l < layers; l++ {
				for d := 0; d < dInner; d++ {
					base := ((l*batch+b)*dInner + d) * k
					wantConv = append(wantConv, c.FinalConvState.Data[base+k-cols:base+k]...)
				}
			}
			check(c.Name+" final conv state", conv.F32, wantConv)
			n := c.FinalSSMState.Shape[3]
			var wantSSM []float64
			for l := 0; l < layers; l++ {
				base := (l*batch + b) * dInner * n
				wantSSM = append(wantSSM, c.FinalSSMState.Data[base:base+dInner*n]...)
			}
			check(c.Name+" final ssm state", ssm.F32, wantSSM)
		}
		if len(c.Steps) == 0 {
			continue
		}
		// Token by token, both sequences in one batch-2 session.
		s, _ := m.NewSession(SessionOptions{Batch: c.Batch})
		for _, st := range c.Steps {
			got, err := s.StepBatch(ctx, st.TokenIDs)
			if err != nil {
				t.Fatal(err)
			}
			check(c.Name+" step logits", got, st.Logits.Data)
		}
	}
	return worst
}

// TestReferenceStepONNX compiles the reference's ONNX decode graph
// (step.onnx: one token, stacked states in and out) into a step-only
// model, as 'ssmc compile step.onnx -o m.ssmc' does, and checks it
// against the same independent results: prefill by stepping, the
// batch-2 steps and the final states (all K conv columns here).
func TestReferenceStepONNX(t *testing.T) {
	cases := referenceCases(t)
	mod, err := onnx.Load(referenceDir + "/step.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passes.Run(mod, passes.Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := FromModule(mod); err == nil {
		t.Fatal("a lone decode-step function loaded without AsStepModel")
	}
	if !AsStepModel(mod) {
		t.Fatalf("step.onnx is not recognized as a decode step:\n%s", ir.Print(mod))
	}
	m, err := FromModule(mod)
	if err != nil {
		t.Fatal(err)
	}
	worst := checkReference(t, m, cases)
	t.Logf("max abs diff against the reference: %.3g", worst)
}

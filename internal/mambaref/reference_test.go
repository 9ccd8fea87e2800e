package mambaref

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
)

// refDir is the shared reference checkpoint (see its README.md).
var refDir = filepath.Join("..", "..", "..", "shared", "reference", "tiny-mamba")

// refTol is the brief's bound for the reference cases; the reference was
// computed in float64 too, so the actual differences are near its 9-digit
// rounding.
const refTol = 1e-5

type refArray struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type refStep struct {
	T        int      `json:"t"`
	TokenIDs []int    `json:"token_ids"`
	Logits   refArray `json:"logits"`
	Conv     refArray `json:"conv_state"`
	SSM      refArray `json:"ssm_state"`
}

type refCase struct {
	Name     string    `json:"name"`
	Batch    int       `json:"batch"`
	SeqLen   int       `json:"seq_len"`
	InputIDs refArray  `json:"input_ids"`
	Logits   refArray  `json:"logits"`
	Conv     refArray  `json:"final_conv_state"`
	SSM      refArray  `json:"final_ssm_state"`
	Steps    []refStep `json:"steps"`
}

type reference struct {
	Model struct {
		DModel int     `json:"d_model"`
		DInner int     `json:"d_inner"`
		DState int     `json:"d_state"`
		DConv  int     `json:"d_conv"`
		DtRank int     `json:"dt_rank"`
		NLayer int     `json:"n_layer"`
		Vocab  int     `json:"vocab"`
		Eps    float64 `json:"eps"`
	} `json:"model"`
	Cases []refCase `json:"cases"`
}

// loadReference reads reference.json and model.safetensors, skipping the
// test when the shared directory is absent.
func loadReference(t *testing.T) (*reference, Config, Weights) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(refDir, "reference.json"))
	if os.IsNotExist(err) {
		t.Skipf("reference data not present: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	m := ref.Model
	cfg := Config{DModel: m.DModel, DInner: m.DInner, DState: m.DState, DConv: m.DConv, DtRank: m.DtRank,
		NLayer: m.NLayer, Vocab: m.Vocab, Eps: m.Eps, TiedHead: true}
	f, err := safetensors.Open(filepath.Join(refDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := Weights{}
	for _, ti := range f.Tensors() {
		v, err := f.Float32s(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		w[ti.Name] = make([]float64, len(v))
		for i, x := range v {
			w[ti.Name][i] = float64(x)
		}
	}
	if _, ok := w[LMHeadName]; ok {
		t.Fatalf("reference checkpoint unexpectedly stores %s", LMHeadName)
	}
	return &ref, cfg, w
}

func (a refArray) ids(t *testing.T) [][]int {
	t.Helper()
	if len(a.Shape) != 2 || a.Shape[0]*a.Shape[1] != len(a.Data) {
		t.Fatalf("input_ids shape %v with %d values", a.Shape, len(a.Data))
	}
	ids := make([][]int, a.Shape[0])
	for b := range ids {
		for _, v := range a.Data[b*a.Shape[1] : (b+1)*a.Shape[1]] {
			ids[b] = append(ids[b], int(v))
		}
	}
	return ids
}

// flatten returns the values of a nested [][]... float64 slice row-major.
func flatten(v any) []float64 {
	switch v := v.(type) {
	case []float64:
		return v
	case [][]float64:
		var out []float64
		for _, r := range v {
			out = append(out, r...)
		}
		return out
	case [][][]float64:
		var out []float64
		for _, r := range v {
			out = append(out, flatten(r)...)
		}
		return out
	}
	panic("flatten: unsupported type")
}

// compare fails when got and want differ in length, shape or by more than
// tol anywhere, and returns the max abs diff.
func compare(t *testing.T, what string, gotShape []int, got []float64, want refArray, tol float64) float64 {
	t.Helper()
	if !equalInts(gotShape, want.Shape) || len(got) != len(want.Data) {
		t.Fatalf("%s: shape %v (%d values), want %v (%d values)", what, gotShape, len(got), want.Shape, len(want.Data))
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(got[i] - want.Data[i])
		if !(d <= worst) { // NaN-safe: a NaN difference becomes the worst
			worst, at = d, i
		}
	}
	if !(worst <= tol) {
		t.Errorf("%s: max abs diff %.3g at %d (got %v, want %v), tolerance %g", what, worst, at, got[at], want.Data[at], tol)
	}
	return worst
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReferenceForward runs Forward on every reference case and compares
// logits and final states with reference.json.
func TestReferenceForward(t *testing.T) {
	ref, cfg, w := loadReference(t)
	if len(ref.Cases) < 2 {
		t.Fatalf("reference has %d cases, want 2", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			ids := c.InputIDs.ids(t)
			logits, st, err := Forward(cfg, w, ids)
			if err != nil {
				t.Fatal(err)
			}
			d := compare(t, "logits", []int{len(logits), len(logits[0]), len(logits[0][0])}, flatten(logits), c.Logits, refTol)
			compare(t, "final_conv_state", st.ConvShape(), st.Conv, c.Conv, refTol)
			compare(t, "final_ssm_state", st.SSMShape(), st.SSM, c.SSM, refTol)
			t.Logf("max abs logits diff %.3g", d)
		})
	}
}

// TestReferenceStep feeds every case with per-step values token by token
// through Step and compares each step's logits and states.
func TestReferenceStep(t *testing.T) {
	ref, cfg, w := loadReference(t)
	n := 0
	for _, c := range ref.Cases {
		if len(c.Steps) == 0 {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			ids := c.InputIDs.ids(t)
			st := NewState(cfg, len(ids))
			if len(c.Steps) != len(ids[0]) {
				t.Fatalf("%d steps for %d tokens", len(c.Steps), len(ids[0]))
			}
			for tt, s := range c.Steps {
				tok := make([]int, len(ids))
				for b := range ids {
					tok[b] = ids[b][tt]
					if s.TokenIDs[b] != tok[b] {
						t.Fatalf("step %d: token_ids %v disagree with input_ids", tt, s.TokenIDs)
					}
				}
				logits, err := Step(cfg, w, st, tok)
				if err != nil {
					t.Fatal(err)
				}
				compare(t, "step logits", []int{len(logits), len(logits[0])}, flatten(logits), s.Logits, refTol)
				compare(t, "step conv_state", st.ConvShape(), st.Conv, s.Conv, refTol)
				compare(t, "step ssm_state", st.SSMShape(), st.SSM, s.SSM, refTol)
			}
		})
	}
	if n == 0 {
		t.Fatal("no reference case has per-step values")
	}
}

package hf

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// refDir is the independent reference checkpoint, relative to this package.
const refDir = "../../../shared/reference/tiny-mamba"

// refArray is one array of reference.json.
type refArray struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

type refStep struct {
	T         int      `json:"t"`
	TokenIDs  []int64  `json:"token_ids"`
	Logits    refArray `json:"logits"`
	ConvState refArray `json:"conv_state"`
	SSMState  refArray `json:"ssm_state"`
}

type refCase struct {
	Name           string    `json:"name"`
	Batch          int       `json:"batch"`
	SeqLen         int       `json:"seq_len"`
	InputIDs       refArray  `json:"input_ids"`
	Logits         refArray  `json:"logits"`
	FinalConvState refArray  `json:"final_conv_state"`
	FinalSSMState  refArray  `json:"final_ssm_state"`
	Steps          []refStep `json:"steps"`
}

type reference struct {
	Format string    `json:"format"`
	Cases  []refCase `json:"cases"`
}

var (
	refOnce sync.Once
	refData *reference
	refErr  error
)

// loadReference parses reference.json once; it skips the test when the
// reference directory is absent.
func loadReference(t testing.TB) *reference {
	t.Helper()
	if _, err := os.Stat(filepath.Join(refDir, "reference.json")); err != nil {
		t.Skipf("reference data absent: %v", err)
	}
	refOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join(refDir, "reference.json"))
		if err != nil {
			refErr = err
			return
		}
		var r reference
		if err := json.Unmarshal(b, &r); err != nil {
			refErr = err
			return
		}
		refData = &r
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	if refData.Format != "ssmc-anchor-reference/v1" || len(refData.Cases) == 0 {
		t.Fatalf("reference.json: unexpected format %q with %d cases", refData.Format, len(refData.Cases))
	}
	return refData
}

func (r *reference) find(t testing.TB, name string) *refCase {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	t.Fatalf("reference.json has no case %q", name)
	return nil
}

// idsTensor makes an i64 [batch, seq] tensor.
func idsTensor(batch, seq int, ids []int64) *ir.Tensor {
	return ir.TensorFromInt64s(ir.I64, []int64{int64(batch), int64(seq)}, ids)
}

// run interprets function name of m with the reference interpreter.
func run(t testing.TB, m *ir.Module, name string, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	f := m.Func(name)
	if f == nil {
		t.Fatalf("module has no @%s", name)
	}
	out, err := ref.Run(f, m.Weights, inputs)
	if err != nil {
		t.Fatalf("ref.Run @%s: %v", name, err)
	}
	return out
}

// maxDiff returns max |a-b|, failing the test on a size mismatch or NaN.
func maxDiff(t testing.TB, what string, a, b []float64) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values vs %d", what, len(a), len(b))
	}
	m := 0.0
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if math.IsNaN(d) {
			t.Fatalf("%s: NaN at %d (%v vs %v)", what, i, a[i], b[i])
		}
		m = max(m, d)
	}
	return m
}

// checkClose fails when max |got-want| > tol and logs the value.
func checkClose(t testing.TB, what string, got *ir.Tensor, wantShape []int64, want []float64, tol float64) float64 {
	t.Helper()
	if !equalShape(got.Shape, wantShape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, wantShape)
	}
	d := maxDiff(t, what, got.Float64s(), want)
	t.Logf("%s: max abs diff %.3g", what, d)
	if d > tol {
		t.Errorf("%s: max abs diff %.3g > %.g", what, d, tol)
	}
	return d
}

func equalShape(a, b []int64) bool {
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

// lastCols keeps the last k entries of the innermost axis (width w) of a
// row-major array: reference conv states hold d_conv columns, ours d_conv-1.
func lastCols(data []float64, w, k int) []float64 {
	var out []float64
	for i := 0; i+w <= len(data); i += w {
		out = append(out, data[i+w-k:i+w]...)
	}
	return out
}

// randomWeights returns a checkpoint for c with the given dtype, named the
// HF way, initialized like the reference generator but with larger
// projections so that every path matters numerically.
func randomWeights(c *Config, seed uint64, dt ir.DType) map[string]*ir.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := map[string]*ir.Tensor{}
	for _, s := range c.Weights() {
		n := 1
		for _, d := range s.Shape {
			n *= int(d)
		}
		vals := make([]float64, n)
		base := s.Name[strings.LastIndex(s.Name, ".")+1:]
		for i := range vals {
			switch {
			case s.Name == EmbeddingName || s.Name == LMHeadName:
				vals[i] = rng.NormFloat64()
			case base == "A_log":
				vals[i] = math.Log(float64(i%c.DState+1)) + 0.1*rng.NormFloat64()
			case base == "D":
				vals[i] = 1 + 0.2*rng.NormFloat64()
			case strings.HasSuffix(s.Name, "dt_proj.bias"):
				dtv := math.Exp(math.Log(1e-3) + rng.Float64()*(math.Log(1e-1)-math.Log(1e-3)))
				vals[i] = dtv + math.Log(-math.Expm1(-dtv)) // softplus⁻¹
			case strings.Contains(s.Name, "norm"):
				vals[i] = 1 + 0.1*rng.NormFloat64()
			case strings.Contains(s.Name, "conv1d"):
				vals[i] = (2*rng.Float64() - 1) / math.Sqrt(float64(c.DConv))
			default:
				vals[i] = 0.15 * rng.NormFloat64()
			}
		}
		w[s.Name] = ir.TensorFromFloat64s(dt, s.Shape, vals)
	}
	return w
}

// randomIDs returns n token ids below vocab.
func randomIDs(seed uint64, n, vocab int) []int64 {
	rng := rand.New(rand.NewPCG(seed, 11))
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(rng.IntN(vocab))
	}
	return ids
}

// zeroStates returns zero conv and ssm states for batch.
func zeroStates(c *Config, batch int) (*ir.Tensor, *ir.Tensor) {
	cs := []int64{int64(c.NLayer), int64(batch), int64(c.DInner), int64(c.DConv - 1)}
	ss := []int64{int64(c.NLayer), int64(batch), int64(c.DInner), int64(c.DState)}
	mk := func(shape []int64) *ir.Tensor {
		n := 1
		for _, d := range shape {
			n *= int(d)
		}
		return ir.TensorFromFloat64s(ir.F32, shape, make([]float64, n))
	}
	return mk(cs), mk(ss)
}

// column returns ids[:, t] of a [batch, seq] id list.
func column(ids []int64, batch, seq, t int) []int64 {
	out := make([]int64, batch)
	for b := range out {
		out[b] = ids[b*seq+t]
	}
	return out
}

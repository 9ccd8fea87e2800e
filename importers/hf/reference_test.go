package hf

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// Tolerances against the independent float64 reference (values rounded to
// 9 digits): an f32 implementation lands within about 1e-5.
const (
	refTol        = 1e-4
	decomposedTol = 1e-5
	bf16Tol       = 5e-2
)

func loadRef(t *testing.T, opts Options) *Model {
	t.Helper()
	m, err := Load(refDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestReferencePrefill runs @prefill on every reference case, fused (with
// symbolic L) and decomposed (unrolled), and compares logits and final
// states with reference.json; the two forms must also agree closely.
func TestReferencePrefill(t *testing.T) {
	r := loadReference(t)
	fused := loadRef(t, Options{})
	for _, c := range r.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg := fused.Config
			ids := idsTensor(c.Batch, c.SeqLen, int64s(c.InputIDs.Data))
			got := run(t, fused.Module, "prefill", ids)
			checkClose(t, "fused logits", got[0], c.Logits.Shape, c.Logits.Data, refTol)
			k := cfg.DConv
			convShape := []int64{int64(cfg.NLayer), int64(c.Batch), int64(cfg.DInner), int64(k - 1)}
			checkClose(t, "fused conv_state", got[1], convShape, lastCols(c.FinalConvState.Data, k, k-1), refTol)
			checkClose(t, "fused ssm_state", got[2], c.FinalSSMState.Shape, c.FinalSSMState.Data, refTol)

			dec := loadRef(t, Options{Decomposed: true, SeqLen: c.SeqLen})
			if hasFusedOps(dec.Module) {
				t.Fatal("decomposed module contains fused ops")
			}
			dgot := run(t, dec.Module, "prefill", ids)
			checkClose(t, "decomposed logits", dgot[0], c.Logits.Shape, c.Logits.Data, refTol)
			for i, name := range resultNames {
				checkClose(t, "decomposed vs fused "+name, dgot[i], got[i].Shape, got[i].Float64s(), decomposedTol)
			}
		})
	}
}

// TestReferenceStep feeds case b2_s16 token by token through @step from
// zero states and compares each step's logits and states with the stored
// per-step values, for the fused and the decomposed step.
func TestReferenceStep(t *testing.T) {
	r := loadReference(t)
	c := r.find(t, "b2_s16")
	if len(c.Steps) != c.SeqLen {
		t.Fatalf("b2_s16 has %d steps for %d tokens", len(c.Steps), c.SeqLen)
	}
	for _, opts := range []Options{{}, {Decomposed: true, SeqLen: 1}} {
		name := "fused"
		if opts.Decomposed {
			name = "decomposed"
		}
		t.Run(name, func(t *testing.T) {
			m := loadRef(t, opts)
			cfg := m.Config
			cs, ss := zeroStates(cfg, c.Batch)
			worst := [3]float64{}
			for ti, st := range c.Steps {
				ids := idsTensor(c.Batch, 1, st.TokenIDs)
				if want := column(int64s(c.InputIDs.Data), c.Batch, c.SeqLen, ti); !equalShape(st.TokenIDs, want) {
					t.Fatalf("step %d token ids %v differ from input_ids column %v", ti, st.TokenIDs, want)
				}
				out := run(t, m.Module, "step", ids, cs, ss)
				k := cfg.DConv
				diffs := [3]float64{
					maxDiff(t, "logits", out[0].Float64s(), st.Logits.Data),
					maxDiff(t, "conv_state", out[1].Float64s(), lastCols(st.ConvState.Data, k, k-1)),
					maxDiff(t, "ssm_state", out[2].Float64s(), st.SSMState.Data),
				}
				for i, d := range diffs {
					worst[i] = max(worst[i], d)
					if d > refTol {
						t.Errorf("step %d: %s max abs diff %.3g > %g", ti, resultNames[i], d, refTol)
					}
				}
				cs, ss = out[1], out[2]
			}
			t.Logf("%s step over %d tokens: max abs diff logits %.3g, conv_state %.3g, ssm_state %.3g",
				name, len(c.Steps), worst[0], worst[1], worst[2])
		})
	}
}

// TestReferencePrefillThenStep prefills the first half of b2_s16 and
// decodes the rest with @step from the prefill's states.
func TestReferencePrefillThenStep(t *testing.T) {
	r := loadReference(t)
	c := r.find(t, "b2_s16")
	m := loadRef(t, Options{})
	ids := int64s(c.InputIDs.Data)
	half := c.SeqLen / 2
	first := make([]int64, 0, c.Batch*half)
	for b := 0; b < c.Batch; b++ {
		first = append(first, ids[b*c.SeqLen:b*c.SeqLen+half]...)
	}
	out := run(t, m.Module, "prefill", idsTensor(c.Batch, half, first))
	cs, ss := out[1], out[2]
	worst := 0.0
	for ti := half; ti < c.SeqLen; ti++ {
		o := run(t, m.Module, "step", idsTensor(c.Batch, 1, column(ids, c.Batch, c.SeqLen, ti)), cs, ss)
		worst = max(worst, maxDiff(t, "logits", o[0].Float64s(), c.Steps[ti].Logits.Data))
		cs, ss = o[1], o[2]
	}
	t.Logf("prefill(%d) + step×%d: max abs diff %.3g", half, c.SeqLen-half, worst)
	if worst > refTol {
		t.Errorf("max abs diff %.3g > %g", worst, refTol)
	}
}

// TestReferenceBF16 stores every reference weight as bf16: the small
// weights become f32 at import, the projections stay bf16, and the logits
// stay close to the f32 reference.
func TestReferenceBF16(t *testing.T) {
	r := loadReference(t)
	c := r.find(t, "b2_s16")
	cfg, err := LoadConfig(refDir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(refDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	weights := map[string]*ir.Tensor{}
	for _, ti := range f.Tensors() {
		vals, err := f.Float32s(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		weights[ti.Name] = bf16Tensor(ti.Shape, vals)
	}
	m, err := Build(cfg, weights, Options{})
	if err != nil {
		t.Fatal(err)
	}
	large := 0
	for name, w := range m.Weights {
		want := ir.F32
		for _, suf := range []string{"proj.weight", "embeddings.weight"} {
			if strings.HasSuffix(name, suf) {
				want = ir.BF16
				large++
			}
		}
		if w.DType != want {
			t.Errorf("weight %s is %v, want %v", name, w.DType, want)
		}
	}
	if want := 1 + 4*cfg.NLayer; large != want || m.Weights[AName(0)] == nil {
		t.Errorf("%d bf16 projection/embedding weights (want %d), A present: %v", large, want, m.Weights[AName(0)] != nil)
	}
	out := run(t, m, "prefill", idsTensor(c.Batch, c.SeqLen, int64s(c.InputIDs.Data)))
	d := checkClose(t, "bf16 logits", out[0], c.Logits.Shape, c.Logits.Data, bf16Tol)
	if d == 0 {
		t.Error("bf16 logits equal the f32 reference exactly: weights were not rounded")
	}
}

// TestStateSpacesCheckpoint rewrites the reference checkpoint the way the
// original state-spaces code names it (backbone.embedding.weight, a tied
// lm_head.weight stored too) with an unpadded vocab_size of 250 padded to
// 256, and checks Load reproduces the reference logits over all 256 rows.
func TestStateSpacesCheckpoint(t *testing.T) {
	r := loadReference(t)
	c := r.find(t, "b2_s16")
	src, err := safetensors.Open(filepath.Join(refDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []safetensors.WriteTensor
	for _, ti := range src.Tensors() {
		b, err := src.Bytes(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		name := ti.Name
		if name == EmbeddingName {
			name = "backbone.embedding.weight"
			out = append(out, safetensors.WriteTensor{Name: LMHeadName, DType: ti.DType, Shape: ti.Shape, Data: b})
		}
		out = append(out, safetensors.WriteTensor{Name: name, DType: ti.DType, Shape: ti.Shape, Data: b})
	}
	dir := t.TempDir()
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), out, nil); err != nil {
		t.Fatal(err)
	}
	cfgJSON, _ := json.Marshal(map[string]any{
		"d_model": 64, "n_layer": 2, "vocab_size": 250, "pad_vocab_size_multiple": 8,
		"ssm_cfg":  map[string]any{"d_state": 16, "d_conv": 4, "expand": 2, "dt_rank": 4},
		"rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true, "tie_embeddings": true,
	})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Config.Format != FormatStateSpaces || m.Config.VocabSize != 256 || m.Config.ConfigVocabSize != 250 {
		t.Errorf("config: format %v vocab %d (declared %d), want state-spaces 256 (250)", m.Config.Format, m.Config.VocabSize, m.Config.ConfigVocabSize)
	}
	if len(m.Warnings) != 1 {
		t.Errorf("warnings %q, want one about the ignored lm_head.weight", m.Warnings)
	}
	got := run(t, m.Module, "prefill", idsTensor(c.Batch, c.SeqLen, int64s(c.InputIDs.Data)))
	checkClose(t, "state-spaces logits", got[0], c.Logits.Shape, c.Logits.Data, refTol)
}

func int64s(f []float64) []int64 {
	out := make([]int64, len(f))
	for i, v := range f {
		out[i] = int64(v)
	}
	return out
}

// bf16Tensor rounds vals to a bf16 tensor.
func bf16Tensor(shape []int64, vals []float32) *ir.Tensor {
	data := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(data[2*i:], half.F32ToBF16(v))
	}
	return &ir.Tensor{DType: ir.BF16, Shape: shape, Data: data}
}

// hasFusedOps reports whether any function of m uses an op flagged Fused
// or an RMSNorm.
func hasFusedOps(m *ir.Module) bool {
	for _, f := range m.Funcs {
		for _, v := range f.Body {
			if v.Op.Info().Has(ir.Fused) || v.Op == ir.OpRMSNorm {
				return true
			}
		}
	}
	return false
}

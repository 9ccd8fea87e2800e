package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/ir"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"backbone.embeddings.weight", EmbeddingName, true},
		{"backbone.embedding.weight", EmbeddingName, true},
		{"model.embed_tokens.weight", EmbeddingName, true},
		{"embeddings.weight", EmbeddingName, true},
		{"backbone.layers.3.mixer.in_proj.weight", "backbone.layers.3.mixer.in_proj.weight", true},
		{"model.layers.0.mixer.A_log", "backbone.layers.0.mixer.A_log", true},
		{"layers.12.norm.weight", "backbone.layers.12.norm.weight", true},
		{"model.norm_f.weight", NormFName, true},
		{"norm_f.weight", NormFName, true},
		{"lm_head.weight", LMHeadName, true},
		{"backbone.lm_head.weight", "backbone.lm_head.weight", false},
		{"transformer.h.0.attn", "transformer.h.0.attn", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// smallConfig is a one-layer tied model for weight-set tests.
func smallConfig() *Config {
	return configOf(Config{DModel: 8, DInner: 16, DState: 4, DConv: 4, DTRank: 2, NLayer: 1, VocabSize: 10, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true})
}

func TestWeightSetErrors(t *testing.T) {
	cfg := smallConfig()
	in := LayerWeight(0, "mixer.in_proj.weight")
	tests := []struct {
		name   string
		mutate func(w map[string]*ir.Tensor)
		want   []string // one line each
	}{
		{"missing", func(w map[string]*ir.Tensor) { delete(w, LayerWeight(0, "mixer.D")) },
			[]string{"missing backbone.layers.0.mixer.D: want [16]"}},
		{"extra", func(w map[string]*ir.Tensor) { w["backbone.layers.0.mixer.bogus"] = w[NormFName] },
			[]string{"unexpected backbone.layers.0.mixer.bogus: [8]"}},
		{"extra layer", func(w map[string]*ir.Tensor) { w[LayerWeight(1, "norm.weight")] = w[NormFName] },
			[]string{"unexpected backbone.layers.1.norm.weight: [8]"}},
		{"wrong shape", func(w map[string]*ir.Tensor) {
			w[in] = ir.TensorFromFloat64s(ir.F32, []int64{32, 9}, make([]float64, 288))
		},
			[]string{"wrong shape backbone.layers.0.mixer.in_proj.weight: want [32,8], have [32,9]"}},
		{"all three, renamed", func(w map[string]*ir.Tensor) {
			w["model.layers.0.mixer.x_proj.weight"] = ir.TensorFromFloat64s(ir.F32, []int64{3}, make([]float64, 3))
			delete(w, LayerWeight(0, "mixer.x_proj.weight"))
			delete(w, NormFName)
			w["model.extra"] = w[EmbeddingName]
		}, []string{
			"missing backbone.norm_f.weight: want [8]",
			"unexpected model.extra: [10,8]",
			"wrong shape model.layers.0.mixer.x_proj.weight (backbone.layers.0.mixer.x_proj.weight): want [10,16], have [3]",
		}},
		{"duplicate", func(w map[string]*ir.Tensor) { w["backbone.embedding.weight"] = w[EmbeddingName] },
			[]string{"duplicate backbone.embeddings.weight (also stored as backbone.embedding.weight)"}},
		{"int dtype", func(w map[string]*ir.Tensor) {
			w[NormFName] = ir.TensorFromFloat64s(ir.I32, []int64{8}, make([]float64, 8))
		},
			[]string{"unsupported dtype backbone.norm_f.weight (i32; want f32, f16 or bf16)"}},
		{"short data", func(w map[string]*ir.Tensor) {
			w[NormFName] = &ir.Tensor{DType: ir.F32, Shape: []int64{8}, Data: make([]byte, 31)}
		}, []string{"bad data backbone.norm_f.weight (f32[8] needs 32 bytes, has 31)"}},
		{"nil tensor", func(w map[string]*ir.Tensor) { w[NormFName] = nil },
			[]string{"missing backbone.norm_f.weight (nil tensor)", "missing backbone.norm_f.weight: want [8]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := randomWeights(cfg, 1, ir.F32)
			tt.mutate(w)
			_, err := Build(cfg, w, Options{})
			var we *WeightsError
			if !errors.As(err, &we) {
				t.Fatalf("error %v, want a *WeightsError", err)
			}
			lines := strings.Split(err.Error(), "\n\t")[1:]
			if len(lines) != len(tt.want) {
				t.Fatalf("error lists %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i := range lines {
				if lines[i] != tt.want[i] {
					t.Errorf("line %d = %q, want %q", i, lines[i], tt.want[i])
				}
			}
		})
	}
}

// TestTiedHead covers a tied model that stores lm_head.weight beside the
// embedding (ignored) or instead of it (used as the embedding), and an
// untied one that lacks it.
func TestTiedHead(t *testing.T) {
	cfg := smallConfig()
	w := randomWeights(cfg, 2, ir.F32)
	emb := w[EmbeddingName]

	w[LMHeadName] = ir.TensorFromFloat64s(ir.F32, emb.Shape, make([]float64, emb.NumElements()))
	m, warn, err := build(cfg, "x", w, nil, Options{})
	if err != nil || len(warn) != 1 || m.Weights[LMHeadName] != nil {
		t.Errorf("tied + lm_head: err %v, warnings %q, lm_head bound %v", err, warn, m != nil && m.Weights[LMHeadName] != nil)
	}

	delete(w, EmbeddingName)
	w[LMHeadName] = emb
	m, warn, err = build(cfg, "x", w, nil, Options{})
	if err != nil || len(warn) != 1 || m.Weights[EmbeddingName] != emb {
		t.Errorf("tied, lm_head only: err %v, warnings %q", err, warn)
	}

	untied := *cfg
	untied.TieEmbeddings = false
	delete(w, LMHeadName)
	w[EmbeddingName] = emb
	_, err = Build(&untied, w, Options{})
	if err == nil || !strings.Contains(err.Error(), "missing lm_head.weight: want [10,8]") {
		t.Errorf("untied without lm_head: %v", err)
	}
}

// TestImportConversions checks zero-copy binding of projections, f32
// conversion of small weights and A = −exp(A_log).
func TestImportConversions(t *testing.T) {
	cfg := smallConfig()
	for _, dt := range []ir.DType{ir.F32, ir.F16, ir.BF16} {
		t.Run(dt.String(), func(t *testing.T) {
			w := randomWeights(cfg, 3, dt)
			// A squeezed conv weight is accepted as stored.
			conv := LayerWeight(0, "mixer.conv1d.weight")
			w[conv] = &ir.Tensor{DType: dt, Shape: []int64{16, 4}, Data: w[conv].Data}
			m, err := Build(cfg, w, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{EmbeddingName, LayerWeight(0, "mixer.in_proj.weight"), LayerWeight(0, "mixer.x_proj.weight")} {
				if got := m.Weights[name]; &got.Data[0] != &w[name].Data[0] || got.DType != dt {
					t.Errorf("%s: not bound zero-copy in %v", name, dt)
				}
			}
			for _, name := range []string{conv, LayerWeight(0, "mixer.D"), LayerWeight(0, "norm.weight"), NormFName} {
				got := m.Weights[name]
				if got.DType != ir.F32 || !equalShape(got.Shape, w[name].Shape) {
					t.Fatalf("%s is %v%v, want f32%v", name, got.DType, got.Shape, w[name].Shape)
				}
				if d := maxDiff(t, name, got.Float64s(), w[name].Float64s()); d != 0 {
					t.Errorf("%s: conversion changed values by %g", name, d)
				}
			}
			alog := w[LayerWeight(0, "mixer.A_log")].Float64s()
			a := m.Weights[AName(0)]
			if a.DType != ir.F32 || m.Weights[LayerWeight(0, "mixer.A_log")] != nil {
				t.Fatalf("A is %v; A_log bound: %v", a.DType, m.Weights[LayerWeight(0, "mixer.A_log")] != nil)
			}
			for i, v := range a.Float64s() {
				if want := float64(float32(-math.Exp(alog[i]))); v != want {
					t.Fatalf("A[%d] = %v, want -exp(%v) = %v", i, v, alog[i], want)
				}
			}
		})
	}
}

func TestAdapterErrors(t *testing.T) {
	cfg := smallConfig()
	w := randomWeights(cfg, 4, ir.F32)
	in := LayerWeight(0, "mixer.in_proj.weight")
	mat := func(r, c int64) *ir.Tensor { return ir.TensorFromFloat64s(ir.F32, []int64{r, c}, make([]float64, r*c)) }
	ok := peft.Adapter{Target: in, A: mat(2, 8), B: mat(32, 2), Rank: 2, Scale: 1}
	tests := []struct {
		name string
		ad   peft.Adapter
		want string
	}{
		{"unknown target", peft.Adapter{Target: "backbone.layers.5.mixer.in_proj.weight", A: ok.A, B: ok.B, Scale: 1}, "not a weight of the model"},
		{"tied lm_head", peft.Adapter{Target: LMHeadName, A: mat(2, 8), B: mat(10, 2), Scale: 1}, "not a weight of the model"},
		{"conv", peft.Adapter{Target: LayerWeight(0, "mixer.conv1d.weight"), A: ok.A, B: ok.B, Scale: 1}, "not a linear or embedding weight"},
		{"A_log", peft.Adapter{Target: LayerWeight(0, "mixer.A_log"), A: ok.A, B: ok.B, Scale: 1}, "not a linear or embedding weight"},
		{"A shape", peft.Adapter{Target: in, A: mat(2, 9), B: ok.B, Scale: 1}, "do not fit"},
		{"B shape", peft.Adapter{Target: in, A: ok.A, B: mat(31, 2), Scale: 1}, "do not fit"},
		{"rank", peft.Adapter{Target: in, A: ok.A, B: ok.B, Rank: 3, Scale: 1}, "Rank 3"},
		{"nil A", peft.Adapter{Target: in, B: ok.B, Scale: 1}, "missing"},
		{"nan scale", peft.Adapter{Target: in, A: ok.A, B: ok.B, Scale: math.NaN()}, "not finite"},
		{"int A", peft.Adapter{Target: in, A: ir.TensorFromFloat64s(ir.I64, []int64{2, 8}, make([]float64, 16)), B: ok.B, Scale: 1}, "want f32"},
		{"embedding flag", peft.Adapter{Target: in, A: ok.A, B: ok.B, Scale: 1, Embedding: true}, "Embedding is true"},
		{"linear on embedding", peft.Adapter{Target: EmbeddingName, A: mat(2, 10), B: mat(8, 2), Scale: 1}, "Embedding is false"},
		{"embedding layout", peft.Adapter{Target: EmbeddingName, A: mat(2, 8), B: mat(10, 2), Scale: 1, Embedding: true}, "do not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(cfg, w, Options{Adapters: []peft.Adapter{ok, tt.ad}})
			if err == nil || !strings.Contains(err.Error(), "adapter 1") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one about adapter 1 containing %q", err, tt.want)
			}
		})
	}
	if _, err := Build(cfg, w, Options{Adapters: []peft.Adapter{ok}}); err != nil {
		t.Errorf("valid adapter: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	cfg := smallConfig()
	w := randomWeights(cfg, 5, ir.F32)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Decomposed: true}, "needs Options.SeqLen"},
		{Options{SeqLen: -1}, "SeqLen -1"},
		{Options{Decomposed: true, SeqLen: MaxUnrolledSteps + 1}, "unrolled"},
		{Options{BatchSymbol: "L"}, "BatchSymbol"},
		{Options{BatchSymbol: "b-1"}, "BatchSymbol"},
		{Options{BatchSymbol: "1B"}, "BatchSymbol"},
	}
	for _, tt := range tests {
		if _, err := Build(cfg, w, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.opts, err, tt.want)
		}
	}
	if _, err := Build(nil, w, Options{}); err == nil {
		t.Error("nil config: no error")
	}
}

// TestLoadErrors covers checkpoint directories Load must reject with a
// clear error.
func TestLoadErrors(t *testing.T) {
	cfg := `{"model_type": "mamba", "hidden_size": 8, "intermediate_size": 16, "state_size": 4,
		"num_hidden_layers": 1, "vocab_size": 10, "time_step_rank": 2}`
	w := randomWeights(smallConfig(), 6, ir.F32)
	write := func(t *testing.T, mutate func([]safetensors.WriteTensor) []safetensors.WriteTensor) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		var ts []safetensors.WriteTensor
		for name, x := range w {
			ts = append(ts, safetensors.WriteTensor{Name: name, DType: safetensors.F32, Shape: x.Shape, Data: x.Data})
		}
		if mutate != nil {
			ts = mutate(ts)
		}
		if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("ok", func(t *testing.T) {
		m, err := Load(write(t, nil), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if len(m.Tensors) != len(w) || m.Tensors[0].Bytes == 0 || m.Tensors[0].DType != "F32" {
			t.Errorf("tensor table %+v", m.Tensors)
		}
	})
	t.Run("sharded", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
		shards := [2][]safetensors.WriteTensor{}
		wm := map[string]string{}
		for name, x := range w {
			i := len(wm) % 2
			shards[i] = append(shards[i], safetensors.WriteTensor{Name: name, DType: safetensors.F32, Shape: x.Shape, Data: x.Data})
			wm[name] = fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)
		}
		for i, ts := range shards {
			if err := safetensors.Write(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)), ts, nil); err != nil {
				t.Fatal(err)
			}
		}
		idx, _ := json.Marshal(map[string]any{"metadata": map[string]string{}, "weight_map": wm})
		os.WriteFile(filepath.Join(dir, safetensors.IndexFileName), idx, 0o644)
		m, err := Load(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if len(m.Tensors) != len(w) || m.Module.Weights[LayerWeight(0, "mixer.in_proj.weight")] == nil {
			t.Errorf("sharded load: %d tensors, want %d", len(m.Tensors), len(w))
		}
	})
	t.Run("u8 dtype", func(t *testing.T) {
		dir := write(t, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			for i := range ts {
				if ts[i].Name == NormFName {
					ts[i] = safetensors.WriteTensor{Name: NormFName, DType: safetensors.U8, Shape: []int64{8}, Data: make([]byte, 8)}
				}
			}
			return ts
		})
		_, err := Load(dir, Options{})
		if err == nil || !strings.Contains(err.Error(), "unsupported dtype backbone.norm_f.weight (U8") ||
			!strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no weights", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
		if _, err := Load(dir, Options{}); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("corrupt file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("\x08\x00\x00\x00\x00\x00\x00\x00{}garbage"), 0o644)
		if _, err := Load(dir, Options{}); err == nil {
			t.Error("no error")
		}
	})
}

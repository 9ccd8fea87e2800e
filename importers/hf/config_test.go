package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const hfTiny = `{"model_type": "mamba", "hidden_size": 64, "intermediate_size": 128, "expand": 2,
 "state_size": 16, "num_hidden_layers": 2, "conv_kernel": 4, "time_step_rank": 4,
 "vocab_size": 256, "layer_norm_epsilon": 1e-05, "use_bias": false, "use_conv_bias": true,
 "tie_word_embeddings": true, "residual_in_fp32": true, "hidden_act": "silu", "pad_vocab_size_multiple": 8}`

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Config
	}{
		{"hf tiny", hfTiny, Config{Format: FormatHF, ModelType: "mamba", Version: 1, DModel: 64, DInner: 128,
			DState: 16, DConv: 4, DTRank: 4, NLayer: 2, VocabSize: 256, ConfigVocabSize: 256, NormEps: 1e-5,
			ConvBias: true, TieEmbeddings: true, ResidualInFP32: true}},
		{"hf defaults", `{"model_type": "mamba", "hidden_size": 100, "num_hidden_layers": 3, "vocab_size": 50280}`,
			Config{Format: FormatHF, ModelType: "mamba", Version: 1, DModel: 100, DInner: 200, DState: 16, DConv: 4,
				DTRank: 7, NLayer: 3, VocabSize: 50280, ConfigVocabSize: 50280, NormEps: 1e-5, ConvBias: true,
				TieEmbeddings: true, ResidualInFP32: true}},
		{"hf expand 1.5, auto rank, biases, untied", `{"model_type": "mamba", "hidden_size": 64.0, "expand": 1.5,
			"num_hidden_layers": 1, "vocab_size": 7, "time_step_rank": "auto", "use_bias": true,
			"use_conv_bias": false, "tie_word_embeddings": false, "layer_norm_epsilon": 1e-6, "intermediate_size": null}`,
			Config{Format: FormatHF, ModelType: "mamba", Version: 1, DModel: 64, DInner: 96, DState: 16, DConv: 4,
				DTRank: 4, NLayer: 1, VocabSize: 7, ConfigVocabSize: 7, NormEps: 1e-6, InProjBias: true, OutProjBias: true,
				ResidualInFP32: true}},
		{"falcon_mamba", `{"model_type": "falcon_mamba", "hidden_size": 4096, "intermediate_size": 8192,
			"state_size": 16, "num_hidden_layers": 64, "vocab_size": 65024, "time_step_rank": 256,
			"mixer_rms_eps": 1e-6, "tie_word_embeddings": false, "residual_in_fp32": true, "use_conv_bias": true}`,
			Config{Format: FormatHF, ModelType: "falcon_mamba", Version: 1, DModel: 4096, DInner: 8192, DState: 16,
				DConv: 4, DTRank: 256, NLayer: 64, VocabSize: 65024, ConfigVocabSize: 65024, NormEps: 1e-5,
				ConvBias: true, ResidualInFP32: true, BCDtRMS: true, MixerRMSEps: 1e-6}},
		{"falcon default eps", `{"model_type": "falcon_mamba", "hidden_size": 16, "num_hidden_layers": 1, "vocab_size": 9}`,
			Config{Format: FormatHF, ModelType: "falcon_mamba", Version: 1, DModel: 16, DInner: 32, DState: 16,
				DConv: 4, DTRank: 1, NLayer: 1, VocabSize: 9, ConfigVocabSize: 9, NormEps: 1e-5,
				ConvBias: true, TieEmbeddings: true, ResidualInFP32: true, BCDtRMS: true, MixerRMSEps: 1e-6}},
		{"state-spaces 130m", `{"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {},
			"rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8}`,
			Config{Format: FormatStateSpaces, ModelType: "mamba", Version: 1, DModel: 768, DInner: 1536, DState: 16,
				DConv: 4, DTRank: 48, NLayer: 24, VocabSize: 50280, ConfigVocabSize: 50277, PadVocabSizeMultiple: 8,
				NormEps: 1e-5, ConvBias: true, TieEmbeddings: true, ResidualInFP32: true}},
		{"state-spaces ssm_cfg", `{"d_model": 64, "n_layer": 2, "vocab_size": 250, "pad_vocab_size_multiple": 16,
			"d_intermediate": 0, "attn_layer_idx": [], "tie_embeddings": false,
			"ssm_cfg": {"layer": "Mamba1", "d_state": 8, "d_conv": 3, "expand": 3, "dt_rank": 5, "conv_bias": false,
			"bias": true, "dt_min": 0.001, "use_fast_path": true}}`,
			Config{Format: FormatStateSpaces, ModelType: "mamba", Version: 1, DModel: 64, DInner: 192, DState: 8,
				DConv: 3, DTRank: 5, NLayer: 2, VocabSize: 256, ConfigVocabSize: 250, PadVocabSizeMultiple: 16,
				NormEps: 1e-5, InProjBias: true, OutProjBias: true, ResidualInFP32: true}},
		{"state-spaces default padding", `{"d_model": 32, "n_layer": 1, "vocab_size": 9}`,
			Config{Format: FormatStateSpaces, ModelType: "mamba", Version: 1, DModel: 32, DInner: 64, DState: 16,
				DConv: 4, DTRank: 2, NLayer: 1, VocabSize: 16, ConfigVocabSize: 9, PadVocabSizeMultiple: 8,
				NormEps: 1e-5, ConvBias: true, TieEmbeddings: true, ResidualInFP32: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("dir/config.json", []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *c); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string // substrings of the error
	}{
		{"not json", `{"model_type": `, []string{"invalid JSON"}},
		{"array", `[1, 2]`, []string{"invalid JSON"}},
		{"null", `null`, []string{"not a JSON object"}},
		{"trailing", `{"model_type": "mamba"} {}`, []string{"trailing data"}},
		{"bad utf8", "{\"model_type\": \"\xff\"}", []string{"UTF-8"}},
		{"no type", `{"hidden_size": 4}`, []string{`"model_type"`, "missing"}},
		{"unknown type", `{"model_type": "llama", "hidden_size": 4}`, []string{`"model_type"`, "llama"}},
		{"mamba2", `{"model_type": "mamba2"}`, []string{`"model_type"`, "Mamba-2"}},
		{"type not string", `{"model_type": 3}`, []string{`"model_type"`, "string"}},
		{"missing hidden_size", `{"model_type": "mamba", "num_hidden_layers": 2, "vocab_size": 8}`, []string{`"hidden_size"`, "missing"}},
		{"missing layers", `{"model_type": "mamba", "hidden_size": 8, "vocab_size": 8}`, []string{`"num_hidden_layers"`, "missing"}},
		{"missing vocab", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1}`, []string{`"vocab_size"`, "missing"}},
		{"string size", `{"model_type": "mamba", "hidden_size": "64", "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"hidden_size"`, "number"}},
		{"zero size", `{"model_type": "mamba", "hidden_size": 0, "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"hidden_size"`, "at least 1"}},
		{"negative state", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "state_size": -3}`, []string{`"state_size"`}},
		{"fractional", `{"model_type": "mamba", "hidden_size": 8.5, "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"hidden_size"`, "integer"}},
		{"absurd layers", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1e12, "vocab_size": 8}`, []string{`"num_hidden_layers"`, "out of range"}},
		{"absurd vocab", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 2097152}`, []string{`"vocab_size"`, "out of range"}},
		{"huge exponent", `{"model_type": "mamba", "hidden_size": 1e400, "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"hidden_size"`}},
		{"kernel 1", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "conv_kernel": 1}`, []string{`"conv_kernel"`, "at least 2"}},
		{"2 × inner × model overflow", `{"model_type": "mamba", "hidden_size": 1048576, "intermediate_size": 1048576, "num_hidden_layers": 1, "vocab_size": 8, "state_size": 1048576}`,
			[]string{"2 × intermediate_size × hidden_size = 2 × 1048576 × 1048576", "exceeds"}},
		{"vocab × hidden", `{"model_type": "mamba", "hidden_size": 1048576, "intermediate_size": 1, "num_hidden_layers": 1, "vocab_size": 131072}`,
			[]string{"vocab_size × hidden_size", "exceeds"}},
		{"d_inner × d_state", `{"model_type": "mamba", "hidden_size": 16, "intermediate_size": 1048576, "num_hidden_layers": 1, "vocab_size": 8, "state_size": 1048576}`,
			[]string{"intermediate_size × state_size", "exceeds"}},
		{"expand too big", `{"model_type": "mamba", "hidden_size": 1048576, "expand": 4, "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"expand"`}},
		{"expand zero", `{"model_type": "mamba", "hidden_size": 8, "expand": 0, "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"expand"`, "positive"}},
		{"inner mismatch", `{"model_type": "mamba", "hidden_size": 8, "expand": 2, "intermediate_size": 20, "num_hidden_layers": 1, "vocab_size": 8}`, []string{`"intermediate_size"`, "expand"}},
		{"rank word", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "time_step_rank": "big"}`, []string{`"time_step_rank"`, "auto"}},
		{"rank zero", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "time_step_rank": 0}`, []string{`"time_step_rank"`}},
		{"eps negative", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "layer_norm_epsilon": -1}`, []string{`"layer_norm_epsilon"`}},
		{"falcon eps", `{"model_type": "falcon_mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "mixer_rms_eps": "x"}`, []string{`"mixer_rms_eps"`}},
		{"bool", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "use_bias": "yes"}`, []string{`"use_bias"`, "true or false"}},
		{"activation", `{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 8, "hidden_act": "gelu"}`, []string{`"hidden_act"`, "gelu"}},
		{"ss missing n_layer", `{"d_model": 8, "vocab_size": 8}`, []string{`"n_layer"`, "missing"}},
		{"ss pad zero", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "pad_vocab_size_multiple": 0}`, []string{`"pad_vocab_size_multiple"`}},
		{"ss padded too big", `{"d_model": 8, "n_layer": 1, "vocab_size": 1048575, "pad_vocab_size_multiple": 1000}`, []string{`"vocab_size"`, "padded"}},
		{"ss mamba2", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "ssm_cfg": {"layer": "Mamba2"}}`, []string{`"ssm_cfg.layer"`, "Mamba2"}},
		{"ss ssm_cfg type", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "ssm_cfg": [1]}`, []string{`"ssm_cfg"`, "object"}},
		{"ss d_state", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "ssm_cfg": {"d_state": 0}}`, []string{`"ssm_cfg.d_state"`}},
		{"ss rank", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "ssm_cfg": {"dt_rank": -1}}`, []string{`"ssm_cfg.dt_rank"`}},
		{"ss layernorm", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "rms_norm": false}`, []string{`"rms_norm"`, "LayerNorm"}},
		{"ss mlp", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "d_intermediate": 32}`, []string{`"d_intermediate"`}},
		{"ss attention", `{"d_model": 8, "n_layer": 1, "vocab_size": 8, "attn_layer_idx": [0]}`, []string{`"attn_layer_idx"`}},
		{"newline in value", "{\"model_type\": \"a\\nb\"}", []string{`"model_type"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("dir/config.json", []byte(tt.json))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range append([]string{"dir/config.json"}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("missing config.json: error %v, want one naming config.json", err)
	}
	big := "{\"model_type\": \"mamba\", \"x\": \"" + strings.Repeat("a", maxConfigBytes) + "\"}"
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized config.json: error %v", err)
	}
	if _, err := os.Stat(filepath.Join(refDir, "config.json")); err != nil {
		t.Skip("reference data absent")
	}
	c, err := LoadConfig(refDir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseConfig(filepath.Join(refDir, "config.json"), []byte(hfTiny))
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("reference config (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	good := Config{Version: 1, DModel: 8, DInner: 16, DState: 4, DConv: 4, DTRank: 1, NLayer: 1, VocabSize: 10}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"version 2", func(c *Config) { c.Version = 2 }, "Version 2"},
		{"zero layers", func(c *Config) { c.NLayer = 0 }, "NLayer = 0"},
		{"conv 1", func(c *Config) { c.DConv = 1 }, "DConv = 1"},
		{"huge", func(c *Config) { c.DState = MaxSize + 1 }, "DState"},
		{"product", func(c *Config) { c.DInner, c.DState = MaxSize, MaxSize }, "DInner × DState"},
		{"declared vocab", func(c *Config) { c.ConfigVocabSize = 11 }, "ConfigVocabSize"},
		{"nan eps", func(c *Config) { c.NormEps = nan() }, "NormEps"},
		{"mixer eps", func(c *Config) { c.MixerRMSEps = -1 }, "MixerRMSEps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	var nilCfg *Config
	if nilCfg.Validate() == nil {
		t.Error("nil config validates")
	}
}

func nan() float64 {
	z := 0.0
	return z / z
}

package hf

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Format is the layout of a checkpoint's config.json.
type Format string

// The config.json layouts Load understands.
const (
	// FormatHF is a Hugging Face transformers config (MambaConfig,
	// FalconMambaConfig): "model_type", "hidden_size", "state_size", ….
	FormatHF Format = "hf"
	// FormatStateSpaces is the original state-spaces/mamba_ssm config:
	// "d_model", "n_layer", "ssm_cfg", ….
	FormatStateSpaces Format = "state-spaces"
)

// Limits on config sizes. Larger values are rejected as corrupt rather
// than allocated.
const (
	// MaxSize bounds every size field (widths, state size, vocabulary,
	// layer count).
	MaxSize = 1 << 20
	// MaxElements bounds the element count of any one weight the config
	// implies (vocab·d_model, 2·d_inner·d_model, d_inner·d_state, …).
	MaxElements = 1 << 36
	// maxConfigBytes bounds the size of config.json.
	maxConfigBytes = 1 << 20
)

// Config is a Mamba model's architecture, read from config.json by
// [LoadConfig] or filled in directly (for example by tests) and checked
// with [Config.Validate].
type Config struct {
	// Format is the config.json layout it was read from.
	Format Format
	// ModelType is "mamba" or "falcon_mamba" (state-spaces configs read as
	// "mamba").
	ModelType string
	// Version is the SSM generation: 1 for Mamba-1, the only one built
	// today. Mamba-2 (multi-head SSD) will be Version 2.
	Version int

	// DModel is the residual width (hidden_size, d_model).
	DModel int
	// DInner is the SSM channel count (intermediate_size, expand·d_model).
	DInner int
	// DState is the state size N per channel (state_size, d_state).
	DState int
	// DConv is the causal convolution width K (conv_kernel, d_conv).
	DConv int
	// DTRank is the rank of the Δ projection (time_step_rank, dt_rank;
	// "auto" is ceil(d_model/16)).
	DTRank int
	// NLayer is the number of Mamba blocks.
	NLayer int

	// VocabSize is the number of embedding rows, which is also the width of
	// the logits. For state-spaces configs it is vocab_size rounded up to a
	// multiple of PadVocabSizeMultiple; HF configs store the padded size
	// already.
	VocabSize int
	// ConfigVocabSize is vocab_size as written in config.json; logits at
	// indices ≥ ConfigVocabSize belong to padding rows.
	ConfigVocabSize int
	// PadVocabSizeMultiple is the padding multiple (state-spaces only; 0
	// for HF configs, whose vocab_size is already padded).
	PadVocabSizeMultiple int

	// NormEps is the epsilon of the block and final RMSNorms.
	NormEps float64
	// InProjBias and OutProjBias: in_proj/out_proj have a bias (HF
	// use_bias, state-spaces ssm_cfg.bias).
	InProjBias, OutProjBias bool
	// ConvBias: conv1d has a bias (use_conv_bias, ssm_cfg.conv_bias).
	ConvBias bool
	// TieEmbeddings: the LM head is the embedding matrix (no lm_head.weight).
	TieEmbeddings bool
	// ResidualInFP32 is recorded for completeness; the IR keeps the
	// residual stream in f32 either way.
	ResidualInFP32 bool

	// BCDtRMS: Δ, B and C are RMS-normalized over their last dim without a
	// weight, with epsilon MixerRMSEps, right after x_proj (Falcon-Mamba).
	BCDtRMS     bool
	MixerRMSEps float64
}

// Validate checks that c describes a model this package can build: sizes in
// [1, MaxSize] (DConv ≥ 2), weights of at most MaxElements elements,
// finite epsilons in [0, 1] and Version 1. Errors name the field.
func (c *Config) Validate() error {
	if c == nil {
		return fmt.Errorf("hf: nil config")
	}
	return c.validate(func(s string) string { return s })
}

// jsonNames maps Config field names to the config.json keys of each format.
var jsonNames = map[Format]map[string]string{
	FormatHF: {"DModel": "hidden_size", "DInner": "intermediate_size", "DState": "state_size",
		"DConv": "conv_kernel", "DTRank": "time_step_rank", "NLayer": "num_hidden_layers",
		"VocabSize": "vocab_size", "NormEps": "layer_norm_epsilon", "MixerRMSEps": "mixer_rms_eps"},
	FormatStateSpaces: {"DModel": "d_model", "DInner": "ssm_cfg.expand", "DState": "ssm_cfg.d_state",
		"DConv": "ssm_cfg.d_conv", "DTRank": "ssm_cfg.dt_rank", "NLayer": "n_layer",
		"VocabSize": "vocab_size", "NormEps": "norm_epsilon", "MixerRMSEps": "mixer_rms_eps"},
}

// validate is Validate with fields named by name.
func (c *Config) validate(name func(string) string) error {
	if c.Version != 1 {
		return fmt.Errorf("hf: config: Version %d is not supported (only Mamba-1, Version 1)", c.Version)
	}
	sizes := []struct {
		field string
		v     int
		min   int
	}{
		{"DModel", c.DModel, 1}, {"DInner", c.DInner, 1}, {"DState", c.DState, 1},
		{"DConv", c.DConv, 2}, {"DTRank", c.DTRank, 1}, {"NLayer", c.NLayer, 1},
		{"VocabSize", c.VocabSize, 1},
	}
	for _, s := range sizes {
		if s.v < s.min || s.v > MaxSize {
			return fmt.Errorf("hf: config: %s = %d, want %d..%d", name(s.field), s.v, s.min, MaxSize)
		}
	}
	if c.ConfigVocabSize < 0 || c.ConfigVocabSize > c.VocabSize {
		return fmt.Errorf("hf: config: ConfigVocabSize = %d, want 0..%d (VocabSize)", c.ConfigVocabSize, c.VocabSize)
	}
	products := []struct {
		fields  []string
		factors []int
	}{
		{[]string{"VocabSize", "DModel"}, []int{c.VocabSize, c.DModel}},
		{[]string{"2", "DInner", "DModel"}, []int{2, c.DInner, c.DModel}},
		{[]string{"DInner", "DState"}, []int{c.DInner, c.DState}},
		{[]string{"DInner", "(DTRank + 2·DState)"}, []int{c.DInner, c.DTRank + 2*c.DState}},
		{[]string{"DInner", "DConv"}, []int{c.DInner, c.DConv}},
	}
	for _, p := range products {
		if _, ok := mulLimit(p.factors...); !ok {
			names := make([]string, len(p.fields))
			for i, f := range p.fields {
				names[i] = name(f)
				if f == "(DTRank + 2·DState)" {
					names[i] = "(" + name("DTRank") + " + 2·" + name("DState") + ")"
				}
			}
			vals := make([]string, len(p.factors))
			for i, f := range p.factors {
				vals[i] = strconv.Itoa(f)
			}
			return fmt.Errorf("hf: config: %s = %s exceeds %d elements (corrupt config?)",
				strings.Join(names, " × "), strings.Join(vals, " × "), int64(MaxElements))
		}
	}
	for _, e := range []struct {
		field string
		v     float64
	}{{"NormEps", c.NormEps}, {"MixerRMSEps", c.MixerRMSEps}} {
		if math.IsNaN(e.v) || math.IsInf(e.v, 0) || e.v < 0 || e.v > 1 {
			return fmt.Errorf("hf: config: %s = %g, want a finite value in [0, 1]", name(e.field), e.v)
		}
	}
	return nil
}

// mulLimit multiplies factors, reporting false once the product passes
// MaxElements (it never overflows).
func mulLimit(factors ...int) (int64, bool) {
	p := int64(1)
	for _, f := range factors {
		if f <= 0 {
			return 0, true
		}
		if p > MaxElements/int64(f) {
			return 0, false
		}
		p *= int64(f)
	}
	return p, true
}

// LoadConfig reads dir/config.json; see [ParseConfig].
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hf: %s: %v", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("hf: %s: larger than %d bytes", path, maxConfigBytes)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a config.json (path is used in messages). It accepts
// Hugging Face configs with model_type "mamba" or "falcon_mamba" and
// original state-spaces configs (recognized by "d_model" without
// "model_type"). Every problem — unknown model type, a missing required
// field, a field of the wrong JSON type, a size out of range — is a
// one-line error naming path and the field.
//
// Defaults follow the upstream config classes: HF state_size 16,
// conv_kernel 4, expand 2, time_step_rank "auto", layer_norm_epsilon 1e-5,
// use_bias false, use_conv_bias true, tie_word_embeddings true,
// mixer_rms_eps 1e-6; state-spaces ssm_cfg {d_state 16, d_conv 4, expand 2,
// dt_rank "auto", conv_bias true, bias false}, pad_vocab_size_multiple 8,
// rms_norm true, tie_embeddings true, norm_epsilon 1e-5. hidden_size /
// d_model, num_hidden_layers / n_layer and vocab_size are required.
func ParseConfig(path string, data []byte) (*Config, error) {
	o, err := parseObject(path, data)
	if err != nil {
		return nil, err
	}
	var c *Config
	switch {
	case o.has("model_type"):
		c, err = parseHF(o)
	case o.has("d_model"):
		c, err = parseStateSpaces(o)
	default:
		return nil, o.errf("model_type", "missing (and no state-spaces d_model either)")
	}
	if err != nil {
		return nil, err
	}
	names := jsonNames[c.Format]
	if err := c.validate(func(f string) string {
		if n, ok := names[f]; ok {
			return n
		}
		return f
	}); err != nil {
		return nil, fmt.Errorf("hf: %s: %s", path, strings.TrimPrefix(trimPrefix(err), "config: "))
	}
	return c, nil
}

func parseHF(o *jsonObject) (*Config, error) {
	mt, err := o.str("model_type", "")
	if err != nil {
		return nil, err
	}
	c := &Config{Format: FormatHF, ModelType: mt, Version: 1}
	switch mt {
	case "mamba":
	case "falcon_mamba":
		c.BCDtRMS = true
	case "mamba2":
		return nil, o.errf("model_type", "%q (Mamba-2) is not supported yet", mt)
	default:
		return nil, o.errf("model_type", "unknown model type %q, want \"mamba\" or \"falcon_mamba\"", clip(mt))
	}
	if act, err := o.str("hidden_act", "silu"); err != nil {
		return nil, err
	} else if act != "silu" {
		return nil, o.errf("hidden_act", "%q is not supported (only \"silu\")", clip(act))
	}
	r := fieldReader{o: o}
	c.DModel = r.size("hidden_size", 0, 1)
	c.NLayer = r.size("num_hidden_layers", 0, 1)
	c.ConfigVocabSize = r.size("vocab_size", 0, 1)
	c.VocabSize = c.ConfigVocabSize
	c.DState = r.size("state_size", 16, 1)
	c.DConv = r.size("conv_kernel", 4, 2)
	expand := r.positive("expand", 2)
	if o.has("intermediate_size") {
		c.DInner = r.size("intermediate_size", 0, 1)
		if r.err == nil && o.has("expand") && math.Floor(expand*float64(c.DModel)) != float64(c.DInner) {
			return nil, o.errf("intermediate_size", "%d disagrees with expand × hidden_size = %g × %d", c.DInner, expand, c.DModel)
		}
	} else if r.err == nil {
		c.DInner = r.derived("expand", expand, c.DModel)
	}
	c.DTRank = r.rank("time_step_rank", c.DModel)
	c.NormEps = r.eps("layer_norm_epsilon", 1e-5)
	bias := r.boolean("use_bias", false)
	c.InProjBias, c.OutProjBias = bias, bias
	c.ConvBias = r.boolean("use_conv_bias", true)
	c.TieEmbeddings = r.boolean("tie_word_embeddings", true)
	c.ResidualInFP32 = r.boolean("residual_in_fp32", true)
	if c.BCDtRMS {
		c.MixerRMSEps = r.eps("mixer_rms_eps", 1e-6)
	}
	if r.err != nil {
		return nil, r.err
	}
	return c, nil
}

func parseStateSpaces(o *jsonObject) (*Config, error) {
	c := &Config{Format: FormatStateSpaces, ModelType: "mamba", Version: 1}
	r := fieldReader{o: o}
	c.DModel = r.size("d_model", 0, 1)
	c.NLayer = r.size("n_layer", 0, 1)
	c.ConfigVocabSize = r.size("vocab_size", 0, 1)
	c.PadVocabSizeMultiple = r.size("pad_vocab_size_multiple", 8, 1)
	if r.err != nil {
		return nil, r.err
	}
	v, m := c.ConfigVocabSize, c.PadVocabSizeMultiple
	c.VocabSize = (v + m - 1) / m * m
	if c.VocabSize > MaxSize {
		return nil, o.errf("vocab_size", "%d padded to a multiple of %d is %d, above %d", v, m, c.VocabSize, MaxSize)
	}
	if n := r.count("d_intermediate"); n > 0 {
		return nil, o.errf("d_intermediate", "%d: blocks with an MLP are not supported", n)
	}
	if o.has("attn_layer_idx") {
		if n, err := o.arrayLen("attn_layer_idx"); err != nil {
			return nil, err
		} else if n > 0 {
			return nil, o.errf("attn_layer_idx", "hybrid attention layers are not supported")
		}
	}
	if !r.boolean("rms_norm", true) && r.err == nil {
		return nil, o.errf("rms_norm", "false (LayerNorm blocks) is not supported")
	}
	c.ResidualInFP32 = r.boolean("residual_in_fp32", true)
	c.TieEmbeddings = r.boolean("tie_embeddings", true)
	c.NormEps = r.eps("norm_epsilon", 1e-5)
	if r.err != nil {
		return nil, r.err
	}
	ssm, err := o.object("ssm_cfg")
	if err != nil {
		return nil, err
	}
	if layer, err := ssm.str("layer", "Mamba1"); err != nil {
		return nil, err
	} else if layer != "Mamba1" {
		return nil, ssm.errf("layer", "%q is not supported (only \"Mamba1\")", clip(layer))
	}
	s := fieldReader{o: ssm}
	c.DState = s.size("d_state", 16, 1)
	c.DConv = s.size("d_conv", 4, 2)
	expand := s.positive("expand", 2)
	if s.err == nil {
		c.DInner = s.derived("expand", expand, c.DModel)
	}
	c.DTRank = s.rank("dt_rank", c.DModel)
	c.ConvBias = s.boolean("conv_bias", true)
	bias := s.boolean("bias", false)
	c.InProjBias, c.OutProjBias = bias, bias
	if s.err != nil {
		return nil, s.err
	}
	return c, nil
}

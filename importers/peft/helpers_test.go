package peft

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
)

// Sizes of the tiny base model the tests adapt.
const (
	tDModel = 4
	tDInner = 8
	tDState = 2
	tDtRank = 1
	tDConv  = 4
	tVocab  = 10
	tLayers = 2
)

// baseShapes returns the normalized weight shapes of a tiny two-layer
// Mamba (tied head unless untied).
func baseShapes(untied bool) map[string][]int64 {
	m := map[string][]int64{
		"backbone.embeddings.weight": {tVocab, tDModel},
		"backbone.norm_f.weight":     {tDModel},
	}
	if untied {
		m["lm_head.weight"] = []int64{tVocab, tDModel}
	}
	for i := 0; i < tLayers; i++ {
		p := fmt.Sprintf("backbone.layers.%d.", i)
		m[p+"norm.weight"] = []int64{tDModel}
		m[p+"mixer.in_proj.weight"] = []int64{2 * tDInner, tDModel}
		m[p+"mixer.conv1d.weight"] = []int64{tDInner, 1, tDConv}
		m[p+"mixer.conv1d.bias"] = []int64{tDInner}
		m[p+"mixer.x_proj.weight"] = []int64{tDtRank + 2*tDState, tDInner}
		m[p+"mixer.dt_proj.weight"] = []int64{tDInner, tDtRank}
		m[p+"mixer.dt_proj.bias"] = []int64{tDInner}
		m[p+"mixer.A_log"] = []int64{tDInner, tDState}
		m[p+"mixer.D"] = []int64{tDInner}
		m[p+"mixer.out_proj.weight"] = []int64{tDModel, tDInner}
	}
	return m
}

// linearShape returns [out, in] of a mixer projection.
func linearShape(proj string) (int64, int64) {
	switch proj {
	case "in_proj":
		return 2 * tDInner, tDModel
	case "x_proj":
		return tDtRank + 2*tDState, tDInner
	case "dt_proj":
		return tDInner, tDtRank
	case "out_proj":
		return tDModel, tDInner
	}
	panic(proj)
}

// tensor is one tensor of a test adapter file; values are f32 unless
// DType says otherwise (raw bytes then come from Raw).
type tensor struct {
	Name  string
	Shape []int64
	Vals  []float64
	DType safetensors.DType
	Raw   []byte
}

// seq returns n values base, base+0.01, …, distinct per tensor.
func seq(n int64, base float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = base + 0.01*float64(i)
	}
	return v
}

// loraPair returns the lora_A/lora_B tensors of a linear mixer projection
// in layer i with rank r, keyed the way PEFT saves them.
func loraPair(prefix string, layer int, proj string, r int64) []tensor {
	out, in := linearShape(proj)
	m := fmt.Sprintf("%sbackbone.layers.%d.mixer.%s", prefix, layer, proj)
	return []tensor{
		{Name: m + ".lora_A.weight", Shape: []int64{r, in}, Vals: seq(r*in, float64(layer)+0.5)},
		{Name: m + ".lora_B.weight", Shape: []int64{out, r}, Vals: seq(out*r, -float64(layer)-0.5)},
	}
}

// allPairs returns rank-r factors for every projection of every layer.
func allPairs(prefix string, r int64, projs ...string) []tensor {
	var ts []tensor
	for l := 0; l < tLayers; l++ {
		for _, p := range projs {
			ts = append(ts, loraPair(prefix, l, p, r)...)
		}
	}
	return ts
}

func f32Bytes(vals []float64) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	}
	return b
}

// writeAdapter writes adapter_config.json (when config is not empty) and
// adapter_model.safetensors (when ts is not nil) into a new temp dir.
func writeAdapter(t *testing.T, config string, ts []tensor) string {
	t.Helper()
	dir := t.TempDir()
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if ts != nil {
		var wts []safetensors.WriteTensor
		for _, x := range ts {
			wt := safetensors.WriteTensor{Name: x.Name, DType: safetensors.F32, Shape: x.Shape, Data: f32Bytes(x.Vals)}
			if x.DType != "" {
				wt.DType, wt.Data = x.DType, x.Raw
			}
			wts = append(wts, wt)
		}
		if err := safetensors.Write(filepath.Join(dir, WeightsFile), wts, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cfgJSON returns an adapter_config.json with the given extra fields
// (a JSON object body without braces) after the common ones.
func cfgJSON(extra string) string {
	s := `{"peft_type": "LORA", "base_model_name_or_path": "tiny", "bias": "none", "fan_in_fan_out": false, "task_type": "CAUSAL_LM", "lora_dropout": 0.0`
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

package peft

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
)

// summary renders an adapter as "target r=R s=S [emb]".
func summary(a Adapter) string {
	s := fmt.Sprintf("%s r=%d s=%.6g", a.Target, a.Rank, a.Scale)
	if a.Embedding {
		s += " emb"
	}
	return s
}

// want builds expected summaries for projections of layers.
func want(layers []int, projs []string, r int, scale float64) []string {
	var out []string
	for _, l := range layers {
		for _, p := range projs {
			out = append(out, fmt.Sprintf("backbone.layers.%d.mixer.%s.weight r=%d s=%.6g", l, p, r, scale))
		}
	}
	return out
}

func joined(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	sort.Strings(out)
	return out
}

var allProjs = []string{"in_proj", "x_proj", "dt_proj", "out_proj"}

// TestLoad loads adapters written in PEFT's layout for many config
// variants and checks which weights are adapted, with what rank and scale,
// and what is replaced.
func TestLoad(t *testing.T) {
	pre := "base_model.model."
	both := []int{0, 1}
	embA := tensor{Name: pre + "backbone.embeddings.lora_embedding_A", Shape: []int64{3, tVocab}, Vals: seq(3*tVocab, 1)}
	embB := tensor{Name: pre + "backbone.embeddings.lora_embedding_B", Shape: []int64{tDModel, 3}, Vals: seq(tDModel*3, 2)}
	tests := []struct {
		name     string
		config   string
		ts       []tensor
		untied   bool
		want     []string
		replaced []string
	}{
		{
			name:   "list of suffixes",
			config: cfgJSON(`"r": 2, "lora_alpha": 4, "target_modules": ["in_proj", "x_proj", "dt_proj", "out_proj"]`),
			ts:     allPairs(pre, 2, allProjs...),
			want:   joined(want(both, allProjs, 2, 2)),
		},
		{
			name:   "rslora",
			config: cfgJSON(`"r": 4, "lora_alpha": 6, "use_rslora": true, "target_modules": ["out_proj"]`),
			ts:     allPairs(pre, 4, "out_proj"),
			want:   joined(want(both, []string{"out_proj"}, 4, 3)),
		},
		{
			name: "rank and alpha patterns",
			config: cfgJSON(`"r": 2, "lora_alpha": 4, "target_modules": ["in_proj", "x_proj"],
				"rank_pattern": {"backbone.layers.1.mixer.in_proj": 3, "in_proj": 1},
				"alpha_pattern": {"layers\\.0\\..*": 8}`),
			ts: append(append(loraPair(pre, 0, "in_proj", 1), loraPair(pre, 1, "in_proj", 3)...),
				append(loraPair(pre, 0, "x_proj", 2), loraPair(pre, 1, "x_proj", 2)...)...),
			want: joined(want([]int{0}, []string{"in_proj"}, 1, 8), want([]int{1}, []string{"in_proj"}, 3, 4.0/3),
				want([]int{0}, []string{"x_proj"}, 2, 4), want([]int{1}, []string{"x_proj"}, 2, 2)),
		},
		{
			name:   "regex target",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": "backbone\\.layers\\.\\d+\\.mixer\\.(in|out)_proj"`),
			ts:     allPairs(pre, 2, "in_proj", "out_proj"),
			want:   joined(want(both, []string{"in_proj", "out_proj"}, 2, 1)),
		},
		{
			name:   "all-linear skips lm_head",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": "all-linear"`),
			ts:     allPairs(pre, 2, allProjs...),
			untied: true,
			want:   joined(want(both, allProjs, 2, 1)),
		},
		{
			name:   "layers_to_transform int",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj", "dt_proj"], "layers_to_transform": 1`),
			ts:     append(loraPair(pre, 1, "in_proj", 2), loraPair(pre, 1, "dt_proj", 2)...),
			want:   joined(want([]int{1}, []string{"in_proj", "dt_proj"}, 2, 1)),
		},
		{
			name:   "layers_to_transform list with pattern",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["x_proj"], "layers_to_transform": [0], "layers_pattern": "layers"`),
			ts:     loraPair(pre, 0, "x_proj", 2),
			want:   want([]int{0}, []string{"x_proj"}, 2, 1),
		},
		{
			name:   "full name ignores layers_to_transform",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["backbone.layers.0.mixer.x_proj", "out_proj"], "layers_to_transform": [1]`),
			ts:     append(loraPair(pre, 0, "x_proj", 2), loraPair(pre, 1, "out_proj", 2)...),
			want:   joined(want([]int{0}, []string{"x_proj"}, 2, 1), want([]int{1}, []string{"out_proj"}, 2, 1)),
		},
		{
			name:   "exclude_modules",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj", "out_proj"], "exclude_modules": ["backbone.layers.0.mixer.out_proj"]`),
			ts:     append(allPairs(pre, 2, "in_proj"), loraPair(pre, 1, "out_proj", 2)...),
			want:   joined(want(both, []string{"in_proj"}, 2, 1), want([]int{1}, []string{"out_proj"}, 2, 1)),
		},
		{
			name:   "embeddings",
			config: cfgJSON(`"r": 3, "lora_alpha": 6, "target_modules": ["embeddings", "dt_proj"]`),
			ts:     append(allPairs(pre, 3, "dt_proj"), embA, embB),
			want:   joined(want(both, []string{"dt_proj"}, 3, 2), []string{"backbone.embeddings.weight r=3 s=2 emb"}),
		},
		{
			name:   "model prefix and default infix",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["x_proj"]`),
			ts: []tensor{
				{Name: "base_model.model.model.layers.0.mixer.x_proj.lora_A.default.weight", Shape: []int64{2, tDInner}, Vals: seq(2*tDInner, 0)},
				{Name: "base_model.model.model.layers.0.mixer.x_proj.lora_B.default.weight", Shape: []int64{5, 2}, Vals: seq(10, 0)},
				{Name: "backbone.layers.1.mixer.x_proj.lora_A.weight", Shape: []int64{2, tDInner}, Vals: seq(2*tDInner, 0)},
				{Name: "backbone.layers.1.mixer.x_proj.lora_B.weight", Shape: []int64{5, 2}, Vals: seq(10, 0)},
			},
			want: want(both, []string{"x_proj"}, 2, 1),
		},
		{
			name:   "modules_to_save",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["out_proj"], "modules_to_save": ["norm_f", "lm_head"]`),
			ts: append(allPairs(pre, 2, "out_proj"),
				tensor{Name: pre + "backbone.norm_f.modules_to_save.default.weight", Shape: []int64{tDModel}, Vals: seq(tDModel, 1)},
				tensor{Name: pre + "lm_head.weight", Shape: []int64{tVocab, tDModel}, Vals: seq(tVocab*tDModel, 1)}),
			untied:   true,
			want:     want(both, []string{"out_proj"}, 2, 1),
			replaced: []string{"backbone.norm_f.weight", "lm_head.weight"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeAdapter(t, tt.config, tt.ts)
			res, err := Load(dir, baseShapes(tt.untied), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range res.Adapters {
				got = append(got, summary(a))
				if a.Source != dir {
					t.Errorf("%s: Source %q, want %q", a.Target, a.Source, dir)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("adapters:\n got %q\nwant %q", got, tt.want)
			}
			var repl []string
			for name := range res.Replacements {
				repl = append(repl, name)
			}
			sort.Strings(repl)
			if !slices.Equal(repl, tt.replaced) {
				t.Errorf("replacements %q, want %q", repl, tt.replaced)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
			checkData(t, tt.ts, res)
		})
	}
}

// checkData checks that every adapter factor and replacement holds the
// values written for its key.
func checkData(t *testing.T, ts []tensor, res *Result) {
	t.Helper()
	byName := map[string][]float64{}
	for _, x := range ts {
		k, _ := parseKey(x.Name)
		suffix := map[keyKind]string{keyA: ".A", keyB: ".B", keyEmbA: ".A", keyEmbB: ".B", keyFull: "." + k.param}[k.kind]
		byName[k.module+suffix] = x.Vals
	}
	check := func(name string, got []float64) {
		w, ok := byName[name]
		if !ok {
			t.Errorf("%s: no tensor was written for it", name)
			return
		}
		if len(got) != len(w) {
			t.Errorf("%s: %d values, want %d", name, len(got), len(w))
			return
		}
		for i := range w {
			if got[i] != float64(float32(w[i])) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], w[i])
				return
			}
		}
	}
	for _, a := range res.Adapters {
		mod := strings.TrimSuffix(a.Target, ".weight")
		check(mod+".A", a.A.Float64s())
		check(mod+".B", a.B.Float64s())
	}
	for name, r := range res.Replacements {
		check(name, r.Float64s())
	}
}

// TestLoadDTypes checks that F16 and BF16 factors keep their dtype and
// values.
func TestLoadDTypes(t *testing.T) {
	for _, dt := range []safetensors.DType{safetensors.F16, safetensors.BF16} {
		t.Run(string(dt), func(t *testing.T) {
			ts := loraPair("base_model.model.", 0, "dt_proj", 2)
			for i := range ts {
				ts[i].DType = dt
				ts[i].Raw = make([]byte, 2*len(ts[i].Vals))
				for j, v := range ts[i].Vals {
					var h uint16
					if dt == safetensors.F16 {
						h = safetensors.F32ToF16(float32(v))
					} else {
						h = safetensors.F32ToBF16(float32(v))
					}
					ts[i].Raw[2*j], ts[i].Raw[2*j+1] = byte(h), byte(h>>8)
				}
			}
			dir := writeAdapter(t, cfgJSON(`"r": 2, "lora_alpha": 1, "target_modules": ["backbone.layers.0.mixer.dt_proj"]`), ts)
			res, err := Load(dir, baseShapes(false), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Adapters) != 1 {
				t.Fatalf("%d adapters, want 1", len(res.Adapters))
			}
			a := res.Adapters[0]
			if a.A.DType.String() != strings.ToLower(string(dt)) || a.B.DType != a.A.DType {
				t.Errorf("dtypes %v/%v, want %s", a.A.DType, a.B.DType, dt)
			}
			for j, v := range ts[0].Vals {
				if d := math.Abs(a.A.At(j) - v); d > 1e-2*math.Abs(v)+1e-3 {
					t.Errorf("A[%d] = %v, want about %v", j, a.A.At(j), v)
				}
			}
		})
	}
}

// TestLoadErrors checks that corrupt configs and files, and names that
// match nothing, are errors naming the directory and the offending key or
// field; unmatched names become warnings with AllowUnmatched while the
// other problems stay errors.
func TestLoadErrors(t *testing.T) {
	pre := "base_model.model."
	okCfg := cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj"]`)
	okTs := allPairs(pre, 2, "in_proj")
	with := func(extra ...tensor) []tensor { return append(slices.Clone(okTs), extra...) }
	without := func(name string) []tensor {
		var out []tensor
		for _, x := range okTs {
			if x.Name != name {
				out = append(out, x)
			}
		}
		return out
	}
	nanA := slices.Clone(okTs)
	nanA[0].Vals = slices.Clone(nanA[0].Vals)
	nanA[0].Vals[3] = math.NaN()
	f64 := slices.Clone(okTs)
	f64[0].DType, f64[0].Raw = safetensors.F64, make([]byte, 8*len(f64[0].Vals))
	in0 := pre + "backbone.layers.0.mixer.in_proj"
	tests := []struct {
		name      string
		config    string
		ts        []tensor
		untied    bool
		wants     []string // substrings of the error
		unmatched bool     // AllowUnmatched makes it a success with warnings
	}{
		{name: "no config", ts: okTs, wants: []string{ConfigFile}},
		{name: "invalid JSON", config: `{"r": 2,`, ts: okTs, wants: []string{ConfigFile, "invalid JSON"}},
		{name: "not an object", config: `[1]`, ts: okTs, wants: []string{"invalid JSON"}},
		{name: "trailing data", config: okCfg + `{}`, ts: okTs, wants: []string{"trailing data"}},
		{name: "bias", config: cfgJSON(`"bias": "all", "target_modules": ["in_proj"]`), ts: okTs, wants: []string{`"bias"`, "all"}},
		{name: "fan_in_fan_out", config: `{"fan_in_fan_out": true, "target_modules": ["in_proj"]}`, ts: okTs, wants: []string{`"fan_in_fan_out"`}},
		{name: "dora", config: cfgJSON(`"use_dora": true, "target_modules": ["in_proj"]`), ts: okTs, wants: []string{`"use_dora"`}},
		{name: "peft type", config: `{"peft_type": "IA3", "target_modules": ["in_proj"]}`, ts: okTs, wants: []string{`"peft_type"`, "IA3"}},
		{name: "layer replication", config: cfgJSON(`"target_modules": ["in_proj"], "layer_replication": [[0, 1]]`), ts: okTs, wants: []string{`"layer_replication"`}},
		{name: "r zero", config: cfgJSON(`"r": 0, "target_modules": ["in_proj"]`), ts: okTs, wants: []string{`"r"`, "want an integer"}},
		{name: "r fraction", config: cfgJSON(`"r": 1.5, "target_modules": ["in_proj"]`), ts: okTs, wants: []string{`"r"`}},
		{name: "r string", config: cfgJSON(`"r": "2", "target_modules": ["in_proj"]`), ts: okTs, wants: []string{`"r"`}},
		{name: "alpha bool", config: cfgJSON(`"lora_alpha": true, "target_modules": ["in_proj"]`), ts: okTs, wants: []string{`"lora_alpha"`}},
		{name: "targets number", config: cfgJSON(`"target_modules": 5`), ts: okTs, wants: []string{`"target_modules"`}},
		{name: "no targets", config: cfgJSON(`"r": 2`), ts: okTs, wants: []string{`"target_modules"`, "missing"}},
		{name: "bad regex", config: cfgJSON(`"target_modules": "in_proj("`), ts: okTs, wants: []string{`"target_modules"`, "regular expression"}},
		{name: "rank pattern value", config: cfgJSON(`"target_modules": ["in_proj"], "rank_pattern": {"in_proj": -1}`), ts: okTs, wants: []string{"rank_pattern.in_proj"}},
		{name: "rank pattern not object", config: cfgJSON(`"target_modules": ["in_proj"], "rank_pattern": [1]`), ts: okTs, wants: []string{`"rank_pattern"`}},
		{name: "alpha pattern bad key", config: cfgJSON(`"target_modules": ["in_proj"], "alpha_pattern": {"(?<=x)": 1}`), ts: okTs, wants: []string{`"alpha_pattern"`}},
		{name: "layers string", config: cfgJSON(`"target_modules": ["in_proj"], "layers_to_transform": "0"`), ts: okTs, wants: []string{`"layers_to_transform"`}},
		{name: "layers negative", config: cfgJSON(`"target_modules": ["in_proj"], "layers_to_transform": [-1]`), ts: okTs, wants: []string{`"layers_to_transform"`}},
		{name: "layers with regex", config: cfgJSON(`"target_modules": ".*in_proj", "layers_to_transform": [0]`), ts: okTs, wants: []string{`"layers_to_transform"`, "regular expression"}},
		{name: "pattern without layers", config: cfgJSON(`"target_modules": ["in_proj"], "layers_pattern": "layers"`), ts: okTs, wants: []string{`"layers_pattern"`}},
		{name: "no weights file", config: okCfg, wants: []string{WeightsFile, "not found"}},
		{name: "corrupt weights file", config: okCfg, ts: []tensor{}, wants: []string{WeightsFile}, unmatched: true},
		{
			name:      "unmatched targets listed",
			config:    cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj", "q_proj", "v_proj"]`),
			ts:        okTs,
			wants:     []string{`"q_proj"`, `"v_proj"`},
			unmatched: true,
		},
		{
			name:      "layers out of range",
			config:    cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj"], "layers_to_transform": [5]`),
			ts:        []tensor{},
			wants:     []string{`"in_proj"`, "layers_to_transform [5]"},
			unmatched: true,
		},
		{
			name:      "key of unknown module",
			config:    okCfg,
			ts:        with(loraPair(pre, 7, "in_proj", 2)...),
			wants:     []string{"backbone.layers.7.mixer.in_proj.lora_A.weight", "backbone.layers.7.mixer.in_proj.lora_B.weight", "not in the base model"},
			unmatched: true,
		},
		{
			name:      "key of untargeted module",
			config:    okCfg,
			ts:        with(loraPair(pre, 0, "x_proj", 2)...),
			wants:     []string{"x_proj.lora_A.weight", "not selected by target_modules"},
			unmatched: true,
		},
		{
			name:      "unknown key layout",
			config:    okCfg,
			ts:        with(tensor{Name: in0 + ".lora_A.other.weight", Shape: []int64{1}, Vals: []float64{1}}),
			wants:     []string{"lora_A.other.weight", "not a LoRA factor"},
			unmatched: true,
		},
		{
			name:      "targeted module without factors",
			config:    okCfg,
			ts:        allPairs(pre, 2, "x_proj")[:0],
			wants:     []string{"module backbone.layers.0.mixer.in_proj", "module backbone.layers.1.mixer.in_proj", "no lora_A"},
			unmatched: true,
		},
		{
			name:      "modules_to_save without tensor",
			config:    cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj"], "modules_to_save": ["norm_f"]`),
			ts:        okTs,
			wants:     []string{`modules_to_save entry "norm_f"`},
			unmatched: true,
		},
		{
			name:      "full weight not in modules_to_save",
			config:    okCfg,
			ts:        with(tensor{Name: pre + "backbone.norm_f.weight", Shape: []int64{tDModel}, Vals: seq(tDModel, 1)}),
			wants:     []string{"backbone.norm_f.weight", "not in modules_to_save"},
			unmatched: true,
		},
		{name: "missing B", config: okCfg, ts: without(in0 + ".lora_B.weight"), wants: []string{in0 + ".lora_A.weight", "no matching B"}},
		{
			name:   "A shape",
			config: okCfg,
			ts: append(without(in0+".lora_A.weight"),
				tensor{Name: in0 + ".lora_A.weight", Shape: []int64{2, tDModel + 1}, Vals: seq(2*(tDModel+1), 0)}),
			wants: []string{in0 + ".lora_A.weight", "shape [2 5], want [2 4]"},
		},
		{name: "rank differs from r", config: cfgJSON(`"r": 3, "lora_alpha": 2, "target_modules": ["in_proj"]`), ts: okTs, wants: []string{"want [3 4]", "r = 3"}},
		{
			name:   "rank_pattern not honoured by file",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj"], "rank_pattern": {"layers.1.mixer.in_proj": 4}`),
			ts:     okTs,
			wants:  []string{"backbone.layers.1.mixer.in_proj.lora_A.weight", "r = 4"},
		},
		{
			name:   "lora_A on embedding",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["embeddings"]`),
			ts: []tensor{
				{Name: pre + "backbone.embeddings.lora_A.weight", Shape: []int64{2, tVocab}, Vals: seq(2*tVocab, 0)},
				{Name: pre + "backbone.embeddings.lora_B.weight", Shape: []int64{tDModel, 2}, Vals: seq(2*tDModel, 0)},
			},
			wants: []string{"backbone.embeddings", "lora_embedding_A"},
		},
		{
			name:   "embedding factors on linear",
			config: okCfg,
			ts: append(without(in0+".lora_A.weight"),
				tensor{Name: in0 + ".lora_embedding_A", Shape: []int64{2, tDModel}, Vals: seq(2*tDModel, 0)}),
			wants: []string{"mixes"},
		},
		{
			name:   "duplicate factor",
			config: okCfg,
			ts:     with(tensor{Name: in0 + ".lora_A.default.weight", Shape: []int64{2, tDModel}, Vals: seq(2*tDModel, 0)}),
			wants:  []string{"duplicates"},
		},
		{name: "norm target", config: cfgJSON(`"target_modules": ["norm"]`), ts: []tensor{}, wants: []string{"backbone.layers.0.norm", "not a linear or embedding layer"}},
		{name: "conv target", config: cfgJSON(`"target_modules": "backbone\\.layers\\.0\\.mixer\\.conv1d"`), ts: []tensor{}, wants: []string{"conv1d", "not a linear or embedding layer"}},
		{name: "NaN factor", config: okCfg, ts: nanA, wants: []string{"element 3 is NaN"}},
		{name: "F64 factor", config: okCfg, ts: f64, wants: []string{"dtype F64"}},
		{
			name:   "replacement shape",
			config: cfgJSON(`"r": 2, "lora_alpha": 2, "target_modules": ["in_proj"], "modules_to_save": ["norm_f"]`),
			ts:     with(tensor{Name: pre + "backbone.norm_f.weight", Shape: []int64{tDModel + 1}, Vals: seq(tDModel+1, 1)}),
			wants:  []string{"backbone.norm_f.weight", "shape [5]"},
		},
		{name: "tied lm_head target", config: cfgJSON(`"target_modules": ["lm_head"]`), ts: []tensor{}, wants: []string{`"lm_head"`}, unmatched: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeAdapter(t, tt.config, tt.ts)
			if tt.name == "corrupt weights file" {
				if err := os.WriteFile(filepath.Join(dir, WeightsFile), []byte("\x10\x00\x00\x00\x00\x00\x00\x00{garbage"), 0o644); err != nil {
					t.Fatal(err)
				}
				tt.unmatched = false
			}
			for _, allow := range []bool{false, true} {
				res, err := Load(dir, baseShapes(tt.untied), Options{AllowUnmatched: allow})
				if allow && tt.unmatched {
					if err != nil {
						t.Fatalf("AllowUnmatched: %v", err)
					}
					all := strings.Join(res.Warnings, "\n")
					for _, w := range tt.wants {
						if !strings.Contains(all, w) {
							t.Errorf("warnings %q lack %q", res.Warnings, w)
						}
					}
					continue
				}
				if err == nil {
					t.Fatalf("AllowUnmatched=%v: no error", allow)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "peft: "+dir+": ") || strings.Contains(msg, "\n") {
					t.Errorf("error %q does not start with the directory on one line", msg)
				}
				for _, w := range tt.wants {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q lacks %q", msg, w)
					}
				}
			}
		})
	}
}

// TestAdapterBin checks the hint for a pickle-only adapter.
func TestAdapterBin(t *testing.T) {
	dir := writeAdapter(t, cfgJSON(`"target_modules": ["in_proj"]`), nil)
	if err := os.WriteFile(filepath.Join(dir, "adapter_model.bin"), []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, baseShapes(false), Options{})
	if err == nil || !strings.Contains(err.Error(), "adapter_model.bin") {
		t.Fatalf("error %v, want a hint about adapter_model.bin", err)
	}
}

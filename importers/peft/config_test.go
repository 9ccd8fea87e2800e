package peft

import (
	"slices"
	"testing"
)

// TestMatchPattern checks rank_pattern/alpha_pattern key matching.
func TestMatchPattern(t *testing.T) {
	m := "backbone.layers.10.mixer.in_proj"
	tests := []struct {
		key  string
		want bool
	}{
		{m, true},
		{"in_proj", true},
		{"mixer.in_proj", true},
		{"layers.10.mixer.in_proj", true},
		{"proj", false},   // not a dot-separated tail
		{"n_proj", false}, // not a dot-separated tail
		{"layers.1.mixer.in_proj", false},
		{`layers\.1\d\.mixer\.in_proj`, true},
		{`.*\.in_proj`, true},
		{`(in|out)_proj`, true},
		{"in_proj|x_proj", true}, // grouped alternation
		{"mixer", false},
		{"in_proj(", false}, // invalid regex, no literal match
	}
	for _, tt := range tests {
		if got := MatchPattern(tt.key, m); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.key, m, got, tt.want)
		}
	}
}

// TestRankAlpha checks that the first matching pattern in file order
// wins and that scales follow alpha/r and alpha/sqrt(r).
func TestRankAlpha(t *testing.T) {
	c, err := ParseConfig([]byte(cfgJSON(`"r": 8, "lora_alpha": 16, "target_modules": ["x"],
		"rank_pattern": {"layers.0.mixer.in_proj": 2, "in_proj": 4, "layers.0.mixer.in_proj.extra": 9},
		"alpha_pattern": {"out_proj": 3, "backbone.layers.1.mixer.out_proj": 5}`)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		module string
		r      int
		alpha  float64
	}{
		{"backbone.layers.0.mixer.in_proj", 2, 16},
		{"backbone.layers.1.mixer.in_proj", 4, 16},
		{"backbone.layers.1.mixer.out_proj", 8, 3},
		{"backbone.layers.1.mixer.x_proj", 8, 16},
	}
	for _, tt := range tests {
		r, a := c.RankAlpha(tt.module)
		if r != tt.r || a != tt.alpha {
			t.Errorf("RankAlpha(%s) = %d, %v, want %d, %v", tt.module, r, a, tt.r, tt.alpha)
		}
	}
	if s := c.Scale(4, 16); s != 4 {
		t.Errorf("Scale(4, 16) = %v, want 4", s)
	}
	c.UseRSLoRA = true
	if s := c.Scale(4, 16); s != 8 {
		t.Errorf("rsLoRA Scale(4, 16) = %v, want 8", s)
	}
}

// TestParseConfigFields checks defaults and the accepted spellings of
// list-or-scalar fields.
func TestParseConfigFields(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		r       int
		alpha   float64
		layers  []int
		pattern []string
		sel     ModuleSelector
		save    []string
	}{
		{"defaults", `{"target_modules": ["in_proj"]}`, 8, 8, nil, nil, ModuleSelector{Names: []string{"in_proj"}}, nil},
		{"nulls", `{"r": 4, "lora_alpha": 8.5, "target_modules": ["a"], "layers_to_transform": null, "layers_pattern": null, "modules_to_save": null, "rank_pattern": {}, "layer_replication": null}`,
			4, 8.5, nil, nil, ModuleSelector{Names: []string{"a"}}, nil},
		{"scalars", `{"r": 2.0, "target_modules": "all-linear", "layers_to_transform": 3, "layers_pattern": "layers", "modules_to_save": "lm_head"}`,
			2, 8, []int{3}, []string{"layers"}, ModuleSelector{AllLinear: true}, []string{"lm_head"}},
		{"lists", `{"target_modules": ["a"], "layers_to_transform": [0, 2], "layers_pattern": ["layers", "h"], "modules_to_save": ["norm_f", "lm_head"]}`,
			8, 8, []int{0, 2}, []string{"layers", "h"}, ModuleSelector{Names: []string{"a"}}, []string{"norm_f", "lm_head"}},
		{"regex", `{"target_modules": "a.*"}`, 8, 8, nil, nil, ModuleSelector{Regex: "a.*", IsRegex: true}, nil},
		{"only modules_to_save", `{"modules_to_save": ["lm_head"]}`, 8, 8, nil, nil, ModuleSelector{}, []string{"lm_head"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			s := c.TargetModules
			if c.R != tt.r || c.LoraAlpha != tt.alpha || !slices.Equal(c.LayersToTransform, tt.layers) ||
				!slices.Equal(c.LayersPattern, tt.pattern) || !slices.Equal(c.ModulesToSave, tt.save) ||
				!slices.Equal(s.Names, tt.sel.Names) || s.Regex != tt.sel.Regex || s.IsRegex != tt.sel.IsRegex || s.AllLinear != tt.sel.AllLinear {
				t.Errorf("got %+v", c)
			}
		})
	}
}

// TestLayerIndex checks layer index extraction for layers_to_transform.
func TestLayerIndex(t *testing.T) {
	tests := []struct {
		module   string
		patterns []string
		want     int
		ok       bool
	}{
		{"backbone.layers.3.mixer.in_proj", nil, 3, true},
		{"backbone.layers.12.mixer.in_proj", []string{"layers"}, 12, true},
		{"backbone.layers.3.mixer.in_proj", []string{"h"}, 0, false},
		{"backbone.layers.3.mixer.in_proj", []string{"h", "layers"}, 3, true},
		{"lm_head", nil, 0, false},
		{"layers.3.mixer", nil, 0, false}, // PEFT needs a component before the list
	}
	for _, tt := range tests {
		got, ok, err := layerIndex(tt.module, tt.patterns)
		if err != nil || ok != tt.ok || got != tt.want {
			t.Errorf("layerIndex(%q, %q) = %d, %v, %v; want %d, %v", tt.module, tt.patterns, got, ok, err, tt.want, tt.ok)
		}
	}
}

// TestParseKey checks key normalization.
func TestParseKey(t *testing.T) {
	tests := []struct {
		in     string
		module string
		kind   keyKind
		param  string
		ok     bool
	}{
		{"base_model.model.backbone.layers.0.mixer.in_proj.lora_A.weight", "backbone.layers.0.mixer.in_proj", keyA, "", true},
		{"base_model.model.model.layers.0.mixer.in_proj.lora_B.default.weight", "backbone.layers.0.mixer.in_proj", keyB, "", true},
		{"layers.1.mixer.x_proj.lora_A.weight", "backbone.layers.1.mixer.x_proj", keyA, "", true},
		{"base_model.model.backbone.embeddings.lora_embedding_A", "backbone.embeddings", keyEmbA, "", true},
		{"base_model.model.backbone.embedding.lora_embedding_B.default", "backbone.embeddings", keyEmbB, "", true},
		{"base_model.model.model.embed_tokens.lora_embedding_B", "backbone.embeddings", keyEmbB, "", true},
		{"base_model.model.lm_head.lora_A.weight", "lm_head", keyA, "", true},
		{"base_model.model.lm_head.modules_to_save.default.weight", "lm_head", keyFull, "weight", true},
		{"base_model.model.backbone.norm_f.weight", "backbone.norm_f", keyFull, "weight", true},
		{"base_model.model.backbone.layers.0.mixer.in_proj.lora_A.other.weight", "", 0, "", false},
		{"lora_A.weight", "", 0, "", false},
		{"base_model.model.a..lora_A.weight", "", 0, "", false},
		{"weight", "", 0, "", false},
	}
	for _, tt := range tests {
		k, ok := parseKey(tt.in)
		if ok != tt.ok || (ok && (k.module != tt.module || k.kind != tt.kind || k.param != tt.param)) {
			t.Errorf("parseKey(%q) = %+v, %v; want %s %d %q %v", tt.in, k, ok, tt.module, tt.kind, tt.param, tt.ok)
		}
	}
}

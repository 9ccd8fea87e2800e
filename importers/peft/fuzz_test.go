package peft

import (
	"strings"
	"testing"
)

// FuzzParseConfig checks that no adapter_config.json makes ParseConfig or
// target selection panic, and that accepted configs have a usable rank.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		cfgJSON(`"r": 2, "lora_alpha": 4, "target_modules": ["in_proj"], "rank_pattern": {"x": 3}`),
		`{"target_modules": "all-linear", "layers_to_transform": 1, "layers_pattern": "layers"}`,
		`{"target_modules": ".*(in|out)_proj", "exclude_modules": "x", "alpha_pattern": {"a.b": 1e3}}`,
		`{"modules_to_save": "lm_head", "r": 1e400}`,
		`{"target_modules": [""], "layers_to_transform": [1, 2.5]}`,
	} {
		f.Add(s)
	}
	mods := modules(baseShapes(true))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig([]byte(s))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if c.R < 1 {
			t.Fatalf("accepted r = %d", c.R)
		}
		if _, err := selectTargets(c, mods); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		for _, m := range mods {
			if r, _ := c.RankAlpha(m.name); r < 1 {
				t.Fatalf("rank %d for %s", r, m.name)
			}
		}
	})
}

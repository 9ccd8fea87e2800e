package hf

import (
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// TestReplacements: modules_to_save replacements give the same model as a
// checkpoint whose weights were swapped by hand, and bad ones are refused.
func TestReplacements(t *testing.T) {
	cfg := configOf(Config{DModel: 16, DInner: 32, DState: 4, DConv: 4, DTRank: 2, NLayer: 2, VocabSize: 30, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true})
	base := randomWeights(cfg, 1, ir.F32)
	other := randomWeights(cfg, 2, ir.F32)
	name := "backbone.layers.1.mixer.out_proj.weight"
	repl := map[string]*ir.Tensor{name: other[name]}
	a, err := Build(cfg, base, Options{Replacements: repl})
	if err != nil {
		t.Fatal(err)
	}
	swapped := map[string]*ir.Tensor{}
	for k, v := range base {
		swapped[k] = v
	}
	swapped[name] = other[name]
	b, err := Build(cfg, swapped, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := idsTensor(1, 5, randomIDs(3, 5, cfg.VocabSize))
	ra, rb := run(t, a, "prefill", ids), run(t, b, "prefill", ids)
	if d := maxDiff(t, "logits", ra[0].Float64s(), rb[0].Float64s()); d != 0 {
		t.Errorf("replacement differs from a swapped checkpoint by %g", d)
	}
	plain := run(t, mustBuild(t, cfg, base), "prefill", ids)
	if d := maxDiff(t, "logits", ra[0].Float64s(), plain[0].Float64s()); d == 0 {
		t.Error("the replacement had no effect")
	}
	for _, bad := range []map[string]*ir.Tensor{
		{"backbone.layers.9.mixer.out_proj.weight": other[name]},
		{name: ir.TensorFromFloat64s(ir.F32, []int64{3, 3}, make([]float64, 9))},
	} {
		if _, err := Build(cfg, base, Options{Replacements: bad}); err == nil || !strings.Contains(err.Error(), "modules_to_save") {
			t.Errorf("bad replacement accepted: %v", err)
		}
	}
}

func mustBuild(t *testing.T, cfg *Config, w map[string]*ir.Tensor) *ir.Module {
	t.Helper()
	m, err := Build(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

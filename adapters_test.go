package ssmc

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/internal/fixture"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// loraFixture is a committed checkpoint with a PEFT adapter on every
// linear layer and the embedding (with rank_pattern ranks).
const loraFixture = "tests/testdata/fixtures/lora-f32-d16-emb"

// compileArtifact compiles the checkpoint dir with the adapter folders
// (fused) under dtype and writes it to path, as ssmc compile does.
func compileArtifact(t *testing.T, dir string, adapters []string, dtype, path string) {
	t.Helper()
	cfg, err := hf.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int64{}
	for _, w := range cfg.Weights() {
		shapes[w.Name] = w.Shape
	}
	var ads []peft.Adapter
	for _, a := range adapters {
		res, err := peft.Load(a, shapes, peft.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ads = append(ads, res.Adapters...)
	}
	ck, err := hf.Load(dir, hf.Options{Adapters: ads})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if _, err := passes.Run(ck.Module, passes.Options{Verify: true, DType: dtype}); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanSection(ck.Module)
	if err != nil {
		t.Fatal(err)
	}
	if err := artifact.Save(path, ck.Module, artifact.Meta{Producer: "test"}, plan); err != nil {
		t.Fatal(err)
	}
}

// otherAdapter writes a second adapter for the fixture: the same targets
// and ranks, other values (each factor scaled and shifted) and another
// lora_alpha (so other scales), or with cfgEdit applied to its config.
func otherAdapter(t *testing.T, cfgEdit func(map[string]any)) string {
	t.Helper()
	src := filepath.Join(loraFixture, "adapter")
	dir := t.TempDir()
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(src, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["lora_alpha"] = 12.0
	if cfgEdit != nil {
		cfgEdit(cfg)
	}
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(src, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []safetensors.WriteTensor
	for i, info := range f.Tensors() {
		vals, err := f.Float32s(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 4*len(vals))
		for j, v := range vals {
			binary.LittleEndian.PutUint32(data[4*j:], math.Float32bits(-0.7*v+0.01*float32((i+j)%5)))
		}
		out = append(out, safetensors.WriteTensor{Name: info.Name, DType: "F32", Shape: info.Shape, Data: data})
	}
	if err := safetensors.Write(filepath.Join(dir, "adapter_model.safetensors"), out, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSwapAdapters compiles the fixture with its adapter, then loads the
// artifact with another adapter in its place, and compares every logit
// with the artifact compiled from scratch with that other adapter: equal
// bit for bit, in f32 and under the bf16 policy (whose narrowed factors
// the swap must narrow the same way). The adapters live in their own
// section of the artifact.
func TestSwapAdapters(t *testing.T) {
	if _, err := os.Stat(loraFixture); err != nil {
		t.Skip(err)
	}
	other := otherAdapter(t, nil)
	tokens := []int{3, 14, 15, 9, 2, 6, 5, 35}
	for _, dtype := range []string{"f32", "bf16"} {
		t.Run(dtype, func(t *testing.T) {
			dir := t.TempDir()
			base, fresh := filepath.Join(dir, "base.ssmc"), filepath.Join(dir, "fresh.ssmc")
			compileArtifact(t, loraFixture, []string{filepath.Join(loraFixture, "adapter")}, dtype, base)
			compileArtifact(t, loraFixture, []string{other}, dtype, fresh)
			art, err := artifact.Load(base)
			if err != nil {
				t.Fatal(err)
			}
			if len(art.Adapters) == 0 {
				t.Error("no adapters section")
			}
			for _, e := range art.Weights {
				if artifact.IsAdapterWeight(e.Name) {
					t.Errorf("adapter factor %s in the base weights section", e.Name)
				}
			}
			art.Close()
			logits := func(path string, opts LoadOptions) []float32 {
				t.Helper()
				m, err := LoadWith(path, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				s, err := m.NewSession(SessionOptions{})
				if err != nil {
					t.Fatal(err)
				}
				all, err := s.PrefillAll(ctx, tokens)
				if err != nil {
					t.Fatal(err)
				}
				next, err := s.Step(ctx, 7)
				if err != nil {
					t.Fatal(err)
				}
				return append(all, next...)
			}
			swapped := logits(base, LoadOptions{Backend: "cpu", Adapters: []string{other}})
			want := logits(fresh, LoadOptions{Backend: "cpu"})
			orig := logits(base, LoadOptions{Backend: "cpu"})
			differs := false
			for i := range want {
				if math.Float32bits(swapped[i]) != math.Float32bits(want[i]) {
					t.Fatalf("logit %d: swapped %g, compiled with the adapter %g", i, swapped[i], want[i])
				}
				differs = differs || orig[i] != want[i]
			}
			if !differs {
				t.Fatal("the other adapter changes nothing: the test cannot tell a swap from none")
			}
		})
	}
}

// TestSwapAdaptersErrors: adapters that do not fit the compiled slots,
// and a model without slots, are refused with what does not fit.
func TestSwapAdaptersErrors(t *testing.T) {
	if _, err := os.Stat(loraFixture); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.ssmc")
	compileArtifact(t, loraFixture, []string{filepath.Join(loraFixture, "adapter")}, "f32", base)
	plain := filepath.Join(dir, "plain.ssmc")
	compileArtifact(t, loraFixture, nil, "f32", plain)
	// Adapters for the same base (same spec and seed) with other LoRA
	// settings, from the fixture generator: one target less, other ranks.
	variant := func(edit func(*fixture.LoRASpec)) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(loraFixture, "fixture.json"))
		if err != nil {
			t.Fatal(err)
		}
		var spec fixture.Spec
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatal(err)
		}
		edit(spec.LoRA)
		out := t.TempDir()
		if err := fixture.Generate(out, spec); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(out, "adapter")
	}
	fewer := variant(func(l *fixture.LoRASpec) { l.Targets = []string{"in_proj", "x_proj", "dt_proj", "out_proj"} })
	rank := variant(func(l *fixture.LoRASpec) { l.RankPattern = nil })
	for _, tc := range []struct {
		name, path string
		adapters   []string
		want       string
	}{
		{"missing folder", base, []string{filepath.Join(dir, "nope")}, "nope"},
		{"a target less", base, []string{fewer}, "fill no LoRA slot 0 on backbone.embeddings.weight"},
		{"another rank", base, []string{rank}, "backbone.layers.0.mixer.x_proj.weight factor A is [4,32] (rank 4), the model's slot is [2,32]"},
		{"two adapters for one", base, []string{otherAdapter(t, nil), otherAdapter(t, nil)}, "no LoRA slot 1"},
		{"no slots", plain, []string{otherAdapter(t, nil)}, "no LoRA adapters kept apart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := LoadWith(tc.path, LoadOptions{Backend: "cpu", Adapters: tc.adapters})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

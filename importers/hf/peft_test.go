package hf

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/ir"
)

// TestPeftAdapterDir writes a PEFT LoRA adapter directory (in_proj and
// x_proj of every layer and the embedding), reads it with peft.Load against
// Config.WeightShapes, and checks the adapted model against merged weights:
// the two packages must agree on layouts and scales.
func TestPeftAdapterDir(t *testing.T) {
	const batch, seq, r, alpha = 2, 4, 2, 6.0
	c := randomConfigs[0].cfg // 3 layers
	c.TieEmbeddings = false   // a merged embedding would change a tied head too
	cfg := configOf(c)
	w := randomWeights(cfg, 77, ir.F32)
	shapes := cfg.WeightShapes()
	rng := rand.New(rand.NewPCG(5, 5))
	var tensors []safetensors.WriteTensor
	var want []peft.Adapter // what the file means, for merging
	put := func(key string, x *ir.Tensor) {
		tensors = append(tensors, safetensors.WriteTensor{Name: key, DType: safetensors.F32, Shape: x.Shape, Data: x.Data})
	}
	for i := 0; i < cfg.NLayer; i++ {
		for _, mod := range []string{"in_proj", "x_proj"} {
			target := LayerWeight(i, "mixer."+mod+".weight")
			ad := randomAdapter(rng, target, shapes[target], r, alpha/r, false)
			key := "base_model.model." + strings.TrimSuffix(target, ".weight")
			put(key+".lora_A.weight", ad.A)
			put(key+".lora_B.weight", ad.B)
			want = append(want, ad)
		}
	}
	emb := randomAdapter(rng, EmbeddingName, shapes[EmbeddingName], r, alpha/r, true)
	put("base_model.model.backbone.embeddings.lora_embedding_A", emb.A)
	put("base_model.model.backbone.embeddings.lora_embedding_B", emb.B)
	want = append(want, emb)

	dir := t.TempDir()
	if err := safetensors.Write(filepath.Join(dir, peft.WeightsFile), tensors, nil); err != nil {
		t.Fatal(err)
	}
	conf, _ := json.Marshal(map[string]any{"peft_type": "LORA", "r": r, "lora_alpha": alpha,
		"target_modules": []string{"in_proj", "x_proj", "embeddings"}, "bias": "none"})
	if err := os.WriteFile(filepath.Join(dir, peft.ConfigFile), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := peft.Load(dir, shapes, peft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Adapters) != len(want) {
		t.Fatalf("peft.Load returned %d adapters, want %d", len(res.Adapters), len(want))
	}

	merged := map[string]*ir.Tensor{}
	for name, x := range w {
		merged[name] = x
	}
	for _, ad := range want {
		merged[ad.Target] = merge(w[ad.Target], []peft.Adapter{ad})
	}
	ids := randomIDs(8, batch*seq, cfg.VocabSize)
	got := checkConsistency(t, cfg, w, res.Adapters, batch, seq, ids)
	mm, err := Build(cfg, merged, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := run(t, mm, "prefill", idsTensor(batch, seq, ids))
	checkClose(t, "peft adapters vs merged weights: logits", got[0], ref[0].Shape, ref[0].Float64s(), consistencyTol)
}

// TestTiedEmbeddingAdapter checks that an embedding adapter on a tied model
// changes only the lookup: the result equals an untied model whose
// embedding is merged and whose lm_head is the base embedding.
func TestTiedEmbeddingAdapter(t *testing.T) {
	const batch, seq = 1, 5
	cfg := configOf(randomConfigs[0].cfg)
	w := randomWeights(cfg, 12, ir.F32)
	ad := randomAdapter(rand.New(rand.NewPCG(3, 4)), EmbeddingName, cfg.WeightShapes()[EmbeddingName], 3, 0.8, true)
	ids := randomIDs(13, batch*seq, cfg.VocabSize)
	got := checkConsistency(t, cfg, w, []peft.Adapter{ad}, batch, seq, ids)

	untied := *cfg
	untied.TieEmbeddings = false
	uw := map[string]*ir.Tensor{}
	for name, x := range w {
		uw[name] = x
	}
	uw[EmbeddingName] = merge(w[EmbeddingName], []peft.Adapter{ad})
	uw[LMHeadName] = w[EmbeddingName]
	m, err := Build(&untied, uw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := run(t, m, "prefill", idsTensor(batch, seq, ids))
	checkClose(t, "tied embedding adapter vs untied merged lookup", got[0], want[0].Shape, want[0].Float64s(), consistencyTol)
}

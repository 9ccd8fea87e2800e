package hf

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
)

// consistencyTol bounds fused vs decomposed and prefill vs step on random
// models: the same f32 math in a different order.
const consistencyTol = 1e-5

// randomConfigs are architectures the reference checkpoint does not cover.
var randomConfigs = []struct {
	name  string
	cfg   Config
	dtype ir.DType
}{
	{"odd-vocab-3-layers", Config{DModel: 16, DInner: 32, DState: 8, DConv: 4, DTRank: 3, NLayer: 3, VocabSize: 37, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}, ir.F32},
	{"falcon-untied", Config{ModelType: "falcon_mamba", DModel: 12, DInner: 24, DState: 5, DConv: 3, DTRank: 2, NLayer: 2, VocabSize: 29, NormEps: 1e-5, ConvBias: true, BCDtRMS: true, MixerRMSEps: 1e-6}, ir.F32},
	{"biases-k2-1-layer", Config{DModel: 8, DInner: 16, DState: 4, DConv: 2, DTRank: 1, NLayer: 1, VocabSize: 50, NormEps: 1e-6, InProjBias: true, OutProjBias: true, TieEmbeddings: true}, ir.F32},
	{"wide-state-k5-f16", Config{DModel: 16, DInner: 24, DState: 32, DConv: 5, DTRank: 8, NLayer: 2, VocabSize: 40, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}, ir.F16},
	{"bf16-falcon", Config{ModelType: "falcon_mamba", DModel: 16, DInner: 32, DState: 16, DConv: 4, DTRank: 1, NLayer: 2, VocabSize: 33, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true, BCDtRMS: true, MixerRMSEps: 1e-6}, ir.BF16},
}

func configOf(c Config) *Config {
	c.Version = 1
	if c.ModelType == "" {
		c.ModelType = "mamba"
	}
	c.Format = FormatHF
	c.ConfigVocabSize = c.VocabSize
	return &c
}

// TestRandomConsistency builds random models of each config and checks
// that the fused prefill, the decomposed prefill, and the fused and
// decomposed steps fed token by token all agree.
func TestRandomConsistency(t *testing.T) {
	const batch, seq = 2, 6
	for i, rc := range randomConfigs {
		t.Run(rc.name, func(t *testing.T) {
			cfg := configOf(rc.cfg)
			w := randomWeights(cfg, uint64(100+i), rc.dtype)
			ids := randomIDs(uint64(i), batch*seq, cfg.VocabSize)
			checkConsistency(t, cfg, w, nil, batch, seq, ids)
		})
	}
}

// checkConsistency compares fused and decomposed prefill and token-by-token
// steps of one model and returns the fused prefill results.
func checkConsistency(t *testing.T, cfg *Config, w map[string]*ir.Tensor, ads []peft.Adapter, batch, seq int, ids []int64) []*ir.Tensor {
	t.Helper()
	fused, err := Build(cfg, w, Options{Adapters: ads})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := Build(cfg, w, Options{Decomposed: true, SeqLen: seq, Adapters: ads})
	if err != nil {
		t.Fatal(err)
	}
	if hasFusedOps(dec) {
		t.Fatal("decomposed module contains fused ops")
	}
	in := idsTensor(batch, seq, ids)
	pf := run(t, fused, "prefill", in)
	pd := run(t, dec, "prefill", in)
	for i, name := range resultNames {
		checkClose(t, "prefill decomposed vs fused "+name, pd[i], pf[i].Shape, pf[i].Float64s(), consistencyTol)
	}
	v := int64(cfg.VocabSize)
	logits := pf[0].Float64s()
	for _, m := range []struct {
		name string
		mod  *ir.Module
	}{{"fused", fused}, {"decomposed", dec}} {
		cs, ss := zeroStates(cfg, batch)
		worst := 0.0
		for ti := 0; ti < seq; ti++ {
			out := run(t, m.mod, "step", idsTensor(batch, 1, column(ids, batch, seq, ti)), cs, ss)
			want := make([]float64, 0, batch*int(v))
			for b := 0; b < batch; b++ {
				off := (b*seq + ti) * int(v)
				want = append(want, logits[off:off+int(v)]...)
			}
			worst = max(worst, maxDiff(t, "step logits", out[0].Float64s(), want))
			cs, ss = out[1], out[2]
		}
		t.Logf("%s step ×%d vs fused prefill logits: max abs diff %.3g", m.name, seq, worst)
		if worst > consistencyTol {
			t.Errorf("%s step logits differ from prefill by %.3g > %g", m.name, worst, consistencyTol)
		}
		checkClose(t, m.name+" step final conv_state", cs, pf[1].Shape, pf[1].Float64s(), consistencyTol)
		checkClose(t, m.name+" step final ssm_state", ss, pf[2].Shape, pf[2].Float64s(), consistencyTol)
	}
	return pf
}

// TestSeqShorterThanKernel prefills fewer tokens than the conv width: the
// conv state must hold zeros before the tokens, as a step sequence does.
func TestSeqShorterThanKernel(t *testing.T) {
	cfg := configOf(randomConfigs[3].cfg) // d_conv 5
	w := randomWeights(cfg, 5, ir.F32)
	for _, seq := range []int{1, 2} {
		t.Run(fmt.Sprint(seq), func(t *testing.T) {
			checkConsistency(t, cfg, w, nil, 1, seq, randomIDs(9, seq, cfg.VocabSize))
		})
	}
}

// randomAdapter makes a LoRA adapter for target with factors A [r, in],
// B [out, r] (A [r, vocab], B [dim, r] for an embedding).
func randomAdapter(rng *rand.Rand, target string, base []int64, r int, scale float64, emb bool) peft.Adapter {
	out, in := base[0], base[1]
	if emb { // E [vocab, dim]: A [r, vocab], B [dim, r]
		out, in = in, out
	}
	gen := func(shape ...int64) *ir.Tensor {
		vals := make([]float64, shape[0]*shape[1])
		for i := range vals {
			vals[i] = 0.2 * rng.NormFloat64()
		}
		return ir.TensorFromFloat64s(ir.F32, shape, vals)
	}
	return peft.Adapter{Target: target, A: gen(int64(r), in), B: gen(out, int64(r)), Rank: r, Scale: scale, Embedding: emb, Source: "test"}
}

// merge returns W + Σ s·B·A for the adapters (W [out,in]; for an embedding
// E [vocab, dim], E + Σ s·(B·A)ᵀ), computed in float64 and stored as f32:
// an independent statement of what an adapter means.
func merge(w *ir.Tensor, ads []peft.Adapter) *ir.Tensor {
	rows, cols := int(w.Shape[0]), int(w.Shape[1])
	vals := w.Float64s()
	for _, ad := range ads {
		a, b := ad.A.Float64s(), ad.B.Float64s()
		r := int(ad.A.Shape[0])
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				s := 0.0
				for k := 0; k < r; k++ {
					if ad.Embedding { // E[i,j] += s·B[j,k]·A[k,i]
						s += b[j*r+k] * a[k*rows+i]
					} else { // W[i,j] += s·B[i,k]·A[k,j]
						s += b[i*r+k] * a[k*cols+j]
					}
				}
				vals[i*cols+j] += ad.Scale * s
			}
		}
	}
	return ir.TensorFromFloat64s(ir.F32, w.Shape, vals)
}

// TestAdaptersMatchMergedWeights applies LoRA adapters (two on one
// in_proj, one each on x_proj, dt_proj, out_proj, lm_head and the
// embedding) and checks the logits equal those of a model whose weights
// were merged beforehand; fused (LoRAMatMul) and decomposed forms and the
// step must agree as well.
func TestAdaptersMatchMergedWeights(t *testing.T) {
	const batch, seq = 2, 5
	cfg := configOf(randomConfigs[1].cfg) // untied, falcon
	w := randomWeights(cfg, 42, ir.F32)
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := cfg.WeightShapes()
	var ads []peft.Adapter
	add := func(target string, r int, scale float64, emb bool) {
		ads = append(ads, randomAdapter(rng, target, shapes[target], r, scale, emb))
	}
	add(LayerWeight(0, "mixer.in_proj.weight"), 4, 2.0, false)
	add(LayerWeight(0, "mixer.in_proj.weight"), 2, 0.5, false)
	add(LayerWeight(1, "mixer.x_proj.weight"), 3, 1.0, false)
	add(LayerWeight(1, "mixer.dt_proj.weight"), 1, 1.5, false)
	add(LayerWeight(0, "mixer.out_proj.weight"), 2, 0.7, false)
	add(LMHeadName, 2, 0.25, false)
	add(EmbeddingName, 3, 1.0, true)

	merged := map[string]*ir.Tensor{}
	byTarget := map[string][]peft.Adapter{}
	for _, ad := range ads {
		byTarget[ad.Target] = append(byTarget[ad.Target], ad)
	}
	for name, t := range w {
		merged[name] = t
		if a := byTarget[name]; a != nil {
			merged[name] = merge(t, a)
		}
	}
	ids := randomIDs(3, batch*seq, cfg.VocabSize)
	got := checkConsistency(t, cfg, w, ads, batch, seq, ids)

	fused, err := Build(cfg, w, Options{Adapters: ads})
	if err != nil {
		t.Fatal(err)
	}
	if n := countOps(fused, "prefill", ir.OpLoRAMatMul); n != 5 {
		t.Errorf("fused prefill has %d LoRAMatMul, want 5 (one per adapted linear weight)", n)
	}
	mm, err := Build(cfg, merged, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := run(t, mm, "prefill", idsTensor(batch, seq, ids))
	d := checkClose(t, "adapters vs merged weights: logits", got[0], want[0].Shape, want[0].Float64s(), consistencyTol)
	plain, err := Build(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := run(t, plain, "prefill", idsTensor(batch, seq, ids))
	if db := maxDiff(t, "base", base[0].Float64s(), want[0].Float64s()); db < 100*max(d, 1e-7) {
		t.Errorf("adapters change the logits by only %.3g (merge agreement %.3g): test is not sensitive", db, d)
	}
}

func countOps(m *ir.Module, fn string, op ir.Op) int {
	n := 0
	for _, v := range m.Func(fn).Body {
		if v.Op == op {
			n++
		}
	}
	return n
}

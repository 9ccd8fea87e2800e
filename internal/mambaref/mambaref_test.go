package mambaref

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomWeights returns weights of cfg with values in the ranges of a
// trained model (A_log = log(1..N), positive dt bias, small projections).
func randomWeights(cfg Config, seed uint64) Weights {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := Weights{}
	for name, shape := range cfg.Shapes() {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			switch {
			case strings.HasSuffix(name, "A_log"):
				v[i] = math.Log(float64(i%cfg.DState + 1))
			case strings.HasSuffix(name, "norm.weight"), strings.HasSuffix(name, "norm_f.weight"), strings.HasSuffix(name, "mixer.D"):
				v[i] = 1 + 0.1*rng.NormFloat64()
			case strings.HasSuffix(name, "dt_proj.bias"):
				v[i] = -3 + rng.Float64()
			case strings.Contains(name, "conv1d"):
				v[i] = rng.Float64() - 0.5
			default:
				v[i] = 0.3 * rng.NormFloat64()
			}
		}
		w[name] = v
	}
	return w
}

func randomIDs(rng *rand.Rand, b, l, vocab int) [][]int {
	ids := make([][]int, b)
	for i := range ids {
		for range l {
			ids[i] = append(ids[i], rng.IntN(vocab))
		}
	}
	return ids
}

func maxDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		if d := math.Abs(a[i] - b[i]); !(d <= m) {
			m = d
		}
	}
	return m
}

// TestStepMatchesForward checks that Forward (convolution over the padded
// sequence, then the scan) and token-by-token Step (shifting conv state)
// agree on logits at every position and on the final states, for shapes
// where the sequence is shorter than, equal to and longer than DConv.
func TestStepMatchesForward(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		b, l int
	}{
		{"tied k4 l9", Config{DModel: 8, DInner: 16, DState: 4, DConv: 4, DtRank: 2, NLayer: 2, Vocab: 11, Eps: 1e-5, TiedHead: true}, 2, 9},
		{"untied k4 l2", Config{DModel: 6, DInner: 12, DState: 3, DConv: 4, DtRank: 1, NLayer: 1, Vocab: 7, Eps: 1e-6}, 3, 2},
		{"k1", Config{DModel: 4, DInner: 8, DState: 2, DConv: 1, DtRank: 3, NLayer: 3, Vocab: 5, Eps: 1e-5, TiedHead: true}, 1, 5},
		{"k3 l3", Config{DModel: 5, DInner: 7, DState: 5, DConv: 3, DtRank: 2, NLayer: 2, Vocab: 9, Eps: 0}, 2, 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := randomWeights(tt.cfg, uint64(i))
			ids := randomIDs(rand.New(rand.NewPCG(uint64(i), 1)), tt.b, tt.l, tt.cfg.Vocab)
			logits, st, err := Forward(tt.cfg, w, ids)
			if err != nil {
				t.Fatal(err)
			}
			s := NewState(tt.cfg, tt.b)
			for p := 0; p < tt.l; p++ {
				tok := make([]int, tt.b)
				want := make([][]float64, tt.b)
				for b := range tok {
					tok[b] = ids[b][p]
					want[b] = logits[b][p]
				}
				got, err := Step(tt.cfg, w, s, tok)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(flatten(got), flatten(want)); d > 1e-12 {
					t.Fatalf("position %d: step logits differ from forward by %g", p, d)
				}
			}
			if d := maxDiff(s.Conv, st.Conv); d > 1e-12 {
				t.Errorf("conv state differs by %g", d)
			}
			if d := maxDiff(s.SSM, st.SSM); d > 1e-12 {
				t.Errorf("ssm state differs by %g", d)
			}
			nonzero := false
			for _, v := range st.SSM {
				nonzero = nonzero || v != 0
			}
			if !nonzero {
				t.Error("ssm state is all zero")
			}
		})
	}
}

// TestConvStateWindow checks the conv state layout directly: with an
// identity-like in_proj on a one-layer model, x_t is known, and the state
// must hold x_{L-K..L-1} oldest first, zero before the first token.
func TestConvStateWindow(t *testing.T) {
	cfg := Config{DModel: 2, DInner: 2, DState: 1, DConv: 4, DtRank: 1, NLayer: 1, Vocab: 3, Eps: 0, TiedHead: true}
	w := randomWeights(cfg, 3)
	// Embedding rows are (v+1, 0): RMSNorm with unit weight maps them to
	// (√2, 0); in_proj row 0 picks the first component, row 1 the second.
	w[EmbeddingName] = []float64{1, 0, 2, 0, 3, 0}
	w[LayerName(0, "norm.weight")] = []float64{1, 1}
	inProj := make([]float64, 2*cfg.DInner*cfg.DModel)
	inProj[0*2+0] = 1 // x[0] = hn[0]
	inProj[1*2+1] = 1 // x[1] = hn[1] = 0
	w[LayerName(0, "mixer.in_proj.weight")] = inProj
	s2 := math.Sqrt2
	for _, tt := range []struct {
		n    int
		want []float64 // channel 0's window; channel 1 is all zero
	}{
		{1, []float64{0, 0, 0, s2}},
		{3, []float64{0, s2, s2, s2}},
		{6, []float64{s2, s2, s2, s2}},
	} {
		ids := [][]int{make([]int, tt.n)}
		for i := range ids[0] {
			ids[0][i] = i % 3
		}
		_, st, err := Forward(cfg, w, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]float64(nil), tt.want...), 0, 0, 0, 0)
		if d := maxDiff(st.Conv, want); d > 1e-12 {
			t.Errorf("L=%d: conv state %v, want %v", tt.n, st.Conv, want)
		}
	}
}

// TestHead checks the LM head on a model whose out_proj is zero, so that
// every layer leaves h unchanged: logits[v] = Σ_i RMSNorm_f(E[id])_i ·
// head[v][i], computed here by hand; and that an untied head equal to the
// embedding gives the tied result.
func TestHead(t *testing.T) {
	cfg := Config{DModel: 3, DInner: 4, DState: 2, DConv: 2, DtRank: 1, NLayer: 2, Vocab: 2, Eps: 0.5}
	w := randomWeights(cfg, 9)
	for i := 0; i < cfg.NLayer; i++ {
		w[LayerName(i, "mixer.out_proj.weight")] = make([]float64, cfg.DModel*cfg.DInner)
	}
	w[EmbeddingName] = []float64{1, 2, 2, 0, -3, 4}
	w[NormFName] = []float64{1, 2, 0.5}
	w[LMHeadName] = []float64{1, 0, 0, 0, 1, -1}
	logits, _, err := Forward(cfg, w, [][]int{{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	// Token 0: E = (1,2,2), mean square 3, /sqrt(3.5), times (1,2,0.5).
	r0 := 1 / math.Sqrt(3.5)
	// Token 1: E = (0,-3,4), mean square 25/3, /sqrt(25/3+0.5).
	r1 := 1 / math.Sqrt(25.0/3+0.5)
	want := []float64{1 * r0, (4 - 1) * r0, 0, (-6 - 2) * r1}
	if d := maxDiff(flatten(logits), want); d > 1e-12 {
		t.Errorf("untied logits %v, want %v", flatten(logits), want)
	}

	ids := [][]int{{1, 0, 1}}
	tiedCfg := cfg
	tiedCfg.TiedHead = true
	w[LMHeadName] = w[EmbeddingName]
	tied, _, err := Forward(tiedCfg, w, ids)
	if err != nil {
		t.Fatal(err)
	}
	untied, _, err := Forward(cfg, w, ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(flatten(tied), flatten(untied)); d != 0 {
		t.Errorf("tied and untied-with-embedding heads differ by %g", d)
	}
}

// TestErrors checks that bad configs, weights, ids and states are errors,
// not panics.
func TestErrors(t *testing.T) {
	cfg := Config{DModel: 4, DInner: 8, DState: 2, DConv: 3, DtRank: 1, NLayer: 1, Vocab: 5, Eps: 1e-5, TiedHead: true}
	good := randomWeights(cfg, 1)
	with := func(name string, v []float64) Weights {
		w := Weights{}
		for k, x := range good {
			w[k] = x
		}
		if v == nil {
			delete(w, name)
		} else {
			w[name] = v
		}
		return w
	}
	tests := []struct {
		name string
		cfg  Config
		w    Weights
		ids  [][]int
		want string
	}{
		{"zero size", Config{DModel: 0, DInner: 8, DState: 2, DConv: 3, DtRank: 1, NLayer: 1, Vocab: 5}, good, [][]int{{1}}, "DModel = 0"},
		{"huge size", Config{DModel: 4, DInner: 8, DState: 2, DConv: 3, DtRank: 1, NLayer: 1, Vocab: MaxSize + 1}, good, [][]int{{1}}, "Vocab"},
		{"nan eps", Config{DModel: 4, DInner: 8, DState: 2, DConv: 3, DtRank: 1, NLayer: 1, Vocab: 5, Eps: math.NaN()}, good, [][]int{{1}}, "Eps"},
		{"missing", cfg, with(LayerName(0, "mixer.D"), nil), [][]int{{1}}, "missing backbone.layers.0.mixer.D"},
		{"short", cfg, with(LayerName(0, "mixer.x_proj.weight"), make([]float64, 3)), [][]int{{1}}, "x_proj.weight has 3 elements, want 40"},
		{"untied without head", Config{DModel: 4, DInner: 8, DState: 2, DConv: 3, DtRank: 1, NLayer: 1, Vocab: 5}, good, [][]int{{1}}, "missing lm_head.weight"},
		{"empty ids", cfg, good, nil, "empty"},
		{"empty row", cfg, good, [][]int{{}}, "empty"},
		{"ragged", cfg, good, [][]int{{1, 2}, {1}}, "row 1 has 1 tokens"},
		{"negative id", cfg, good, [][]int{{1, -1}}, "input_ids[0][1] = -1"},
		{"id too large", cfg, good, [][]int{{5}}, "input_ids[0][0] = 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Forward(tt.cfg, tt.w, tt.ids)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Forward error %v, want one containing %q", err, tt.want)
			}
			if len(tt.ids) == 1 && len(tt.ids[0]) == 1 {
				_, err := Step(tt.cfg, tt.w, NewState(cfg, 1), tt.ids[0])
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Step error %v, want one containing %q", err, tt.want)
				}
			}
		})
	}

	other := cfg
	other.DState = 3
	for _, st := range []*State{nil, NewState(other, 1), NewState(cfg, 2), {NLayer: 1, Batch: 1, DInner: 8, DConv: 3, DState: 2}} {
		if _, err := Step(cfg, good, st, []int{1}); err == nil {
			t.Errorf("Step accepted state %+v", st)
		}
	}
	if _, err := Step(cfg, good, NewState(cfg, 1), []int{7}); err == nil {
		t.Error("Step accepted token 7 of a vocab of 5")
	}
}

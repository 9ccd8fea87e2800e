package ssmc

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/ir"
)

var ctx = context.Background()

// testModel builds a small random Mamba-1 model (seeded) through the
// checkpoint importer's IR builder.
func testModel(t testing.TB, seed uint64) *Model {
	t.Helper()
	m, err := FromModule(buildTestModule(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// buildTestModule builds testModel's IR and weights.
func buildTestModule(t testing.TB, seed uint64) *ir.Module {
	t.Helper()
	cfg := &hf.Config{Format: hf.FormatHF, ModelType: "mamba", Version: 1, DModel: 24, DInner: 48, DState: 8,
		DConv: 4, DTRank: 3, NLayer: 2, VocabSize: 61, ConfigVocabSize: 61, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	weights := map[string]*ir.Tensor{}
	for _, s := range cfg.Weights() {
		n := 1
		for _, d := range s.Shape {
			n *= int(d)
		}
		vals := make([]float64, n)
		for i := range vals {
			switch {
			case strings.HasSuffix(s.Name, "A_log"):
				vals[i] = math.Log(float64(i%cfg.DState + 1))
			case strings.HasSuffix(s.Name, "dt_proj.bias"):
				dt := math.Exp(math.Log(1e-3) + rng.Float64()*(math.Log(1e-1)-math.Log(1e-3)))
				vals[i] = dt + math.Log(-math.Expm1(-dt))
			case strings.HasSuffix(s.Name, ".D") || strings.Contains(s.Name, "norm"):
				vals[i] = 1 + 0.1*rng.NormFloat64()
			default:
				vals[i] = 0.2 * rng.NormFloat64()
			}
		}
		weights[s.Name] = ir.TensorFromFloat64s(ir.F32, s.Shape, vals)
	}
	mod, err := hf.Build(cfg, weights, hf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func tokens(seed uint64, n, vocab int) []int {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([]int, n)
	for i := range out {
		out[i] = rng.IntN(vocab)
	}
	return out
}

// TestPrefillEqualsSteps: prefill's last logits equal feeding the same
// tokens one by one (the first through Prefill of length 1).
func TestPrefillEqualsSteps(t *testing.T) {
	m := testModel(t, 1)
	for _, n := range []int{1, 2, 7, 19} {
		prompt := tokens(uint64(n), n, m.VocabSize())
		a, _ := m.NewSession(SessionOptions{})
		want, err := a.Prefill(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]float32(nil), want...)
		b, _ := m.NewSession(SessionOptions{})
		got, err := b.Prefill(ctx, prompt[:1])
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range prompt[1:] {
			if got, err = b.Step(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if d := maxDiff(want, got); d > 1e-5 {
			t.Errorf("L=%d: prefill vs steps differ by %g", n, d)
		}
	}
}

// TestBatchSlots: a batch of 3 with different prompt lengths decodes each
// slot exactly as a batch-1 session would.
func TestBatchSlots(t *testing.T) {
	m := testModel(t, 2)
	v := m.VocabSize()
	prompts := [][]int{tokens(1, 5, v), tokens(2, 9, v), tokens(3, 2, v)}
	batch, err := m.NewSession(SessionOptions{Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	singles := make([]*Session, 3)
	for i, p := range prompts {
		if _, err := batch.PrefillSlot(ctx, i, p); err != nil {
			t.Fatal(err)
		}
		singles[i], _ = m.NewSession(SessionOptions{})
		if _, err := singles[i].Prefill(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for step := 0; step < 4; step++ {
		toks := tokens(uint64(10+step), 3, v)
		got, err := batch.StepBatch(ctx, toks)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range singles {
			want, err := s.Step(ctx, toks[i])
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(want, got[i*v:(i+1)*v]); d > 1e-5 {
				t.Errorf("step %d slot %d differs by %g", step, i, d)
			}
		}
	}
}

// TestSnapshotRestore: snapshot, run on, restore, run the same tokens
// again: bit-identical logits; also through MarshalBinary and into a Fork.
func TestSnapshotRestore(t *testing.T) {
	m := testModel(t, 3)
	s, _ := m.NewSession(SessionOptions{})
	if _, err := s.Prefill(ctx, tokens(4, 6, m.VocabSize())); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	cont := tokens(5, 5, m.VocabSize())
	run := func(s *Session) []float32 {
		var out []float32
		for _, tok := range cont {
			l, err := s.Step(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, l...)
		}
		return out
	}
	fork, err := s.Fork()
	if err != nil {
		t.Fatal(err)
	}
	first := run(s)
	if err := s.Restore(snap); err != nil {
		t.Fatal(err)
	}
	again := run(s)
	b, _ := snap.MarshalBinary()
	var back State
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	fresh, _ := m.NewSession(SessionOptions{})
	if err := fresh.Restore(&back); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]float32{"restore": again, "fork": run(fork), "unmarshal": run(fresh)} {
		for i := range first {
			if math.Float32bits(first[i]) != math.Float32bits(got[i]) {
				t.Fatalf("%s: logit %d is %v, uninterrupted %v", name, i, got[i], first[i])
			}
		}
	}
	if fresh.Pos() != 6+len(cont) {
		t.Errorf("pos = %d", fresh.Pos())
	}
	b[len(b)/2] ^= 1
	if err := back.UnmarshalBinary(b); err == nil {
		t.Error("corrupt snapshot accepted")
	}
	other, _ := m.NewSession(SessionOptions{Batch: 2})
	if err := other.Restore(snap); err == nil {
		t.Error("snapshot of batch 1 restored into batch 2")
	}
}

// TestStepAllocs: a warm Step allocates nothing.
func TestStepAllocs(t *testing.T) {
	m := testModel(t, 4)
	s, _ := m.NewSession(SessionOptions{})
	if _, err := s.Prefill(ctx, []int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	s.Step(ctx, 1)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := s.Step(ctx, 7); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Step allocates %v times per call", allocs)
	}
}

// TestStability decodes many steps (the Lyapunov property: the scan is
// contractive) and checks that logits stay finite and the state bounded.
func TestStability(t *testing.T) {
	steps := 100000
	if testing.Short() {
		steps = 5000
	}
	m := testModel(t, 5)
	s, _ := m.NewSession(SessionOptions{})
	if _, err := s.Prefill(ctx, []int{3}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	maxNorm := 0.0
	for i := 0; i < steps; i++ {
		l, err := s.Step(ctx, rng.IntN(m.VocabSize()))
		if err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 || i == steps-1 {
			for _, x := range l {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("step %d: non-finite logit", i)
				}
			}
			for _, st := range s.state[s.cur] {
				n := 0.0
				for _, x := range st.F32 {
					n += float64(x) * float64(x)
				}
				maxNorm = math.Max(maxNorm, math.Sqrt(n))
			}
		}
	}
	if maxNorm > 1e4 || math.IsNaN(maxNorm) {
		t.Errorf("state norm reached %g", maxNorm)
	}
	t.Logf("%d steps, max state norm %.3g", steps, maxNorm)
}

// TestConcurrentSessions shares one Model among goroutines (run with -race).
func TestConcurrentSessions(t *testing.T) {
	m := testModel(t, 6)
	prompt := tokens(7, 8, m.VocabSize())
	ref, _ := m.NewSession(SessionOptions{})
	want, _ := ref.Prefill(ctx, prompt)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.NewSession(SessionOptions{})
			if err != nil {
				errs <- err.Error()
				return
			}
			for k := 0; k < 3; k++ {
				got, err := s.Prefill(ctx, prompt)
				if err != nil || maxDiff(got, want) != 0 {
					errs <- "concurrent prefill differs"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestSessionErrors(t *testing.T) {
	m := testModel(t, 7)
	s, _ := m.NewSession(SessionOptions{})
	if _, err := s.Prefill(ctx, nil); err != ErrEmptyPrompt {
		t.Errorf("empty prompt: %v", err)
	}
	if _, err := s.Prefill(ctx, []int{m.VocabSize()}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := m.NewSession(SessionOptions{Batch: -1}); err == nil {
		t.Error("negative batch accepted")
	}
	b, _ := m.NewSession(SessionOptions{Batch: 2})
	if _, err := b.Step(ctx, 1); err == nil {
		t.Error("Step on a batch session")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Prefill(cancelled, []int{1, 2}); err != context.Canceled {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestGenerate(t *testing.T) {
	m := testModel(t, 8)
	s, _ := m.NewSession(SessionOptions{})
	prompt := []int{1, 2, 3}
	var greedy []int
	for tok, err := range s.Generate(ctx, prompt, GenerateOptions{MaxTokens: 6}) {
		if err != nil {
			t.Fatal(err)
		}
		greedy = append(greedy, tok)
	}
	// Greedy decoding is the argmax of each step, checked independently.
	c, _ := m.NewSession(SessionOptions{})
	l, _ := c.Prefill(ctx, prompt)
	for i, tok := range greedy {
		best := 0
		for k := range l {
			if l[k] > l[best] {
				best = k
			}
		}
		if best != tok {
			t.Fatalf("token %d: generated %d, argmax %d", i, tok, best)
		}
		l, _ = c.Step(ctx, tok)
	}
	if len(greedy) != 6 {
		t.Errorf("%d tokens, want 6", len(greedy))
	}
	sample := func(seed uint64) []int {
		var out []int
		for tok, err := range s.Generate(ctx, prompt, GenerateOptions{MaxTokens: 8, Temperature: 1.5, TopK: 20, TopP: 0.9, RepetitionPenalty: 1.3, Seed: seed}) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok)
		}
		return out
	}
	a, b := sample(1), sample(1)
	if len(a) != 8 || strings.Trim(strings.Repeat("x", 0), "") != "" {
		t.Fatal(len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed gave %v and %v", a, b)
		}
	}
	var stopped []int
	for tok := range s.Generate(ctx, prompt, GenerateOptions{MaxTokens: 50, Stop: []int{greedy[2]}}) {
		stopped = append(stopped, tok)
	}
	if len(stopped) > 3 || stopped[len(stopped)-1] != greedy[2] {
		t.Errorf("stop token: got %v (greedy %v)", stopped, greedy)
	}
	for _, err := range s.Generate(ctx, prompt, GenerateOptions{TopP: 2}) {
		if err == nil {
			t.Error("TopP 2 accepted")
		}
	}
}

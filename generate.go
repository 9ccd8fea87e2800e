package ssmc

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"sort"
)

// GenerateOptions control decoding. The zero value decodes greedily up to
// 16 tokens.
type GenerateOptions struct {
	// MaxTokens is the number of tokens to generate (default 16).
	MaxTokens int
	// Temperature divides the logits before sampling; 0 means greedy
	// (argmax) decoding.
	Temperature float64
	// TopK keeps the K most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// adds up to at least TopP (0 or 1: all).
	TopP float64
	// RepetitionPenalty > 1 makes tokens already in the prompt or output
	// less likely: positive logits are divided by it, negative ones
	// multiplied (the CTRL / Hugging Face rule). 0 or 1: off.
	RepetitionPenalty float64
	// Seed makes sampling reproducible.
	Seed uint64
	// Stop ends generation after any of these tokens (which is yielded).
	Stop []int
}

// Generate prefills prompt and yields generated tokens one by one, each
// with a nil error; on failure it yields (-1, err) and stops. Breaking out
// of the loop stops generation. The session keeps the state after the last
// token.
func (s *Session) Generate(ctx context.Context, prompt []int, opts GenerateOptions) iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		if err := opts.check(); err != nil {
			yield(-1, err)
			return
		}
		n := opts.MaxTokens
		if n == 0 {
			n = 16
		}
		smp := newSampler(s.m.vocab, opts)
		for _, t := range prompt {
			smp.seen(t)
		}
		logits, err := s.Prefill(ctx, prompt)
		for i := 0; i < n; i++ {
			if err != nil {
				yield(-1, err)
				return
			}
			tok := smp.pick(logits)
			smp.seen(tok)
			if !yield(tok, nil) {
				return
			}
			if smp.stop[tok] || i == n-1 {
				return
			}
			logits, err = s.Step(ctx, tok)
		}
	}
}

func (o *GenerateOptions) check() error {
	switch {
	case o.MaxTokens < 0:
		return fmt.Errorf("ssmc: MaxTokens %d < 0", o.MaxTokens)
	case o.Temperature < 0 || math.IsNaN(o.Temperature):
		return fmt.Errorf("ssmc: Temperature %v < 0", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("ssmc: TopK %d < 0", o.TopK)
	case o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("ssmc: TopP %v outside [0, 1]", o.TopP)
	case o.RepetitionPenalty < 0:
		return fmt.Errorf("ssmc: RepetitionPenalty %v < 0", o.RepetitionPenalty)
	}
	return nil
}

// sampler picks tokens from logits; its buffers are allocated once.
type sampler struct {
	opts    GenerateOptions
	rng     *rand.Rand
	used    []bool
	stop    map[int]bool
	scratch []float32
	order   []int
}

func newSampler(vocab int, opts GenerateOptions) *sampler {
	sm := &sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		used: make([]bool, vocab), stop: map[int]bool{}, scratch: make([]float32, vocab), order: make([]int, vocab)}
	for _, t := range opts.Stop {
		sm.stop[t] = true
	}
	return sm
}

func (sm *sampler) seen(tok int) {
	if tok >= 0 && tok < len(sm.used) {
		sm.used[tok] = true
	}
}

// pick applies the repetition penalty, then greedy or temperature / top-k
// / top-p sampling.
func (sm *sampler) pick(logits []float32) int {
	l := sm.scratch
	copy(l, logits)
	if p := float32(sm.opts.RepetitionPenalty); p > 0 && p != 1 {
		for i, u := range sm.used {
			if u {
				if l[i] > 0 {
					l[i] /= p
				} else {
					l[i] *= p
				}
			}
		}
	}
	if sm.opts.Temperature == 0 {
		best := 0
		for i, x := range l {
			if x > l[best] {
				best = i
			}
		}
		return best
	}
	for i := range sm.order {
		sm.order[i] = i
	}
	sort.Slice(sm.order, func(a, b int) bool { return l[sm.order[a]] > l[sm.order[b]] })
	k := len(l)
	if sm.opts.TopK > 0 && sm.opts.TopK < k {
		k = sm.opts.TopK
	}
	// softmax over the kept candidates at the temperature
	maxL := float64(l[sm.order[0]])
	probs := make([]float64, k)
	sum := 0.0
	for i := 0; i < k; i++ {
		probs[i] = math.Exp((float64(l[sm.order[i]]) - maxL) / sm.opts.Temperature)
		sum += probs[i]
	}
	if p := sm.opts.TopP; p > 0 && p < 1 {
		acc := 0.0
		for i := 0; i < k; i++ {
			acc += probs[i] / sum
			if acc >= p {
				k = i + 1
				break
			}
		}
		sum = 0
		for i := 0; i < k; i++ {
			sum += probs[i]
		}
	}
	r := sm.rng.Float64() * sum
	for i := 0; i < k; i++ {
		r -= probs[i]
		if r <= 0 {
			return sm.order[i]
		}
	}
	return sm.order[k-1]
}

package ssmc

import (
	"context"
	"errors"
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

// SessionOptions configure a Session.
type SessionOptions struct {
	// Batch is the number of sequences decoded together (default 1). Each
	// slot has its own state; see PrefillSlot and StepBatch.
	Batch int
}

// Session holds the recurrent state of one sequence (or Batch sequences)
// and runs the model on it. Memory does not grow with the number of tokens:
// each Step reads the state and writes the next one in place. A Session is
// not safe for concurrent use; use one per goroutine (they may share a
// Model).
type Session struct {
	m     *Model
	batch int
	// state[cur] is the current state; Step writes state[1-cur] and flips.
	state [2][]*cpu.Tensor
	cur   int
	pos   []int // tokens seen per slot
	step  backend.Instance
	// prefill instances by prompt length, for batch 1 (a few kept)
	prefill map[int]backend.Instance
	one     *stepper      // prefills a model without @prefill
	zeros   []*cpu.Tensor // zero states for a @prefill that takes them
	ids     *cpu.Tensor   // step input ids [batch, 1]
	logits  []float32     // step logits, [batch, V]
	inputs  []*cpu.Tensor
	outputs []*cpu.Tensor
}

// NewSession starts a session with zero state.
func (m *Model) NewSession(opts SessionOptions) (*Session, error) {
	b := opts.Batch
	if b == 0 {
		b = 1
	}
	if b < 0 || b > 4096 {
		return nil, fmt.Errorf("ssmc: batch %d out of range [1, 4096]", b)
	}
	s := &Session{m: m, batch: b, pos: make([]int, b), prefill: map[int]backend.Instance{}}
	for k := 0; k < 2; k++ {
		for _, t := range m.states {
			dims, err := ir.EvalShape(t.Shape, map[string]int64{BatchSymbol: int64(b)})
			if err != nil {
				return nil, fmt.Errorf("ssmc: state shape %v: %w", t.Shape, err)
			}
			s.state[k] = append(s.state[k], newF32(dims))
		}
	}
	inst, err := m.step.Instantiate(map[string]int64{BatchSymbol: int64(b)})
	if err != nil {
		return nil, err
	}
	s.step = inst
	s.ids = &cpu.Tensor{DType: ir.I64, Shape: []int{b, 1}, I64: make([]int64, b)}
	s.logits = make([]float32, b*m.vocab)
	s.inputs = make([]*cpu.Tensor, 1+len(m.states))
	s.outputs = make([]*cpu.Tensor, 1+len(m.states))
	return s, nil
}

func newF32(dims []int64) *cpu.Tensor {
	shape := make([]int, len(dims))
	n := 1
	for i, d := range dims {
		shape[i] = int(d)
		n *= int(d)
	}
	return &cpu.Tensor{DType: ir.F32, Shape: shape, F32: make([]float32, n)}
}

// Batch is the number of sequence slots.
func (s *Session) Batch() int { return s.batch }

// Pos is the number of tokens slot 0 has consumed.
func (s *Session) Pos() int { return s.pos[0] }

// ErrEmptyPrompt is returned by Prefill for an empty token list.
var ErrEmptyPrompt = errors.New("ssmc: empty prompt")

// Prefill resets the session (slot 0) and runs the prompt through the
// model in one pass. It returns the logits of the last prompt token; the
// slice is valid until the next call on the session.
func (s *Session) Prefill(ctx context.Context, tokens []int) ([]float32, error) {
	return s.PrefillSlot(ctx, 0, tokens)
}

// PrefillAll is Prefill returning the logits of every prompt position,
// [len(tokens) × VocabSize] row-major (a new slice).
func (s *Session) PrefillAll(ctx context.Context, tokens []int) ([]float32, error) {
	all, err := s.prefillSlot(ctx, 0, tokens)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), all...), nil
}

// PrefillSlot resets slot and runs the prompt for it (the other slots keep
// their state): how a sequence joins a batch.
func (s *Session) PrefillSlot(ctx context.Context, slot int, tokens []int) ([]float32, error) {
	all, err := s.prefillSlot(ctx, slot, tokens)
	if err != nil {
		return nil, err
	}
	v := s.m.vocab
	out := s.logits[slot*v : (slot+1)*v]
	copy(out, all[(len(tokens)-1)*v:])
	return out, nil
}

// prefillSlot runs the prompt for slot and returns the logits of all
// positions (valid until the next prefill).
func (s *Session) prefillSlot(ctx context.Context, slot int, tokens []int) ([]float32, error) {
	if slot < 0 || slot >= s.batch {
		return nil, fmt.Errorf("ssmc: slot %d out of range [0, %d)", slot, s.batch)
	}
	if len(tokens) == 0 {
		return nil, ErrEmptyPrompt
	}
	if err := s.checkTokens(tokens); err != nil {
		return nil, err
	}
	if s.m.prefill == nil {
		return s.prefillByStepping(ctx, slot, tokens)
	}
	inst := s.prefill[len(tokens)]
	if inst == nil {
		var err error
		inst, err = s.m.prefill.Instantiate(map[string]int64{BatchSymbol: 1, SeqSymbol: int64(len(tokens))})
		if err != nil {
			return nil, err
		}
		if len(s.prefill) >= 4 {
			clear(s.prefill)
		}
		s.prefill[len(tokens)] = inst
	}
	ids := &cpu.Tensor{DType: ir.I64, Shape: []int{1, len(tokens)}, I64: make([]int64, len(tokens))}
	for i, t := range tokens {
		ids.I64[i] = int64(t)
	}
	in := []*cpu.Tensor{ids}
	if s.m.prefillStates {
		// @prefill takes the states too: it starts from zero states.
		if s.zeros == nil {
			for _, t := range s.m.states {
				dims, err := ir.EvalShape(t.Shape, map[string]int64{BatchSymbol: 1})
				if err != nil {
					return nil, err
				}
				s.zeros = append(s.zeros, newF32(dims))
			}
		}
		in = append(in, s.zeros...)
	}
	res, err := inst.Run(ctx, in, nil)
	if err != nil {
		return nil, err
	}
	// Copy the slot's state out of the prefill results.
	for k := range s.m.states {
		copySlot(s.state[s.cur][k], slot, res[1+k], 0)
	}
	s.pos[slot] = len(tokens)
	return res[0].F32, nil
}

// prefillByStepping is prefillSlot for a model without @prefill: @step
// at batch 1 from zero states, once per token, collecting the logits of
// every position. It computes what a prefill would, one token at a time.
func (s *Session) prefillByStepping(ctx context.Context, slot int, tokens []int) ([]float32, error) {
	m := s.m
	if s.one == nil {
		inst, err := m.step.Instantiate(map[string]int64{BatchSymbol: 1})
		if err != nil {
			return nil, err
		}
		s.one = &stepper{inst: inst, ids: &cpu.Tensor{DType: ir.I64, Shape: []int{1, 1}, I64: make([]int64, 1)}}
		for k := 0; k < 2; k++ {
			for _, t := range m.states {
				dims, err := ir.EvalShape(t.Shape, map[string]int64{BatchSymbol: 1})
				if err != nil {
					return nil, err
				}
				s.one.state[k] = append(s.one.state[k], newF32(dims))
			}
		}
		s.one.in = make([]*cpu.Tensor, 1+len(m.states))
		s.one.out = make([]*cpu.Tensor, 1+len(m.states))
	}
	o := s.one
	for _, t := range o.state[0] {
		clear(t.F32)
	}
	cur := 0
	v := m.vocab
	if cap(o.logits) < len(tokens)*v {
		o.logits = make([]float32, len(tokens)*v)
	}
	all := o.logits[:len(tokens)*v]
	for i, tok := range tokens {
		o.ids.I64[0] = int64(tok)
		o.in[0] = o.ids
		for k := range m.states {
			o.in[1+k], o.out[1+k] = o.state[cur][k], o.state[1-cur][k]
		}
		o.out[0] = nil
		res, err := o.inst.Run(ctx, o.in, o.out)
		if err != nil {
			return nil, err
		}
		copy(all[i*v:(i+1)*v], res[0].F32)
		cur = 1 - cur
	}
	for k := range m.states {
		copySlot(s.state[s.cur][k], slot, o.state[cur][k], 0)
	}
	s.pos[slot] = len(tokens)
	return all, nil
}

// stepper is a batch-1 @step instance with its own double-buffered
// states: how a model without @prefill prefills.
type stepper struct {
	inst    backend.Instance
	ids     *cpu.Tensor
	state   [2][]*cpu.Tensor
	in, out []*cpu.Tensor
	logits  []float32
}

// copySlot copies batch entry src of the state tensor from (dims
// [layers, B, ...]) into entry dst of to.
func copySlot(to *cpu.Tensor, dst int, from *cpu.Tensor, src int) {
	layers := to.Shape[0]
	inner := 1
	for _, d := range to.Shape[2:] {
		inner *= d
	}
	bt, bf := to.Shape[1], from.Shape[1]
	for l := 0; l < layers; l++ {
		copy(to.F32[(l*bt+dst)*inner:(l*bt+dst+1)*inner], from.F32[(l*bf+src)*inner:(l*bf+src+1)*inner])
	}
}

func (s *Session) checkTokens(tokens []int) error {
	for _, t := range tokens {
		if t < 0 || t >= s.m.vocab {
			return fmt.Errorf("ssmc: token %d out of range [0, %d)", t, s.m.vocab)
		}
	}
	return nil
}

// Step feeds one token to slot 0 (a batch-1 session) and returns the next
// logits, valid until the next call.
func (s *Session) Step(ctx context.Context, token int) ([]float32, error) {
	if s.batch != 1 {
		return nil, fmt.Errorf("ssmc: Step on a session of batch %d; use StepBatch", s.batch)
	}
	var one [1]int
	one[0] = token
	l, err := s.StepBatch(ctx, one[:])
	if err != nil {
		return nil, err
	}
	return l[:s.m.vocab], nil
}

// StepBatch feeds one token per slot and returns the logits of all slots,
// [Batch × VocabSize] row-major, valid until the next call.
func (s *Session) StepBatch(ctx context.Context, tokens []int) ([]float32, error) {
	if len(tokens) != s.batch {
		return nil, fmt.Errorf("ssmc: %d tokens for a batch of %d", len(tokens), s.batch)
	}
	if err := s.checkTokens(tokens); err != nil {
		return nil, err
	}
	for i, t := range tokens {
		s.ids.I64[i] = int64(t)
	}
	cur, next := s.state[s.cur], s.state[1-s.cur]
	s.inputs[0] = s.ids
	copy(s.inputs[1:], cur)
	s.outputs[0] = nil
	copy(s.outputs[1:], next)
	res, err := s.step.Run(ctx, s.inputs, s.outputs)
	if err != nil {
		return nil, err
	}
	copy(s.logits, res[0].F32)
	s.cur = 1 - s.cur
	for i := range s.pos {
		s.pos[i]++
	}
	return s.logits, nil
}

// Reset zeroes the state of every slot.
func (s *Session) Reset() {
	for _, t := range s.state[s.cur] {
		clear(t.F32)
	}
	clear(s.pos)
}

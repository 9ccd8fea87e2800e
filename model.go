package ssmc

import (
	"fmt"
	"sync"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	"github.com/ssmc-dev/ssmc/runtime/tokenizer"
)

// Model is a loaded, compiled model. It is safe for concurrent use by many
// Sessions.
type Model struct {
	art     *artifact.Model
	backend backend.Backend
	prefill backend.Program
	step    backend.Program
	vocab   int
	// states are the step function's state arguments (after input_ids),
	// with the batch dimension symbolic.
	states []ir.Type
	names  []string
	tok    *tokenizer.Tokenizer
	mu     sync.Mutex
	closed bool
}

// BatchSymbol is the symbolic dimension the runtime binds to the number of
// sequences; SeqSymbol is bound to the prompt length in prefill.
const (
	BatchSymbol = "B"
	SeqSymbol   = "L"
)

// Load opens a compiled model.
func Load(path string) (*Model, error) {
	art, err := artifact.Load(path)
	if err != nil {
		return nil, err
	}
	m, err := newModel(art.Module)
	if err != nil {
		art.Close()
		return nil, fmt.Errorf("ssmc: %s: %w", path, err)
	}
	m.art = art
	if b, ok := art.File.Section(PlanSectionName); ok {
		progs := map[string]backend.Program{"prefill": m.prefill, "step": m.step}
		if err := checkPlans(b, progs); err != nil {
			art.Close()
			return nil, fmt.Errorf("ssmc: %s: %w", path, err)
		}
	}
	if b, ok := art.File.Section(TokenizerSection); ok {
		tok, err := tokenizer.Parse(b)
		if err != nil {
			art.Close()
			return nil, fmt.Errorf("ssmc: %s: embedded tokenizer: %w", path, err)
		}
		m.tok = tok
	}
	return m, nil
}

// TokenizerSection is the artifact section holding the model's
// tokenizer.json, when the checkpoint had one.
const TokenizerSection = "tokenizer"

// Tokenizer returns the model's embedded tokenizer, or nil when it was
// compiled without one (then prompts are token ids).
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// FromModule builds a Model from IR with bound weights (what the compiler
// produces before it writes an artifact). The module must provide
//
//	@prefill(input_ids: i64[B,L]) -> (logits: f32[B,L,V], states...)
//	@step(input_ids: i64[B,1], states...) -> (logits: f32[B,V], states...)
//
// with the same state types in both.
func FromModule(mod *ir.Module) (*Model, error) { return newModel(mod) }

func newModel(mod *ir.Module) (*Model, error) {
	pf, sf := mod.Func("prefill"), mod.Func("step")
	if pf == nil || sf == nil {
		return nil, fmt.Errorf("the model needs functions @prefill and @step")
	}
	if len(sf.Args) < 1 || len(pf.Args) != 1 {
		return nil, fmt.Errorf("@prefill must take input_ids only and @step input_ids and the state")
	}
	states := make([]ir.Type, 0, len(sf.Args)-1)
	var names []string
	for i, a := range sf.Args[1:] {
		if len(sf.Results) != len(sf.Args) || len(pf.Results) != len(sf.Args) {
			return nil, fmt.Errorf("@step and @prefill must return logits and the %d states", len(sf.Args)-1)
		}
		if !sf.Results[i+1].Type.Equal(a.Type) || !pf.Results[i+1].Type.Equal(a.Type) {
			return nil, fmt.Errorf("state %s is %v in @step's arguments, %v / %v in the results", a.Name, a.Type, sf.Results[i+1].Type, pf.Results[i+1].Type)
		}
		if a.Type.DType != ir.F32 {
			return nil, fmt.Errorf("state %s is %v; states are f32", a.Name, a.Type.DType)
		}
		states = append(states, a.Type)
		names = append(names, a.Name)
	}
	lt := sf.Results[0].Type
	if lt.Shape.Rank() != 2 || !lt.Shape[1].IsStatic() {
		return nil, fmt.Errorf("@step logits are %v, want f32[B,V]", lt)
	}
	be := backend.Backend(backend.CPU{})
	pp, err := be.Compile(pf, mod.Weights)
	if err != nil {
		return nil, err
	}
	sp, err := be.Compile(sf, mod.Weights)
	if err != nil {
		return nil, err
	}
	return &Model{backend: be, prefill: pp, step: sp, vocab: int(lt.Shape[1].Off), states: states, names: names}, nil
}

// Backend names the backend the model runs on ("cpu").
func (m *Model) Backend() string { return m.backend.Name() }

// VocabSize is the number of logits per token.
func (m *Model) VocabSize() int { return m.vocab }

// StateBytes is the size of one sequence's recurrent state: what a Session
// keeps per sequence, however many tokens it has seen.
func (m *Model) StateBytes() int64 {
	n := int64(0)
	for _, t := range m.states {
		dims, _ := ir.EvalShape(t.Shape, map[string]int64{BatchSymbol: 1})
		e := int64(4)
		for _, d := range dims {
			e *= d
		}
		n += e
	}
	return n
}

// Close releases the model's mapped file. Sessions must not be used
// afterwards.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.art == nil {
		m.closed = true
		return nil
	}
	m.closed = true
	return m.art.Close()
}

package ssmc

import (
	"fmt"
	"io"
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
	reason  string // see BackendReason
	prefill backend.Program
	step    backend.Program
	// prefillStates: @prefill takes the states after input_ids.
	prefillStates bool
	vocab         int
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

// Load opens a compiled model on the backend LoadOptions{} selects: the
// GPU when CUDA is available, otherwise the CPU. It is LoadWith(path,
// LoadOptions{}).
func Load(path string) (*Model, error) { return LoadWith(path, LoadOptions{}) }

// LoadWith opens a compiled model on the backend opts selects. The
// artifact's recorded CPU plans (section "plan") are checked against this
// runtime's when the model runs on the CPU backend.
func LoadWith(path string, opts LoadOptions) (*Model, error) {
	art, err := artifact.Load(path)
	if err != nil {
		return nil, err
	}
	compiled := art // the kernels stored in the artifact fit its own adapters
	if len(opts.Adapters) > 0 {
		if err := swapAdapters(art.Module, opts.Adapters); err != nil {
			art.Close()
			return nil, fmt.Errorf("ssmc: %s: %w", path, err)
		}
		compiled = nil
	}
	m, err := newModel(art.Module, opts, compiled)
	if err != nil {
		art.Close()
		return nil, fmt.Errorf("ssmc: %s: %w", path, err)
	}
	m.art = art
	if b, ok := art.File.Section(PlanSectionName); ok && m.backend.Name() == "cpu" {
		progs := map[string]backend.Program{"prefill": m.prefill, "step": m.step}
		if err := checkPlans(b, progs); err != nil {
			m.Close()
			return nil, fmt.Errorf("ssmc: %s: %w", path, err)
		}
	}
	if b, ok := art.File.Section(TokenizerSection); ok {
		tok, err := tokenizer.Parse(b)
		if err != nil {
			m.Close()
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
// with the same state types in both, each stacked per layer [layers, B,
// ...]. @prefill may also take the states after input_ids (it then
// starts from zero states), and may be absent (sessions then prefill by
// stepping); AsStepModel and AsStatefulModel shape ONNX graphs so. FromModule runs the model on the CPU
// backend; FromModuleWith chooses.
func FromModule(mod *ir.Module) (*Model, error) {
	return newModel(mod, LoadOptions{Backend: "cpu"}, nil)
}

// FromModuleWith is FromModule on the backend opts selects.
func FromModuleWith(mod *ir.Module, opts LoadOptions) (*Model, error) {
	return newModel(mod, opts, nil)
}

// newModel checks the module's signature and compiles @prefill and @step
// on the backend opts selects (with art's kernels when it has any).
func newModel(mod *ir.Module, opts LoadOptions, art *artifact.Model) (*Model, error) {
	pf, sf := mod.Func("prefill"), mod.Func("step")
	if sf == nil {
		return nil, fmt.Errorf("the model needs functions @prefill and @step (or @step alone)")
	}
	if len(sf.Args) < 1 || pf != nil && len(pf.Args) != 1 && len(pf.Args) != len(sf.Args) {
		return nil, fmt.Errorf("@prefill must take input_ids (and optionally the states) and @step input_ids and the states")
	}
	states := make([]ir.Type, 0, len(sf.Args)-1)
	var names []string
	for i, a := range sf.Args[1:] {
		if len(sf.Results) != len(sf.Args) || pf != nil && len(pf.Results) != len(sf.Args) {
			return nil, fmt.Errorf("@step and @prefill must return logits and the %d states", len(sf.Args)-1)
		}
		if !sf.Results[i+1].Type.Equal(a.Type) {
			return nil, fmt.Errorf("state %s is %v in @step's arguments, %v in its results", a.Name, a.Type, sf.Results[i+1].Type)
		}
		if pf != nil && !pf.Results[i+1].Type.Equal(a.Type) {
			return nil, fmt.Errorf("state %s is %v in @step's arguments, %v in @prefill's results", a.Name, a.Type, pf.Results[i+1].Type)
		}
		if pf != nil && len(pf.Args) > 1 && !pf.Args[i+1].Type.Equal(a.Type) {
			return nil, fmt.Errorf("state %s is %v in @step's arguments, %v in @prefill's", a.Name, a.Type, pf.Args[i+1].Type)
		}
		if r := a.Type.Shape.Rank(); r < 2 || a.Type.Shape[1] != ir.SymDim(BatchSymbol) {
			return nil, fmt.Errorf("state %s is %v; states are stacked per layer, [layers, %s, ...]", a.Name, a.Type, BatchSymbol)
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
	c, err := selectBackend(opts, mod, art)
	if err != nil {
		return nil, err
	}
	return &Model{backend: c.backend, reason: c.reason, prefill: c.prefill, step: c.step, prefillStates: pf != nil && len(pf.Args) > 1,
		vocab: int(lt.Shape[1].Off), states: states, names: names}, nil
}

// Backend names the backend the model runs on ("cpu", "cuda").
func (m *Model) Backend() string { return m.backend.Name() }

// BackendReason says why the model runs on its backend: on a GPU, the
// device ("NVIDIA H100 (sm_90, ...)"); when "auto" chose the CPU, why the
// GPU was not used ("auto: backend cuda is not available: CUDA is not
// available: ..."); "requested" when LoadOptions asked for the CPU.
func (m *Model) BackendReason() string { return m.reason }

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

// Close releases the model's mapped file and, on a GPU, its device
// memory. Sessions must not be used afterwards.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var first error
	for _, p := range []backend.Program{m.prefill, m.step} {
		if c, ok := p.(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	if m.art != nil {
		if err := m.art.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

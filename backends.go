package ssmc

import (
	"fmt"
	"io"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	_ "github.com/ssmc-dev/ssmc/runtime/cuda" // registers the "cuda" backend; loads nothing until asked
)

// LoadOptions configure LoadWith and FromModuleWith.
type LoadOptions struct {
	// Backend selects where the model runs:
	//
	//	"" or "auto"  the GPU when CUDA is available and the model compiles
	//	              for it, otherwise the CPU (Model.BackendReason says why)
	//	"cpu"         the CPU backend
	//	"cuda"        the GPU; an error, with the reason, when CUDA is not
	//	              available or the model does not compile for it
	//
	// Any other name registered with package runtime/backend works like
	// "cuda".
	Backend string
	// Adapters, for a model compiled with LoRA adapters kept apart
	// (ssmc compile --lora DIR -lora-mode fused), are PEFT adapter
	// folders to use in their place, in the order of the compile's
	// --lora flags: same target modules and ranks, any values, alpha and
	// rsLoRA setting. The model then computes exactly what compiling the
	// base with these adapters would, without recompiling. A mismatch
	// (another target, rank or number of adapters) is an error naming the
	// folder and the module.
	Adapters []string
}

// autoBackends are the backends "auto" tries, in order, before the CPU.
var autoBackends = []string{"cuda"}

// compiled is a model's two functions on the backend chosen for them.
type compiled struct {
	backend       backend.Backend
	prefill, step backend.Program
	reason        string
}

// The optional ways a backend compiles several functions of a model
// together (sharing their kernels and weights on the device), or an
// artifact's functions with the kernels it carries. runtime/cuda's
// Backend implements both.
type (
	moduleCompiler interface {
		CompileModule(mod *ir.Module, funcs ...string) ([]backend.Program, error)
	}
	artifactCompiler interface {
		CompileArtifact(m *artifact.Model, funcs ...string) ([]backend.Program, error)
	}
)

// selectBackend compiles @prefill and @step of mod (art's, when art is
// not nil) on the backend opts names.
func selectBackend(opts LoadOptions, mod *ir.Module, art *artifact.Model) (*compiled, error) {
	switch name := opts.Backend; name {
	case "", "auto":
		var why []string
		for _, n := range autoBackends {
			c, err := compileOn(n, mod, art)
			if err == nil {
				return c, nil
			}
			why = append(why, err.Error())
		}
		c, err := compileOn("cpu", mod, art)
		if err != nil {
			return nil, err
		}
		c.reason = "auto: " + joinReasons(why)
		return c, nil
	default:
		c, err := compileOn(name, mod, art)
		if err != nil {
			return nil, err
		}
		if name == "cpu" {
			c.reason = "requested"
		}
		return c, nil
	}
}

func joinReasons(why []string) string {
	if len(why) == 0 {
		return "no accelerator backend is built in"
	}
	s := why[0]
	for _, w := range why[1:] {
		s += "; " + w
	}
	return s
}

// compileOn compiles the model on the backend called name, if it is
// available; the error says why not.
func compileOn(name string, mod *ir.Module, art *artifact.Model) (*compiled, error) {
	be, err := backend.Get(name)
	if err != nil {
		return nil, err
	}
	ok, about := be.Available()
	if !ok {
		return nil, fmt.Errorf("backend %s is not available: %s", name, about)
	}
	progs, err := compileFuncs(be, mod, art)
	if err != nil {
		return nil, fmt.Errorf("backend %s cannot compile the model: %w", name, err)
	}
	return &compiled{backend: be, prefill: progs[0], step: progs[1], reason: about}, nil
}

// compileFuncs compiles @prefill and @step, together when the backend
// can. A model without @prefill (one decoding step, as an ONNX decode
// graph gives it) gets a nil prefill program: sessions prefill it by
// stepping.
func compileFuncs(be backend.Backend, mod *ir.Module, art *artifact.Model) ([]backend.Program, error) {
	funcs := []string{"prefill", "step"}
	if mod.Func("prefill") == nil {
		progs, err := compileFuncs1(be, mod, art, []string{"step"})
		if err != nil {
			return nil, err
		}
		return []backend.Program{nil, progs[0]}, nil
	}
	return compileFuncs1(be, mod, art, funcs)
}

// compileFuncs1 compiles the named functions, together when the backend
// can.
func compileFuncs1(be backend.Backend, mod *ir.Module, art *artifact.Model, funcs []string) ([]backend.Program, error) {
	var progs []backend.Program
	var err error
	ac, isAC := be.(artifactCompiler)
	mc, isMC := be.(moduleCompiler)
	switch {
	case art != nil && isAC:
		progs, err = ac.CompileArtifact(art, funcs...)
	case isMC:
		progs, err = mc.CompileModule(mod, funcs...)
	default:
		progs, err = compileEach(be, mod, funcs)
	}
	if err != nil {
		return nil, err
	}
	if len(progs) != len(funcs) {
		closeAll(progs)
		return nil, fmt.Errorf("backend %s returned %d programs for %d functions", be.Name(), len(progs), len(funcs))
	}
	return progs, nil
}

// compileEach compiles the functions one by one with Backend.Compile.
func compileEach(be backend.Backend, mod *ir.Module, funcs []string) ([]backend.Program, error) {
	var progs []backend.Program
	for _, name := range funcs {
		p, err := be.Compile(mod.Func(name), mod.Weights)
		if err != nil {
			closeAll(progs)
			return nil, err
		}
		progs = append(progs, p)
	}
	return progs, nil
}

// closeAll closes the programs that hold resources.
func closeAll(progs []backend.Program) {
	for _, p := range progs {
		if c, ok := p.(io.Closer); ok {
			c.Close()
		}
	}
}

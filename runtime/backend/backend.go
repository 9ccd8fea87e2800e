// Package backend defines what the runtime needs from an execution
// backend, so that the Go API runs a model the same way on the CPU
// backend (runtime/cpu) and on an accelerator backend.
//
// A Backend compiles an IR function into a Program; a Program is
// instantiated for concrete symbol sizes (batch, prompt length), which
// plans its memory once; an Instance runs many times without allocating.
// Tensors cross the interface as host tensors (cpu.Tensor); a backend that
// keeps data on a device transfers inputs and outputs at Run, and may keep
// state resident between runs when the caller passes the same output
// tensors back as inputs.
package backend

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

// Backend compiles functions for one kind of device.
type Backend interface {
	// Name identifies the backend ("cpu", "cuda").
	Name() string
	// Available reports whether the backend can run here, and why not.
	Available() (bool, string)
	// Compile plans f with its weights bound by Param name.
	Compile(f *ir.Func, weights map[string]*ir.Tensor) (Program, error)
}

// Program is a compiled function, independent of concrete sizes.
type Program interface {
	// Instantiate plans memory for concrete symbol sizes.
	Instantiate(env map[string]int64) (Instance, error)
	// Describe returns the plan (what an artifact records).
	Describe() cpu.PlanDesc
}

// Instance is a Program bound to sizes. Run takes the arguments in order
// and optional caller-owned result tensors (nil entries: the backend's own
// memory, valid until the next Run).
type Instance interface {
	Run(ctx context.Context, inputs, outputs []*cpu.Tensor) ([]*cpu.Tensor, error)
	// PeakBytes is the activation memory of one run.
	PeakBytes() int64
}

var (
	mu       sync.Mutex
	backends = map[string]Backend{}
)

// Register makes a backend available by name; backends call it from init.
func Register(b Backend) {
	mu.Lock()
	defer mu.Unlock()
	if backends[b.Name()] != nil {
		panic("backend: " + b.Name() + " registered twice")
	}
	backends[b.Name()] = b
}

// Get returns the backend named name.
func Get(name string) (Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	b := backends[name]
	if b == nil {
		return nil, fmt.Errorf("backend %q is not built in (have %v)", name, namesLocked())
	}
	return b, nil
}

// Names lists the registered backends.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	return namesLocked()
}

func namesLocked() []string {
	var out []string
	for n := range backends {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CPU is the pure-Go CPU backend.
type CPU struct{}

func init() { Register(CPU{}) }

// Name is "cpu".
func (CPU) Name() string { return "cpu" }

// Available is always true.
func (CPU) Available() (bool, string) { return true, "" }

// Compile plans f for the CPU.
func (CPU) Compile(f *ir.Func, weights map[string]*ir.Tensor) (Program, error) {
	p, err := cpu.Compile(f, weights)
	if err != nil {
		return nil, err
	}
	return cpuProgram{p}, nil
}

type cpuProgram struct{ p *cpu.Program }

func (c cpuProgram) Describe() cpu.PlanDesc { return c.p.Describe() }

func (c cpuProgram) Instantiate(env map[string]int64) (Instance, error) {
	inst, err := c.p.Instantiate(env)
	if err != nil {
		return nil, err
	}
	return cpuInstance{inst}, nil
}

type cpuInstance struct{ *cpu.Instance }

func (c cpuInstance) PeakBytes() int64 { return c.Instance.PeakBytes }

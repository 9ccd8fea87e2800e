package cuda

import (
	"fmt"
	"slices"
	"sync"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/backend"
)

// Backend is the CUDA [backend.Backend], registered as "cuda" when this
// package is linked in. Registering does nothing else: the driver and
// NVRTC are loaded when Available or a Compile method is first called.
//
// It runs on device 0, which it opens on first use and keeps for the rest
// of the process (its primary context stays retained). Its Programs hold
// their module and weights on the device until they are closed (they
// implement io.Closer); see [Backend.CompileModule] for what an Instance
// keeps on the device and what it copies per Run.
type Backend struct {
	// open and available replace OpenDevice(0) and Available (tests run
	// the backend on a fake driver); nil means the real ones.
	open      func() (*Device, error)
	available func() (bool, string)

	mu  sync.Mutex
	dev *Device
}

func init() { backend.Register(&Backend{}) }

var _ backend.Backend = (*Backend)(nil)

// Name is "cuda".
func (*Backend) Name() string { return "cuda" }

// Available reports whether a GPU can be used: see the package function
// [Available]. It never crashes on machines without CUDA.
func (b *Backend) Available() (bool, string) {
	if b.available != nil {
		return b.available()
	}
	return Available()
}

// device opens the backend's device once.
func (b *Backend) device() (*Device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dev != nil {
		return b.dev, nil
	}
	open := b.open
	if open == nil {
		open = func() (*Device, error) { return OpenDevice(0) }
	}
	dev, err := open()
	if err != nil {
		return nil, err
	}
	b.dev = dev
	return dev, nil
}

// Compile generates the kernels of f alone (package codegen/cuda),
// compiles them with NVRTC and uploads the weights f reads. Functions of
// one model should be compiled together with CompileModule, which shares
// one translation unit and one copy of the weights between them.
func (b *Backend) Compile(f *ir.Func, weights map[string]*ir.Tensor) (backend.Program, error) {
	progs, err := b.CompileModule(&ir.Module{Funcs: []*ir.Func{f}, Weights: weights}, f.Name)
	if err != nil {
		return nil, err
	}
	return progs[0], nil
}

// CompileModule generates the kernels of mod's functions named funcs in
// one translation unit, compiles it with NVRTC, uploads every weight they
// read once and returns a Program per name, in order. The Programs share
// the device module and weights, which are freed when the last of them is
// closed.
//
// An Instance of a Program allocates its device memory (arguments,
// results, an arena for temporaries) once. Each Run then copies every
// input tensor to the device, launches the function's kernels, waits for
// them, and copies every result back into the host tensors it returns:
// the weights and all intermediate activations stay on the device, but
// recurrent states cross the bus in both directions on every run, since
// the caller owns them on the host (backend.Instance takes and returns
// host tensors) and may change them between runs. Decoding with the
// states kept on the device is what [Decoder] does.
func (b *Backend) CompileModule(mod *ir.Module, funcs ...string) ([]backend.Program, error) {
	sub, err := subModule(mod, funcs)
	if err != nil {
		return nil, err
	}
	gen, err := cudagen.Generate(sub)
	if err != nil {
		return nil, err
	}
	return b.CompileKernels(gen, mod.Weights, funcs...)
}

// CompileArtifact compiles the functions funcs of an artifact: with the
// kernels it carries when it was compiled with `ssmc compile --target
// cuda` (sections "kernels.cu" and "kernels.launch", whose functions must
// have the arguments and results of the artifact's IR), otherwise by
// generating them from its IR as CompileModule does.
func (b *Backend) CompileArtifact(m *artifact.Model, funcs ...string) ([]backend.Program, error) {
	src, ok1 := m.File.Section(cudagen.SourceSection)
	tab, ok2 := m.File.Section(cudagen.TableSection)
	if !ok1 && !ok2 {
		return b.CompileModule(m.Module, funcs...)
	}
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("cuda: %s has only one of the sections %s and %s", m.File.Path(), cudagen.SourceSection, cudagen.TableSection)
	}
	table, err := cudagen.UnmarshalTable(tab)
	if err != nil {
		return nil, fmt.Errorf("cuda: %s: %w", m.File.Path(), err)
	}
	if err := matchTable(table, m.Module, funcs); err != nil {
		return nil, fmt.Errorf("cuda: %s: %w", m.File.Path(), err)
	}
	return b.CompileKernels(&cudagen.Program{Source: string(src), Table: table}, m.Module.Weights, funcs...)
}

// CompileKernels loads already generated kernels (see [Load]) and returns
// a Program for each function of their table named in funcs.
func (b *Backend) CompileKernels(gen *cudagen.Program, weights map[string]*ir.Tensor, funcs ...string) ([]backend.Program, error) {
	if gen == nil || gen.Table == nil {
		return nil, fmt.Errorf("cuda: no kernels")
	}
	idx := make([]int, len(funcs))
	for i, name := range funcs {
		idx[i] = slices.IndexFunc(gen.Table.Functions, func(f cudagen.Function) bool { return f.Name == name })
		if idx[i] < 0 {
			return nil, fmt.Errorf("cuda: the kernels have no function %q", name)
		}
	}
	dev, err := b.device()
	if err != nil {
		return nil, err
	}
	p, err := Load(dev, gen, weights)
	if err != nil {
		return nil, err
	}
	shared := &sharedProgram{prog: p, refs: len(funcs), live: map[*hostState]bool{}}
	out := make([]backend.Program, len(funcs))
	for i, fi := range idx {
		out[i] = &hostProgram{shared: shared, fn: &p.table.Functions[fi]}
	}
	return out, nil
}

// subModule is mod restricted to the functions named funcs.
func subModule(mod *ir.Module, funcs []string) (*ir.Module, error) {
	if len(funcs) == 0 {
		return nil, fmt.Errorf("cuda: no function to compile")
	}
	sub := &ir.Module{Weights: mod.Weights}
	for _, name := range funcs {
		f := mod.Func(name)
		if f == nil {
			return nil, fmt.Errorf("cuda: no function @%s", name)
		}
		if !slices.Contains(sub.Funcs, f) {
			sub.Funcs = append(sub.Funcs, f)
		}
	}
	return sub, nil
}

// matchTable checks that the table's functions funcs take and return what
// the IR functions of the same names do (dtypes and shapes), so that
// kernels from a file are not run on tensors they were not made for.
func matchTable(t *cudagen.Table, mod *ir.Module, funcs []string) error {
	for _, name := range funcs {
		f := mod.Func(name)
		fi := slices.IndexFunc(t.Functions, func(g cudagen.Function) bool { return g.Name == name })
		if f == nil || fi < 0 {
			return fmt.Errorf("no function @%s in both the IR and the CUDA kernels", name)
		}
		g := &t.Functions[fi]
		if len(g.Args) != len(f.Args) || len(g.Results) != len(f.Results) {
			return fmt.Errorf("@%s: the kernels take %d arguments and return %d results, the IR %d and %d; recompile with --target cuda",
				name, len(g.Args), len(g.Results), len(f.Args), len(f.Results))
		}
		check := func(what string, i int, tn cudagen.Tensor, typ ir.Type) error {
			if tn.DType != typ.DType.String() || tn.Shape.String() != typ.Shape.String() {
				return fmt.Errorf("@%s %s %d: the kernels have %s%v, the IR %v; recompile with --target cuda", name, what, i, tn.DType, tn.Shape, typ)
			}
			return nil
		}
		for i, a := range f.Args {
			if err := check("argument", i, g.Args[i], a.Type); err != nil {
				return err
			}
		}
		for i, r := range f.Results {
			if err := check("result", i, g.Results[i], r.Type); err != nil {
				return err
			}
		}
	}
	return nil
}

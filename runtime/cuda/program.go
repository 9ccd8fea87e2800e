package cuda

import (
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// Program is a compiled model on a GPU: its translation unit compiled by
// NVRTC and loaded as a module, and every weight and constant its
// functions read uploaded once. Instances of its functions share them.
type Program struct {
	dev     *Device
	table   *cudagen.Table
	module  uintptr
	funcs   []uintptr         // per kernel of the table
	weights map[string]uint64 // device address by weight name
	consts  map[[2]int]uint64 // device address by (function, buffer)
	allocs  []uint64          // what Close frees
}

// LoadArtifact loads the kernels an artifact compiled with `ssmc compile
// --target cuda` carries (sections "kernels.cu" and "kernels.launch") with
// the artifact's weights.
func LoadArtifact(dev *Device, m *artifact.Model) (*Program, error) {
	src, ok1 := m.File.Section(cudagen.SourceSection)
	tab, ok2 := m.File.Section(cudagen.TableSection)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("cuda: %s has no CUDA kernels (compile it with --target cuda)", m.File.Path())
	}
	table, err := cudagen.UnmarshalTable(tab)
	if err != nil {
		return nil, fmt.Errorf("cuda: %s: %w", m.File.Path(), err)
	}
	return Load(dev, &cudagen.Program{Source: string(src), Table: table}, m.Module.Weights)
}

// Load compiles prog's translation unit with NVRTC for dev, loads it, and
// uploads the weights (by name) and constants its functions read.
func Load(dev *Device, prog *cudagen.Program, weights map[string]*ir.Tensor) (*Program, error) {
	if err := prog.Table.Check(); err != nil {
		return nil, fmt.Errorf("cuda: launch table: %w", err)
	}
	n, err := initNVRTC()
	if err != nil {
		return nil, err
	}
	arch, err := n.arch(dev.Major*10 + dev.Minor)
	if err != nil {
		return nil, err
	}
	ptx, err := n.compile(prog.Source, cudagen.SourceSection, arch)
	if err != nil {
		return nil, err
	}
	p := &Program{dev: dev, table: prog.Table, weights: map[string]uint64{}, consts: map[[2]int]uint64{}}
	err = dev.do(func(api *driverAPI) error {
		if err := api.check("cuModuleLoadData", api.cuModuleLoadData(&p.module, &ptx[0])); err != nil {
			return err
		}
		for _, k := range prog.Table.Kernels {
			var fn uintptr
			name := cString(k.Name)
			if err := api.check("cuModuleGetFunction "+k.Name, api.cuModuleGetFunction(&fn, p.module, &name[0])); err != nil {
				return err
			}
			p.funcs = append(p.funcs, fn)
		}
		return p.upload(api, weights)
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// upload copies every weight and constant of the table's functions to the
// device, each once.
func (p *Program) upload(api *driverAPI, weights map[string]*ir.Tensor) error {
	for fi, f := range p.table.Functions {
		for bi, b := range f.Buffers {
			var data []byte
			switch b.Kind {
			case cudagen.BufferWeight:
				if _, done := p.weights[b.Weight]; done {
					continue
				}
				w := weights[b.Weight]
				if w == nil {
					return fmt.Errorf("cuda: weight %q is not bound", b.Weight)
				}
				n, err := b.Elements.Eval(nil)
				if err != nil || w.DType.String() != b.DType || int64(len(w.Data)) != n*int64(w.DType.Size()) {
					return fmt.Errorf("cuda: weight %q is %v%v, the kernels read %s[%v]", b.Weight, w.DType, w.Shape, b.DType, b.Elements)
				}
				data = w.Data
			case cudagen.BufferConst:
				data = b.Data
			default:
				continue
			}
			addr, err := p.alloc(api, int64(len(data)))
			if err != nil {
				return err
			}
			if len(data) > 0 {
				if err := api.check("cuMemcpyHtoD", api.cuMemcpyHtoD(addr, unsafe.Pointer(&data[0]), uint64(len(data)))); err != nil {
					return err
				}
			}
			if b.Kind == cudagen.BufferWeight {
				p.weights[b.Weight] = addr
			} else {
				p.consts[[2]int{fi, bi}] = addr
			}
		}
	}
	return nil
}

// alloc allocates device memory that Close frees (at least bufferAlign
// bytes, so that empty tensors have an address too).
func (p *Program) alloc(api *driverAPI, n int64) (uint64, error) {
	var addr uint64
	if err := api.check(fmt.Sprintf("cuMemAlloc(%d bytes)", n), api.cuMemAlloc(&addr, uint64(max(n, bufferAlign)))); err != nil {
		return 0, err
	}
	p.allocs = append(p.allocs, addr)
	return addr, nil
}

// Close unloads the module and frees the weights. Instances must be
// closed first.
func (p *Program) Close() error {
	return p.dev.do(func(api *driverAPI) error {
		var first error
		for _, a := range p.allocs {
			if err := api.check("cuMemFree", api.cuMemFree(a)); err != nil && first == nil {
				first = err
			}
		}
		p.allocs = nil
		if p.module != 0 {
			if err := api.check("cuModuleUnload", api.cuModuleUnload(p.module)); err != nil && first == nil {
				first = err
			}
			p.module = 0
		}
		return first
	})
}

// Instance is one function of a Program bound to symbol sizes, with its
// memory allocated and every launch's grid and arguments prepared: Launch
// only enqueues kernels. Argument buffers are the instance's own, so that
// inputs uploaded (or copied on the device) stay until replaced.
type Instance struct {
	prog     *Program
	fn       *cudagen.Function
	env      map[string]int64
	plan     *memoryPlan
	addr     []uint64 // device address per buffer
	allocs   []uint64
	launches []preparedLaunch
	pin      runtime.Pinner
}

// preparedLaunch is a launch with everything evaluated.
type preparedLaunch struct {
	value  string
	fn     uintptr
	grid   [3]uint32
	block  [3]uint32
	params *kernelParams
}

// Instantiate allocates function name's buffers for the symbol sizes env
// (for example {"B": 1, "L": 128}) and prepares its launches.
func (p *Program) Instantiate(name string, env map[string]int64) (*Instance, error) {
	fi := slices.IndexFunc(p.table.Functions, func(f cudagen.Function) bool { return f.Name == name })
	if fi < 0 {
		return nil, fmt.Errorf("cuda: no function %q", name)
	}
	fn := &p.table.Functions[fi]
	plan, err := planMemory(fn, env)
	if err != nil {
		return nil, fmt.Errorf("cuda: @%s: %w", name, err)
	}
	inst := &Instance{prog: p, fn: fn, env: env, plan: plan, addr: make([]uint64, len(fn.Buffers))}
	err = p.dev.do(func(api *driverAPI) error {
		arena, err := inst.alloc(api, plan.arena)
		if err != nil {
			return err
		}
		for i, b := range fn.Buffers {
			switch b.Kind {
			case cudagen.BufferTemp:
				inst.addr[i] = arena + uint64(plan.offset[i])
			case cudagen.BufferArg:
				if inst.addr[i], err = inst.alloc(api, plan.bytes[i]); err != nil {
					return err
				}
			case cudagen.BufferWeight:
				inst.addr[i] = p.weights[b.Weight]
			case cudagen.BufferConst:
				inst.addr[i] = p.consts[[2]int{fi, i}]
			}
		}
		return nil
	})
	if err != nil {
		inst.Close()
		return nil, fmt.Errorf("cuda: @%s: %w", name, err)
	}
	if err := inst.prepare(); err != nil {
		inst.Close()
		return nil, fmt.Errorf("cuda: @%s: %w", name, err)
	}
	return inst, nil
}

// prepare evaluates every launch's grid and marshals its arguments, pinned
// for the instance's lifetime (the driver reads them at each launch).
func (inst *Instance) prepare() error {
	for i := range inst.fn.Launches {
		l := &inst.fn.Launches[i]
		grid, err := l.GridSize(inst.env)
		if err != nil {
			return fmt.Errorf("launch %d (%s): %w", i, l.Value, err)
		}
		if grid[0] == 0 || grid[1] == 0 || grid[2] == 0 {
			continue // an empty tensor: nothing to compute
		}
		params, err := marshalParams(l, inst.addr, inst.env)
		if err != nil {
			return fmt.Errorf("launch %d (%s): %w", i, l.Value, err)
		}
		if len(params.values) > 0 {
			inst.pin.Pin(&params.values[0])
			inst.pin.Pin(&params.ptrs[0])
		}
		block := [3]uint32{uint32(l.Block[0]), uint32(l.Block[1]), uint32(l.Block[2])}
		inst.launches = append(inst.launches, preparedLaunch{value: l.Value, fn: inst.prog.funcs[l.Kernel],
			grid: grid, block: block, params: params})
	}
	return nil
}

func (inst *Instance) alloc(api *driverAPI, n int64) (uint64, error) {
	var addr uint64
	if err := api.check(fmt.Sprintf("cuMemAlloc(%d bytes)", n), api.cuMemAlloc(&addr, uint64(max(n, bufferAlign)))); err != nil {
		return 0, err
	}
	inst.allocs = append(inst.allocs, addr)
	return addr, nil
}

// tensorBytes checks t against the function's tensor spec (dtype and the
// shape for the instance's symbols) and returns its bytes.
func (inst *Instance) tensorBytes(spec cudagen.Tensor, t *ir.Tensor) ([]byte, error) {
	shape, err := ir.EvalShape(spec.Shape, inst.env)
	if err != nil {
		return nil, err
	}
	if t.DType.String() != spec.DType || !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("%s is %v%v, want %s%v", spec.Name, t.DType, t.Shape, spec.DType, shape)
	}
	if int64(len(t.Data)) != inst.plan.bytes[spec.Buffer] {
		return nil, fmt.Errorf("%s has %d bytes, want %d", spec.Name, len(t.Data), inst.plan.bytes[spec.Buffer])
	}
	return t.Data, nil
}

// SetInput uploads argument i.
func (inst *Instance) SetInput(i int, t *ir.Tensor) error {
	if i < 0 || i >= len(inst.fn.Args) {
		return fmt.Errorf("cuda: @%s has %d arguments, no %d", inst.fn.Name, len(inst.fn.Args), i)
	}
	spec := inst.fn.Args[i]
	data, err := inst.tensorBytes(spec, t)
	if err != nil {
		return fmt.Errorf("cuda: @%s: %w", inst.fn.Name, err)
	}
	if len(data) == 0 {
		return nil
	}
	return inst.prog.dev.do(func(api *driverAPI) error {
		return api.check("cuMemcpyHtoD", api.cuMemcpyHtoD(inst.addr[spec.Buffer], unsafe.Pointer(&data[0]), uint64(len(data))))
	})
}

// Launch runs every kernel of the function on the device's default stream
// and waits for them.
func (inst *Instance) Launch() error {
	return inst.prog.dev.do(inst.launchAll)
}

// launchAll enqueues every launch and waits for them (inside dev.do).
func (inst *Instance) launchAll(api *driverAPI) error {
	for _, l := range inst.launches {
		res := api.cuLaunchKernel(l.fn, l.grid[0], l.grid[1], l.grid[2], l.block[0], l.block[1], l.block[2],
			0, 0, l.params.block(), nil)
		if err := api.check("cuLaunchKernel for "+l.value, res); err != nil {
			return err
		}
	}
	return api.check("cuCtxSynchronize after @"+inst.fn.Name, api.cuCtxSynchronize())
}

// Result downloads result i.
func (inst *Instance) Result(i int) (*ir.Tensor, error) {
	if i < 0 || i >= len(inst.fn.Results) {
		return nil, fmt.Errorf("cuda: @%s has %d results, no %d", inst.fn.Name, len(inst.fn.Results), i)
	}
	spec := inst.fn.Results[i]
	dt, _ := ir.ParseDType(spec.DType)
	shape, err := ir.EvalShape(spec.Shape, inst.env)
	if err != nil {
		return nil, err
	}
	data := make([]byte, inst.plan.bytes[spec.Buffer])
	if len(data) > 0 {
		err = inst.prog.dev.do(func(api *driverAPI) error {
			return api.check("cuMemcpyDtoH", api.cuMemcpyDtoH(unsafe.Pointer(&data[0]), inst.addr[spec.Buffer], uint64(len(data))))
		})
		if err != nil {
			return nil, err
		}
	}
	return ir.NewTensor(dt, shape, data)
}

// Run uploads inputs (in argument order), launches and downloads every
// result.
func (inst *Instance) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	if len(inputs) != len(inst.fn.Args) {
		return nil, fmt.Errorf("cuda: @%s takes %d inputs, got %d", inst.fn.Name, len(inst.fn.Args), len(inputs))
	}
	for i, t := range inputs {
		if err := inst.SetInput(i, t); err != nil {
			return nil, err
		}
	}
	if err := inst.Launch(); err != nil {
		return nil, err
	}
	out := make([]*ir.Tensor, len(inst.fn.Results))
	for i := range out {
		var err error
		if out[i], err = inst.Result(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CopyResult copies result i of inst into argument j of dst on the device
// (dst may be inst): how states pass from a prefill to the decoding step,
// and from one step to the next, without a round trip through the host.
func (inst *Instance) CopyResult(i int, dst *Instance, j int) error {
	if i < 0 || i >= len(inst.fn.Results) || j < 0 || j >= len(dst.fn.Args) {
		return fmt.Errorf("cuda: no result %d of @%s or argument %d of @%s", i, inst.fn.Name, j, dst.fn.Name)
	}
	src, arg := inst.fn.Results[i], dst.fn.Args[j]
	n := inst.plan.bytes[src.Buffer]
	if src.DType != arg.DType || n != dst.plan.bytes[arg.Buffer] {
		return fmt.Errorf("cuda: result %s of @%s (%d bytes of %s) does not fit argument %s of @%s (%d bytes of %s)",
			src.Name, inst.fn.Name, n, src.DType, arg.Name, dst.fn.Name, dst.plan.bytes[arg.Buffer], arg.DType)
	}
	return inst.prog.dev.do(func(api *driverAPI) error {
		return api.check("cuMemcpyDtoD", api.cuMemcpyDtoD(dst.addr[arg.Buffer], inst.addr[src.Buffer], uint64(n)))
	})
}

// clearArg zeroes argument j on the device.
func (inst *Instance) clearArg(j int) error {
	b := inst.fn.Args[j].Buffer
	return inst.prog.dev.do(func(api *driverAPI) error {
		return api.check("cuMemsetD8", api.cuMemsetD8(inst.addr[b], 0, uint64(inst.plan.bytes[b])))
	})
}

// Close frees the instance's memory.
func (inst *Instance) Close() error {
	inst.pin.Unpin()
	return inst.prog.dev.do(func(api *driverAPI) error {
		var first error
		for _, a := range inst.allocs {
			if err := api.check("cuMemFree", api.cuMemFree(a)); err != nil && first == nil {
				first = err
			}
		}
		inst.allocs = nil
		return first
	})
}

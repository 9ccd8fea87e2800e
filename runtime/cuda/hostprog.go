package cuda

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

// sharedProgram is the device Program behind the backend.Programs of one
// compile, with the instances made from them that are still open.
type sharedProgram struct {
	mu     sync.Mutex
	prog   *Program
	refs   int // hostPrograms not closed yet
	live   map[*hostState]bool
	closed bool
}

// release closes st (an instance of sp) and forgets it.
func (sp *sharedProgram) release(st *hostState) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.live[st] {
		return nil
	}
	delete(sp.live, st)
	return st.close()
}

// hostProgram is one function of a sharedProgram as a backend.Program.
type hostProgram struct {
	shared *sharedProgram
	fn     *cudagen.Function
	once   sync.Once
}

var _ backend.Program = (*hostProgram)(nil)

// ErrClosed is returned when a Program or Instance of the backend is used
// after it was closed.
var ErrClosed = errors.New("cuda: the program was closed")

// Instantiate allocates the function's device memory for the symbol sizes
// env and the host tensors of its results.
func (p *hostProgram) Instantiate(env map[string]int64) (backend.Instance, error) {
	sp := p.shared
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil, ErrClosed
	}
	inst, err := sp.prog.Instantiate(p.fn.Name, maps.Clone(env))
	if err != nil {
		return nil, err
	}
	st, err := newHostState(inst)
	if err != nil {
		inst.Close()
		return nil, fmt.Errorf("cuda: @%s: %w", p.fn.Name, err)
	}
	sp.live[st] = true
	h := &hostInstance{shared: sp, st: st}
	// An instance dropped without Close (a Session forgets prefill
	// instances of old prompt lengths) frees its device memory when it is
	// collected.
	runtime.AddCleanup(h, func(st *hostState) { sp.release(st) }, st)
	return h, nil
}

// Close frees the device module and weights once every Program of the
// same compile is closed; their open instances are closed with them.
func (p *hostProgram) Close() error {
	var err error
	p.once.Do(func() {
		sp := p.shared
		sp.mu.Lock()
		defer sp.mu.Unlock()
		sp.refs--
		if sp.refs > 0 {
			return
		}
		for st := range sp.live {
			if e := st.close(); e != nil && err == nil {
				err = e
			}
		}
		sp.live = nil
		sp.closed = true
		if e := sp.prog.Close(); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// Describe renders the function's launch plan in the shape of a CPU plan:
// a step per kernel launch (Op is the kernel's name; Out the temporaries
// it defines, In every other buffer it is passed) and a slot per device
// buffer (Shape is its element count).
func (p *hostProgram) Describe() cpu.PlanDesc {
	fn, kernels := p.fn, p.shared.prog.table.Kernels
	d := cpu.PlanDesc{Func: fn.Name}
	for _, b := range fn.Buffers {
		d.Slots = append(d.Slots, cpu.SlotDesc{Kind: string(b.Kind), DType: b.DType, Shape: "[" + b.Elements.String() + "]", Def: b.Def, Last: b.Last})
	}
	for i, l := range fn.Launches {
		s := cpu.StepDesc{Value: valueID(l.Value), Op: kernels[l.Kernel].Name, InPlace: -1}
		for _, a := range l.Args {
			if a.Buffer == nil {
				continue
			}
			if b := fn.Buffers[*a.Buffer]; b.Kind == cudagen.BufferTemp && b.Def == i {
				s.Out = append(s.Out, *a.Buffer)
			} else {
				s.In = append(s.In, *a.Buffer)
			}
		}
		d.Steps = append(d.Steps, s)
	}
	for _, a := range fn.Args {
		d.Args = append(d.Args, a.Buffer)
	}
	for _, r := range fn.Results {
		d.Results = append(d.Results, r.Buffer)
	}
	return d
}

// valueID is the number of an IR value name ("%12" -> 12), -1 for others.
func valueID(name string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "%"))
	if err != nil {
		return -1
	}
	return n
}

// hostState is what an instance owns: the device Instance (nil once
// closed), the types its tensors must have on the host, the host tensors
// of its results and scratch slices, all made once.
type hostState struct {
	mu       sync.Mutex
	inst     *Instance
	argTypes []hostType
	resTypes []hostType
	own      []*cpu.Tensor // results, when the caller passes none
	res      []*cpu.Tensor // what Run returns
	in, out  [][]byte
}

// hostType is a tensor's dtype and concrete shape.
type hostType struct {
	dtype ir.DType
	shape []int
}

func newHostState(inst *Instance) (*hostState, error) {
	fn := inst.fn
	st := &hostState{inst: inst, res: make([]*cpu.Tensor, len(fn.Results)),
		in: make([][]byte, len(fn.Args)), out: make([][]byte, len(fn.Results))}
	typeOf := func(tn cudagen.Tensor) (hostType, error) {
		dt, err := ir.ParseDType(tn.DType)
		if err != nil {
			return hostType{}, err
		}
		switch dt {
		case ir.F32, ir.I64, ir.F16, ir.BF16:
		default:
			return hostType{}, fmt.Errorf("%s is %v; host tensors are f32, i64, f16 or bf16", tn.Name, dt)
		}
		dims, err := ir.EvalShape(tn.Shape, inst.env)
		if err != nil {
			return hostType{}, fmt.Errorf("%s: %w", tn.Name, err)
		}
		ht := hostType{dtype: dt, shape: make([]int, len(dims))}
		n := int64(dt.Size())
		for i, d := range dims {
			ht.shape[i] = int(d)
			n *= d
		}
		if n != inst.plan.bytes[tn.Buffer] {
			return hostType{}, fmt.Errorf("%s is %v%v (%d bytes) but its buffer has %d bytes", tn.Name, dt, dims, n, inst.plan.bytes[tn.Buffer])
		}
		return ht, nil
	}
	for _, a := range fn.Args {
		ht, err := typeOf(a)
		if err != nil {
			return nil, err
		}
		st.argTypes = append(st.argTypes, ht)
	}
	for _, r := range fn.Results {
		ht, err := typeOf(r)
		if err != nil {
			return nil, err
		}
		st.resTypes = append(st.resTypes, ht)
		st.own = append(st.own, newHostTensor(ht))
	}
	return st, nil
}

// close frees the device memory; Run fails afterwards.
func (st *hostState) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inst == nil {
		return nil
	}
	err := st.inst.Close()
	st.inst = nil
	return err
}

func newHostTensor(ht hostType) *cpu.Tensor {
	t := &cpu.Tensor{DType: ht.dtype, Shape: ht.shape}
	n := t.Len()
	switch ht.dtype {
	case ir.F32:
		t.F32 = make([]float32, n)
	case ir.I64:
		t.I64 = make([]int64, n)
	default:
		t.Raw = make([]byte, n*ht.dtype.Size())
	}
	return t
}

// hostBytes checks t against ht and returns its memory as bytes (the host
// is little-endian, as the device is).
func hostBytes(t *cpu.Tensor, ht hostType) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("missing tensor, want %v%v", ht.dtype, ht.shape)
	}
	if t.DType != ht.dtype || !slices.Equal(t.Shape, ht.shape) {
		return nil, fmt.Errorf("tensor is %v, want %v%v", t, ht.dtype, ht.shape)
	}
	n := t.Len()
	var got int
	var b []byte
	switch ht.dtype {
	case ir.F32:
		got, b = len(t.F32), unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.F32))), 4*len(t.F32))
	case ir.I64:
		got, b = len(t.I64), unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.I64))), 8*len(t.I64))
	default:
		got, b = len(t.Raw)/ht.dtype.Size(), t.Raw
		if len(t.Raw)%ht.dtype.Size() != 0 {
			got = -1
		}
	}
	if got != n {
		return nil, fmt.Errorf("tensor %v holds %d values, want %d", t, got, n)
	}
	return b, nil
}

// hostInstance is an Instance with host tensors in and out: the
// backend.Instance of the CUDA backend.
type hostInstance struct {
	shared *sharedProgram
	st     *hostState
}

var _ backend.Instance = (*hostInstance)(nil)

// Run copies the inputs to the device, launches the function and copies
// every result into outputs[i] when given (with the result's dtype and
// shape) and otherwise into the instance's own host tensor, valid until
// the next Run. The returned slice is reused by the next Run too. The
// kernels run to completion: ctx is checked before they start.
func (h *hostInstance) Run(ctx context.Context, inputs, outputs []*cpu.Tensor) ([]*cpu.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inst == nil {
		return nil, ErrClosed
	}
	fn := st.inst.fn
	if len(inputs) != len(fn.Args) || len(outputs) > len(fn.Results) {
		return nil, fmt.Errorf("cuda: @%s takes %d inputs and %d outputs, got %d and %d", fn.Name, len(fn.Args), len(fn.Results), len(inputs), len(outputs))
	}
	defer clear(st.in)
	defer clear(st.out)
	for i, t := range inputs {
		b, err := hostBytes(t, st.argTypes[i])
		if err != nil {
			return nil, fmt.Errorf("cuda: @%s argument %s: %w", fn.Name, fn.Args[i].Name, err)
		}
		st.in[i] = b
	}
	for i := range fn.Results {
		t := st.own[i]
		if i < len(outputs) && outputs[i] != nil {
			t = outputs[i]
		}
		b, err := hostBytes(t, st.resTypes[i])
		if err != nil {
			return nil, fmt.Errorf("cuda: @%s result %s: %w", fn.Name, fn.Results[i].Name, err)
		}
		st.res[i], st.out[i] = t, b
	}
	if err := st.inst.transfer(st.in, st.out); err != nil {
		return nil, err
	}
	return st.res, nil
}

// PeakBytes is the device memory the instance allocated: its arena of
// temporaries and its argument buffers.
func (h *hostInstance) PeakBytes() int64 {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inst == nil {
		return 0
	}
	n := st.inst.plan.arena
	for i, b := range st.inst.fn.Buffers {
		if b.Kind == cudagen.BufferArg {
			n += st.inst.plan.bytes[i]
		}
	}
	return n
}

// Close frees the instance's device memory now rather than when it is
// garbage collected.
func (h *hostInstance) Close() error { return h.shared.release(h.st) }

// transfer copies in (per argument) to the device, launches every kernel,
// waits, and copies the results into out (per result), holding the device
// once for all of it.
func (inst *Instance) transfer(in, out [][]byte) error {
	if len(in) != len(inst.fn.Args) || len(out) != len(inst.fn.Results) {
		return fmt.Errorf("cuda: @%s: %d inputs and %d outputs for %d arguments and %d results", inst.fn.Name, len(in), len(out), len(inst.fn.Args), len(inst.fn.Results))
	}
	for i, b := range in {
		if int64(len(b)) != inst.plan.bytes[inst.fn.Args[i].Buffer] {
			return fmt.Errorf("cuda: @%s argument %s: %d bytes, want %d", inst.fn.Name, inst.fn.Args[i].Name, len(b), inst.plan.bytes[inst.fn.Args[i].Buffer])
		}
	}
	for i, b := range out {
		if int64(len(b)) != inst.plan.bytes[inst.fn.Results[i].Buffer] {
			return fmt.Errorf("cuda: @%s result %s: %d bytes, want %d", inst.fn.Name, inst.fn.Results[i].Name, len(b), inst.plan.bytes[inst.fn.Results[i].Buffer])
		}
	}
	return inst.prog.dev.do(func(api *driverAPI) error {
		for i, b := range in {
			if len(b) == 0 {
				continue
			}
			if err := api.check("cuMemcpyHtoD", api.cuMemcpyHtoD(inst.addr[inst.fn.Args[i].Buffer], unsafe.Pointer(&b[0]), uint64(len(b)))); err != nil {
				return err
			}
		}
		if err := inst.launchAll(api); err != nil {
			return err
		}
		for i, b := range out {
			if len(b) == 0 {
				continue
			}
			if err := api.check("cuMemcpyDtoH", api.cuMemcpyDtoH(unsafe.Pointer(&b[0]), inst.addr[inst.fn.Results[i].Buffer], uint64(len(b)))); err != nil {
				return err
			}
		}
		return nil
	})
}

package cpu

import (
	"context"
	"fmt"
	"sort"

	"github.com/ssmc-dev/ssmc/ir"
)

// Instance is a Program bound to concrete symbol sizes, with every
// intermediate tensor planned into one arena. Run it as often as needed:
// a warm Run allocates nothing. An Instance is used by one goroutine at a
// time.
type Instance struct {
	prog    *Program
	env     map[string]int64
	tensors []*Tensor // per slot
	arenaF  []float32
	arenaI  []int64
	ins     [][]*Tensor // per step, reused
	outs    [][]*Tensor
	scratch Scratch
	argWant []*Tensor // the dtype and shape each input must have
	// argViews are the views of arguments, bound on every Run.
	argViews []argView
	res      []*Tensor
	// PeakBytes is the size of the arena: the activation memory of one run.
	PeakBytes int64
}

// argView is a view slot whose root is an argument.
type argView struct{ slot, root, off int }

// Instantiate plans memory for the given symbol sizes (for example
// {"B": 1, "L": 128}).
func (p *Program) Instantiate(env map[string]int64) (*Instance, error) {
	inst := &Instance{prog: p, env: env, tensors: make([]*Tensor, len(p.slots))}
	sizes := make([]int, len(p.slots))
	shapes := make([][]int, len(p.slots))
	for i, s := range p.slots {
		if s.kind == slotWeight {
			inst.tensors[i] = s.w
			continue
		}
		dims, err := ir.EvalShape(s.shape, env)
		if err != nil {
			return nil, fmt.Errorf("cpu: %s: %w", s.name, err)
		}
		n := int64(1)
		shape := make([]int, len(dims))
		for k, d := range dims {
			if d > 0 && n > (1<<40)/d {
				return nil, fmt.Errorf("cpu: %s has %v elements: too large", s.name, dims)
			}
			n *= d
			shape[k] = int(d)
		}
		sizes[i], shapes[i] = int(n), shape
	}
	offF, totalF := planArena(p, sizes, ir.F32)
	offI, totalI := planArena(p, sizes, ir.I64)
	inst.arenaF = make([]float32, totalF)
	inst.arenaI = make([]int64, totalI)
	inst.PeakBytes = int64(totalF)*4 + int64(totalI)*8
	for i, s := range p.slots {
		if s.kind == slotWeight || s.kind == slotArg || s.view != nil {
			continue
		}
		t := &Tensor{DType: s.dtype, Shape: shapes[i]}
		if s.dtype == ir.I64 {
			t.I64 = inst.arenaI[offI[i] : offI[i]+sizes[i] : offI[i]+sizes[i]]
		} else {
			t.F32 = inst.arenaF[offF[i] : offF[i]+sizes[i] : offF[i]+sizes[i]]
		}
		inst.tensors[i] = t
	}
	for i, s := range p.slots {
		if s.view == nil {
			continue
		}
		off, err := viewOffset(s.view, env)
		if err != nil {
			return nil, fmt.Errorf("cpu: %s: %w", s.name, err)
		}
		if off < 0 || off+sizes[i] > sizes[s.view.root] {
			return nil, fmt.Errorf("cpu: %s: view [%d, %d) outside its operand of %d elements", s.name, off, off+sizes[i], sizes[s.view.root])
		}
		t := &Tensor{DType: s.dtype, Shape: shapes[i]}
		inst.tensors[i] = t
		if p.slots[s.view.root].kind == slotArg {
			inst.argViews = append(inst.argViews, argView{i, s.view.root, off})
		} else {
			bindView(t, inst.tensors[s.view.root], off)
		}
	}
	// Argument shapes are checked on every Run against these.
	for _, a := range p.args {
		inst.argWant = append(inst.argWant, &Tensor{DType: p.slots[a].dtype, Shape: shapes[a]})
	}
	inst.res = make([]*Tensor, len(p.results))
	inst.ins = make([][]*Tensor, len(p.steps))
	inst.outs = make([][]*Tensor, len(p.steps))
	for si, st := range p.steps {
		inst.ins[si] = make([]*Tensor, len(st.in))
		inst.outs[si] = make([]*Tensor, len(st.out))
	}
	return inst, nil
}

// planArena gives every arena slot of the dtype class an offset: slots
// whose lifetimes [def, last] overlap get disjoint ranges, chosen first-fit
// in order of definition; an in-place step's output takes its operand's
// range. It returns the offsets and the arena size.
func planArena(p *Program, sizes []int, dt ir.DType) (map[int]int, int) {
	type alloc struct{ off, size, def, last int }
	var live []alloc
	off := map[int]int{}
	total := 0
	inPlaceOf := map[int]int{} // out slot -> operand slot
	for _, st := range p.steps {
		if st.inPlace >= 0 {
			inPlaceOf[st.out[0]] = st.in[st.inPlace]
		}
	}
	for i, s := range p.slots {
		if (s.kind != slotTemp && s.kind != slotResult) || s.dtype != dt || s.view != nil {
			continue
		}
		if src, ok := inPlaceOf[i]; ok {
			if o, ok := off[src]; ok {
				off[i] = o
				live = append(live, alloc{o, sizes[i], s.def, s.last})
				continue
			}
		}
		// Ranges in use by slots alive at any time during [def, last].
		var busy []alloc
		for _, a := range live {
			if a.def <= s.last && s.def <= a.last {
				busy = append(busy, a)
			}
		}
		sort.Slice(busy, func(a, b int) bool { return busy[a].off < busy[b].off })
		o := 0
		for _, a := range busy {
			if o+sizes[i] <= a.off {
				break
			}
			o = max(o, a.off+a.size)
		}
		off[i] = o
		live = append(live, alloc{o, sizes[i], s.def, s.last})
		total = max(total, o+sizes[i])
	}
	return off, total
}

// Env returns the symbol sizes the instance was planned for.
func (inst *Instance) Env() map[string]int64 { return inst.env }

// Run executes the program. inputs are the arguments in order; outputs,
// when non-nil, gives caller-owned tensors to write results into (nil
// entries: results stay in the arena). It returns the result tensors,
// which are valid until the next Run when they live in the arena.
// Caller-provided outputs must not alias inputs.
func (inst *Instance) Run(ctx context.Context, inputs, outputs []*Tensor) ([]*Tensor, error) {
	p := inst.prog
	if len(inputs) != len(p.args) {
		return nil, fmt.Errorf("cpu: @%s takes %d inputs, got %d", p.fn.Name, len(p.args), len(inputs))
	}
	for i, a := range p.args {
		if err := checkTensor(inputs[i], inst.argWant[i]); err != nil {
			return nil, fmt.Errorf("cpu: @%s input %s: %w", p.fn.Name, p.slots[a].name, err)
		}
	}
	tensors := inst.tensors
	for i, a := range p.args {
		tensors[a] = inputs[i]
	}
	for _, av := range inst.argViews {
		bindView(tensors[av.slot], tensors[av.root], av.off)
	}
	var restore [8]struct {
		slot int
		t    *Tensor
	}
	nRestore := 0
	for i, r := range p.results {
		if i < len(outputs) && outputs[i] != nil {
			if p.slots[r].kind != slotResult {
				return nil, fmt.Errorf("cpu: @%s result %d is an input or weight and cannot be written to a caller buffer", p.fn.Name, i)
			}
			if err := checkTensor(outputs[i], tensors[r]); err != nil {
				return nil, fmt.Errorf("cpu: @%s output %d: %w", p.fn.Name, i, err)
			}
			if nRestore == len(restore) {
				return nil, fmt.Errorf("cpu: too many caller outputs")
			}
			restore[nRestore].slot, restore[nRestore].t = r, tensors[r]
			nRestore++
			tensors[r] = outputs[i]
		}
	}
	defer func() {
		for k := 0; k < nRestore; k++ {
			tensors[restore[k].slot] = restore[k].t
		}
		for _, a := range p.args {
			tensors[a] = nil // do not keep the caller's inputs alive
		}
		for _, av := range inst.argViews {
			tensors[av.slot].F32, tensors[av.slot].I64 = nil, nil
		}
	}()
	for si := range p.steps {
		if si&63 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		st := &p.steps[si]
		if st.view {
			continue
		}
		in, out := inst.ins[si], inst.outs[si]
		for k, s := range st.in {
			if s < 0 {
				in[k] = nil
			} else {
				in[k] = tensors[s]
			}
		}
		for k, s := range st.out {
			out[k] = tensors[s]
		}
		if err := st.kernel(&inst.scratch, st.v, in, out); err != nil {
			return nil, fmt.Errorf("cpu: @%s: %w", p.fn.Name, err)
		}
	}
	for i, r := range p.results {
		inst.res[i] = tensors[r]
	}
	return inst.res, nil
}

// checkTensor checks that t has the dtype, shape and data length of want.
func checkTensor(t, want *Tensor) error {
	if t == nil {
		return fmt.Errorf("missing tensor, want %v", want)
	}
	if t.DType != want.DType || len(t.Shape) != len(want.Shape) {
		return fmt.Errorf("got %v, want %v", t, want)
	}
	for i := range t.Shape {
		if t.Shape[i] != want.Shape[i] {
			return fmt.Errorf("got %v, want %v", t, want)
		}
	}
	n := t.Len()
	if t.DType == ir.I64 && len(t.I64) != n || t.DType == ir.F32 && len(t.F32) != n {
		return fmt.Errorf("%v has %d elements of data", t, max(len(t.I64), len(t.F32)))
	}
	return nil
}

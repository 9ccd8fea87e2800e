package cpu

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// slotKind says where a slot's memory comes from.
type slotKind uint8

const (
	slotTemp   slotKind = iota // planned into the arena
	slotArg                    // a runtime input, bound by the caller
	slotWeight                 // a Param or Const, bound at compile time
	slotResult                 // a function result: caller-provided or arena
)

// slot is one tensor of the program: an argument, a weight, or one result
// of a step (tuple results have a slot per element).
type slot struct {
	kind  slotKind
	dtype ir.DType // runtime dtype: F32 or I64 (or BF16/F16 for weights)
	shape ir.Shape
	def   int // step that writes it (-1 for args and weights)
	last  int // last step that reads it
	w     *Tensor
	name  string    // for messages
	view  *viewInfo // non-nil: shares its root's memory (views.go)
	// aliased: some view shares this slot's memory.
	aliased bool
}

// step is one kernel call.
type step struct {
	v      *ir.Value
	kernel Kernel
	in     []int // slot per operand, -1 when absent
	out    []int
	// inPlace is the operand whose memory out[0] may reuse (-1: none).
	inPlace int
	// view: out[0] is a view of in[0]; no kernel runs.
	view bool
}

// Program is a function compiled for the CPU: the kernel calls in order
// and the tensors they read and write. It does not depend on concrete
// sizes; Instantiate plans memory for given symbol sizes. A Program is
// immutable and may be shared by many goroutines.
type Program struct {
	fn      *ir.Func
	steps   []step
	slots   []slot
	args    []int
	results []int
}

// weightUse says which operand positions may read narrow-float weights in
// place; every other use of a bf16/f16 weight gets an f32 copy at compile.
var weightUse = map[ir.Op][]int{
	ir.OpMatMul:     {1},
	ir.OpLoRAMatMul: {1, 2, 3},
	ir.OpGather:     {0},
}

// Compile turns f into a Program, binding Params to weights by name.
func Compile(f *ir.Func, weights map[string]*ir.Tensor) (*Program, error) {
	if err := ir.VerifyFunc(f); err != nil {
		return nil, err
	}
	p := &Program{fn: f}
	slotOf := map[*ir.Value][]int{}
	newSlot := func(s slot) int {
		p.slots = append(p.slots, s)
		return len(p.slots) - 1
	}
	for _, a := range f.Args {
		dt, err := runtimeDType(a.Type.DType)
		if err != nil {
			return nil, fmt.Errorf("argument %%%s: %w", a.Name, err)
		}
		i := newSlot(slot{kind: slotArg, dtype: dt, shape: a.Type.Shape, def: -1, name: "%" + a.Name})
		slotOf[a] = []int{i}
		p.args = append(p.args, i)
	}
	for _, v := range f.Body {
		switch v.Op {
		case ir.OpParam, ir.OpConst:
			t, err := bindWeight(v, weights)
			if err != nil {
				return nil, err
			}
			slotOf[v] = []int{newSlot(slot{kind: slotWeight, dtype: t.DType, shape: v.Type.Shape, def: -1, w: t, name: v.String()})}
			continue
		case ir.OpExtract:
			slotOf[v] = []int{slotOf[v.Args[0]][v.Attrs.Int("index", 0)]}
			continue
		}
		k, err := KernelFor(v.Op)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.LongString(), err)
		}
		st := step{v: v, kernel: k, inPlace: -1}
		for _, a := range v.Args {
			if a == nil {
				st.in = append(st.in, -1)
			} else {
				st.in = append(st.in, slotOf[a][0])
			}
		}
		types := []ir.Type{v.Type}
		if v.Type.IsTuple() {
			types = v.Type.Elems
		}
		for _, t := range types {
			dt, err := runtimeDType(t.DType)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v.LongString(), err)
			}
			// last = def: an output nothing reads still occupies memory while its step runs.
			st.out = append(st.out, newSlot(slot{kind: slotTemp, dtype: dt, shape: t.Shape, def: len(p.steps), last: len(p.steps), name: v.String()}))
		}
		slotOf[v] = st.out
		p.steps = append(p.steps, st)
	}
	// Narrow-float weights read by ops that cannot take them get an f32 copy.
	for si := range p.steps {
		st := &p.steps[si]
		for i, s := range st.in {
			if s < 0 || p.slots[s].kind != slotWeight || (p.slots[s].dtype != ir.BF16 && p.slots[s].dtype != ir.F16) {
				continue
			}
			if contains(weightUse[st.v.Op], i) {
				continue
			}
			w := widen(p.slots[s].w)
			st.in[i] = newSlot(slot{kind: slotWeight, dtype: ir.F32, shape: p.slots[s].shape, def: -1, w: w, name: p.slots[s].name})
		}
	}
	// Liveness: the last step reading each slot; results live to the end.
	for si, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 {
				p.slots[s].last = si
			}
		}
	}
	for _, r := range f.Results {
		s := slotOf[r][0]
		p.results = append(p.results, s)
		if p.slots[s].kind == slotTemp {
			p.slots[s].kind = slotResult
		}
		p.slots[s].last = len(p.steps)
	}
	p.planViews()
	for i := range p.slots {
		if vi := p.slots[i].view; vi != nil {
			r := &p.slots[vi.root]
			r.aliased = true
			r.last = max(r.last, p.slots[i].last)
		}
	}
	// In place: an elementwise op may overwrite an operand that dies here
	// and has exactly its type.
	for si := range p.steps {
		st := &p.steps[si]
		if !st.v.Op.Info().Has(ir.Elementwise) || len(st.out) != 1 || p.slots[st.out[0]].kind != slotTemp {
			continue
		}
		out := p.slots[st.out[0]]
		for i, s := range st.in {
			if s >= 0 && p.slots[s].kind == slotTemp && p.slots[s].last == si && p.slots[s].view == nil && !p.slots[s].aliased &&
				p.slots[s].dtype == out.dtype && p.slots[s].shape.Equal(out.shape) {
				st.inPlace = i
				break
			}
		}
	}
	return p, nil
}

func contains(list []int, x int) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// runtimeDType maps an IR dtype to the dtype of the CPU tensor holding it:
// floats compute in f32, integers and bools in i64.
func runtimeDType(dt ir.DType) (ir.DType, error) {
	switch {
	case dt.IsFloat():
		return ir.F32, nil
	case dt.IsInt() || dt == ir.Bool:
		return ir.I64, nil
	}
	return 0, fmt.Errorf("cpu: unsupported dtype %v", dt)
}

func bindWeight(v *ir.Value, weights map[string]*ir.Tensor) (*Tensor, error) {
	var t *ir.Tensor
	if v.Op == ir.OpConst {
		t = v.Attrs.Tensor("value")
	} else {
		name := v.Attrs.String("name", "")
		t = weights[name]
		if t == nil {
			return nil, fmt.Errorf("weight %q is not bound", name)
		}
		if !t.Type().Equal(v.Type) {
			return nil, fmt.Errorf("weight %q is %v, the IR expects %v", name, t.Type(), v.Type)
		}
	}
	return FromIR(t)
}

// widen converts a bf16/f16 weight to f32.
func widen(t *Tensor) *Tensor {
	out := &Tensor{DType: ir.F32, Shape: t.Shape, F32: make([]float32, len(t.Raw)/2)}
	for i := range out.F32 {
		bits := uint16(t.Raw[2*i]) | uint16(t.Raw[2*i+1])<<8
		if t.DType == ir.BF16 {
			out.F32[i] = half.BF16ToF32(bits)
		} else {
			out.F32[i] = half.F16ToF32(bits)
		}
	}
	return out
}

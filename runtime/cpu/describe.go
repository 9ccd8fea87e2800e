package cpu

import "fmt"

// PlanDesc is the serializable form of a Program: the kernel calls in
// order and the tensors they use, with lifetimes and in-place decisions.
// Compiled artifacts store it (section "plan") so a runtime can check that
// it executes the plan the compiler made.
type PlanDesc struct {
	Func    string     `json:"func"`
	Steps   []StepDesc `json:"steps"`
	Slots   []SlotDesc `json:"slots"`
	Args    []int      `json:"args"`
	Results []int      `json:"results"`
}

// StepDesc is one kernel call: the IR value it computes (by ID), its op,
// the slots it reads (-1: absent operand) and writes, the operand whose
// memory its output reuses (-1: none), and whether it is a view (no
// kernel: its output shares its operand's memory).
type StepDesc struct {
	Value   int    `json:"value"`
	Op      string `json:"op"`
	In      []int  `json:"in"`
	Out     []int  `json:"out"`
	InPlace int    `json:"in_place"`
	View    bool   `json:"view,omitempty"`
}

// SlotDesc is one tensor: where its memory comes from, its runtime dtype
// and shape, and the steps that write it first and read it last.
type SlotDesc struct {
	Kind  string `json:"kind"`
	DType string `json:"dtype"`
	Shape string `json:"shape"`
	Def   int    `json:"def"`
	Last  int    `json:"last"`
}

var slotKindNames = [...]string{slotTemp: "temp", slotArg: "arg", slotWeight: "weight", slotResult: "result"}

// Describe returns the program's plan.
func (p *Program) Describe() PlanDesc {
	d := PlanDesc{Func: p.fn.Name, Args: append([]int{}, p.args...), Results: append([]int{}, p.results...)}
	for _, st := range p.steps {
		d.Steps = append(d.Steps, StepDesc{Value: st.v.ID, Op: st.v.Op.String(),
			In: append([]int{}, st.in...), Out: append([]int{}, st.out...), InPlace: st.inPlace, View: st.view})
	}
	for _, s := range p.slots {
		d.Slots = append(d.Slots, SlotDesc{Kind: slotKindNames[s.kind], DType: s.dtype.String(),
			Shape: s.shape.String(), Def: s.def, Last: s.last})
	}
	return d
}

// Summary is a one-line description of the plan for reports.
func (d PlanDesc) Summary() string {
	temps, inPlace, views := 0, 0, 0
	for _, st := range d.Steps {
		switch {
		case st.View:
			views++
		case st.InPlace >= 0:
			inPlace++
		}
	}
	for _, s := range d.Slots {
		if s.Kind == "temp" {
			temps++
		}
	}
	return fmt.Sprintf("@%s: %d kernel calls, %d views, %d tensors in the arena, %d in place", d.Func, len(d.Steps)-views, views, temps-views, inPlace)
}

package ssmc

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

// PlanSectionName is the artifact section holding the CPU execution plans.
const PlanSectionName = "plan"

// planFile is the content of the "plan" section.
type planFile struct {
	Backend string         `json:"backend"`
	Plans   []cpu.PlanDesc `json:"plans"`
}

// PlanSection plans the module's functions for the CPU backend and returns
// the artifact section that records the plans. It renumbers the functions
// (as printing does), so call it right before saving.
func PlanSection(mod *ir.Module) (artifact.Section, error) {
	pf := planFile{Backend: "cpu"}
	for _, f := range mod.Funcs {
		f.Renumber()
		p, err := backend.CPU{}.Compile(f, mod.Weights)
		if err != nil {
			return artifact.Section{}, err
		}
		pf.Plans = append(pf.Plans, p.Describe())
	}
	b, err := json.Marshal(pf)
	if err != nil {
		return artifact.Section{}, err
	}
	return artifact.Section{Name: PlanSectionName, Data: b}, nil
}

// checkPlans compares the plans stored in an artifact with the ones this
// runtime made for the same IR: a difference means the file was compiled
// by an ssmc whose planner or kernels differ.
func checkPlans(data []byte, progs map[string]backend.Program) error {
	var pf planFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return fmt.Errorf("plan section: %w", err)
	}
	if pf.Backend != "cpu" {
		return fmt.Errorf("plan section is for backend %q", pf.Backend)
	}
	for _, stored := range pf.Plans {
		p := progs[stored.Func]
		if p == nil {
			continue
		}
		if !reflect.DeepEqual(normalizePlan(stored), normalizePlan(p.Describe())) {
			return fmt.Errorf("the execution plan of @%s in the file differs from this runtime's; recompile the model with this ssmc", stored.Func)
		}
	}
	return nil
}

// normalizePlan makes empty and nil slices compare equal.
func normalizePlan(d cpu.PlanDesc) cpu.PlanDesc {
	b, _ := json.Marshal(d)
	var out cpu.PlanDesc
	json.Unmarshal(b, &out)
	return out
}

// MemoryReport is what the CPU plans need, for one sequence.
type MemoryReport struct {
	// PrefillLen is the prompt length PrefillBytes was planned for.
	PrefillLen int
	// PrefillBytes and DecodeBytes are the activation arenas of one
	// prefill of PrefillLen tokens and of one decode step (batch 1). The
	// decode arena is planned once per session and reused for every token.
	PrefillBytes, DecodeBytes int64
	// StateBytes is the recurrent state kept per sequence.
	StateBytes int64
}

// String renders the report on one line.
func (r MemoryReport) String() string {
	return fmt.Sprintf("memory: prefill L=%d %.2f MiB of activations; decode %.1f KiB per step (constant); state %d bytes per sequence",
		r.PrefillLen, float64(r.PrefillBytes)/(1<<20), float64(r.DecodeBytes)/(1<<10), r.StateBytes)
}

// PlanMemory plans the module's prefill (at prefillLen tokens) and decode
// step for batch 1 on the CPU backend and reports their memory.
func PlanMemory(mod *ir.Module, prefillLen int) (MemoryReport, error) {
	m, err := FromModule(mod)
	if err != nil {
		return MemoryReport{}, err
	}
	r := MemoryReport{PrefillLen: prefillLen, StateBytes: m.StateBytes()}
	si, err := m.step.Instantiate(map[string]int64{BatchSymbol: 1})
	if err != nil {
		return r, err
	}
	r.PrefillBytes, r.DecodeBytes = si.PeakBytes(), si.PeakBytes() // without @prefill, prefill steps
	if m.prefill != nil {
		pi, err := m.prefill.Instantiate(map[string]int64{BatchSymbol: 1, SeqSymbol: int64(prefillLen)})
		if err != nil {
			return r, err
		}
		r.PrefillBytes = pi.PeakBytes()
	}
	return r, nil
}

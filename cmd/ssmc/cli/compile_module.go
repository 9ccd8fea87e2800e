package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// saveModuleArtifact writes m, compiled from an IR or ONNX file, as a
// .ssmc artifact when it is a runnable model: functions @prefill
// (input_ids → logits and the final states) and @step (input_ids and the
// states → logits and the new states), which is what the Go API and
// 'ssmc run' execute, or one function that ssmc.AsStepModel (an ONNX
// decode graph) or ssmc.AsStatefulModel (a sequence graph passing the
// states through) turns into them. Anything else (an ONNX graph of one forward pass,
// say) is refused with what it has, rather than written as something a
// runtime cannot load.
func saveModuleArtifact(path, source string, m *ir.Module, dtype string) error {
	model, err := ssmc.FromModule(m)
	if err != nil && (ssmc.AsStepModel(m) || ssmc.AsStatefulModel(m)) {
		model, err = ssmc.FromModule(m)
	}
	if err != nil {
		var sigs []string
		for _, f := range m.Funcs {
			sigs = append(sigs, "@"+f.Name+signature(f))
		}
		irOut := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".ir"
		if m.Func("step") == nil {
			return fmt.Errorf("%s cannot be written as an artifact: it has %s, not functions @prefill and @step, nor one decoding step (input_ids [b, 1] and stacked states in, logits [b, V] and the new states out); write the optimized IR instead (-o %s)",
				source, strings.Join(sigs, ", "), irOut)
		}
		return fmt.Errorf("%s cannot be written as an artifact: %v; write the optimized IR instead (-o %s)", source, err, irOut)
	}
	model.Close()
	plan, err := ssmc.PlanSection(m)
	if err != nil {
		return err
	}
	meta := artifact.Meta{Producer: "ssmc " + version(), Source: filepath.Base(source), Dtype: dtype}
	if meta.Dtype == "" {
		meta.Dtype = "f32"
	}
	return artifact.Save(path, m, meta, plan)
}

// signature is f's argument and result types, for messages.
func signature(f *ir.Func) string {
	var args, res []string
	for _, a := range f.Args {
		args = append(args, a.Type.String())
	}
	for _, r := range f.Results {
		res = append(res, r.Type.String())
	}
	return "(" + strings.Join(args, ", ") + ") -> (" + strings.Join(res, ", ") + ")"
}

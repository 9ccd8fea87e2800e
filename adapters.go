package ssmc

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// Swapping LoRA adapters at load time. A model compiled with adapters
// kept apart (ssmc compile --lora DIR -lora-mode fused) has, per adapted
// weight W and adapter k, the factors "<W>.lora.<k>.A" (A_T for an
// embedding) and "<W>.lora.<k>.B" as weights of their own (the artifact's
// "adapters" section) and their scale in the IR as LoRAMatMul's
// attribute (an embedding adapter's is folded into its B).
// LoadOptions.Adapters puts other PEFT adapters into those slots: the
// same targets and ranks, any values and scales. The result computes
// exactly what compiling the base with those adapters would.

// loraSlot is one factor weight of the module.
type loraSlot struct {
	target string // the adapted base weight
	k      int    // the adapter's index on that weight
	part   string // A, A_T or B
	typ    ir.Type
}

var loraName = regexp.MustCompile(`^(.+)\.lora\.([0-9]+)\.(A|A_T|B)$`)

// swapAdapters replaces the LoRA factors and scales of mod (with bound
// weights) by those of the PEFT adapter folders dirs, taken in order as
// compile's --lora flags are.
func swapAdapters(mod *ir.Module, dirs []string) error {
	slots := map[string]loraSlot{}
	for _, f := range mod.Funcs {
		for _, v := range f.Body {
			if v.Op != ir.OpParam {
				continue
			}
			name := v.Attrs.String("name", "")
			if m := loraName.FindStringSubmatch(name); m != nil {
				k, _ := strconv.Atoi(m[2])
				slots[name] = loraSlot{target: m[1], k: k, part: m[3], typ: v.Type}
			}
		}
	}
	for name := range mod.Weights {
		if strings.Contains(name, ".merged.") {
			return fmt.Errorf("the model was compiled with -lora-mode merge: its adapters are folded into the weights (%s); compile it with -lora-mode fused to swap adapters", name)
		}
	}
	if len(slots) == 0 {
		return fmt.Errorf("the model has no LoRA adapters kept apart to replace: compile it with --lora DIR -lora-mode fused")
	}
	base := map[string][]int64{}
	for name, w := range mod.Weights {
		if !artifact.IsAdapterWeight(name) {
			base[name] = w.Shape
		}
	}
	filled := map[string]bool{}
	count := map[string]int{}
	newW := map[string]*ir.Tensor{}
	scales := map[string]float64{} // B slot -> scale
	for _, dir := range dirs {
		res, err := peft.Load(dir, base, peft.Options{})
		if err != nil {
			return err
		}
		if len(res.Replacements) > 0 {
			return fmt.Errorf("adapter %s: modules_to_save replace base weights, which only compiling can apply", dir)
		}
		for _, ad := range res.Adapters {
			k := count[ad.Target]
			count[ad.Target]++
			aPart, a, b := "A", ad.A, ad.B
			if ad.Embedding {
				// As the importer stores them: Aᵀ, and B with the
				// scale folded in.
				aPart = "A_T"
				a, b = hf.EmbeddingFactors(ad)
			}
			for _, p := range []struct {
				part string
				t    *ir.Tensor
			}{{aPart, a}, {"B", b}} {
				name := fmt.Sprintf("%s.lora.%d.%s", ad.Target, k, p.part)
				slot, ok := slots[name]
				if !ok {
					return fmt.Errorf("adapter %s adapts %s, which the model has no LoRA slot %d for (it was compiled with adapters on %s)", dir, ad.Target, k, slotTargets(slots))
				}
				if !ir.Static(p.t.Shape...).Equal(slot.typ.Shape) {
					return fmt.Errorf("adapter %s: %s factor %s is %v (rank %d), the model's slot is %v: the model was compiled with another rank", dir, ad.Target, p.part, ir.Static(p.t.Shape...), ad.Rank, slot.typ.Shape)
				}
				newW[name] = convert(p.t, slot.typ.DType)
				filled[name] = true
			}
			if !ad.Embedding {
				scales[fmt.Sprintf("%s.lora.%d.B", ad.Target, k)] = ad.Scale
			}
		}
	}
	for name, s := range slots {
		if !filled[name] {
			return fmt.Errorf("the adapters given fill no LoRA slot %d on %s (the model was compiled with adapters on %s)", s.k, s.target, slotTargets(slots))
		}
	}
	if err := setScales(mod, scales); err != nil {
		return err
	}
	for name, t := range newW {
		mod.Weights[name] = t
	}
	return nil
}

// setScales sets the scale attribute of every LoRAMatMul whose B factor
// is a weight named in scales. (An embedding adapter's scale is folded
// into its B; see hf.EmbeddingFactors.)
func setScales(mod *ir.Module, scales map[string]float64) error {
	found := map[string]bool{}
	for _, f := range mod.Funcs {
		for _, v := range f.Body {
			switch v.Op {
			case ir.OpLoRAMatMul:
				if b := v.Args[3]; b != nil && b.Op == ir.OpParam {
					if s, ok := scales[b.Attrs.String("name", "")]; ok {
						v.Attrs["scale"] = s
						found[b.Attrs.String("name", "")] = true
					}
				}
			}
		}
	}
	for name := range scales {
		if !found[name] {
			return fmt.Errorf("cannot find the scale of the low-rank path through %s in the compiled model", name)
		}
	}
	return nil
}

// slotTargets lists the adapted weights of slots, for messages.
func slotTargets(slots map[string]loraSlot) string {
	seen := map[string]bool{}
	var ts []string
	for _, s := range slots {
		if !seen[s.target] {
			seen[s.target] = true
			ts = append(ts, s.target)
		}
	}
	if len(ts) > 4 {
		return fmt.Sprintf("%d weights (%s, …)", len(ts), strings.Join(ts[:3], ", "))
	}
	return strings.Join(ts, ", ")
}

// convert returns t in dtype dt: itself when it already is, else each
// value through float32, rounded to nearest even, as the mixed-precision
// pass narrows weights.
func convert(t *ir.Tensor, dt ir.DType) *ir.Tensor {
	if t.DType == dt {
		return t
	}
	v := t.Float64s()
	for i, x := range v {
		v[i] = float64(float32(x))
	}
	return ir.TensorFromFloat64s(dt, t.Shape, v)
}

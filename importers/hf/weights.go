package hf

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
)

// prepareWeights builds the module's weight table from checked, normalized
// checkpoint weights: projection and embedding weights are shared as they
// are (zero copy, storage dtype kept); norm, conv, D and bias weights are
// converted to f32 when stored narrower; A_log is replaced by
// A = −exp(A_log), computed in float64 and rounded to f32.
func prepareWeights(c *Config, in map[string]*ir.Tensor) map[string]*ir.Tensor {
	w := map[string]*ir.Tensor{}
	for _, s := range c.Weights() {
		t := in[s.Name]
		switch s.kind {
		case kindLarge:
			w[s.Name] = t
		case kindSmall:
			w[s.Name] = toF32(t)
		case kindALog:
			vals := t.Float64s()
			for i, a := range vals {
				vals[i] = -math.Exp(a)
			}
			name := strings.TrimSuffix(s.Name, "A_log") + "A"
			w[name] = ir.TensorFromFloat64s(ir.F32, t.Shape, vals)
		}
	}
	return w
}

// toF32 returns t itself when it is f32 and a converted copy otherwise.
func toF32(t *ir.Tensor) *ir.Tensor {
	if t.DType == ir.F32 {
		return t
	}
	return ir.TensorFromFloat64s(ir.F32, t.Shape, t.Float64s())
}

// lora is one adapter attached to a weight, by the module weight names of
// its factors.
type lora struct {
	a, b  string // A [r, in] and B [out, r]; for an embedding a names Aᵀ [vocab, r]
	scale float64
}

// linearTargets are the per-layer weights a linear adapter may target.
var linearTargets = []string{"mixer.in_proj.weight", "mixer.x_proj.weight", "mixer.dt_proj.weight", "mixer.out_proj.weight"}

// attachAdapters checks the adapters against the model weights w, adds
// their factors to w and returns them by target. Linear adapters may target
// in_proj, x_proj, dt_proj, out_proj and an untied lm_head; embedding
// adapters the embedding. Factors are shared as they are (any float dtype);
// an embedding adapter's A [r, vocab] is stored transposed as a new f32
// weight "<target>.lora.<k>.A_T" [vocab, r] so that a Gather picks its rows.
// Every problem is reported in one error.
func attachAdapters(c *Config, w map[string]*ir.Tensor, ads []peft.Adapter) (map[string][]lora, error) {
	adaptable := map[string]bool{EmbeddingName: true}
	for i := 0; i < c.NLayer; i++ {
		for _, s := range linearTargets {
			adaptable[LayerWeight(i, s)] = true
		}
	}
	if !c.TieEmbeddings {
		adaptable[LMHeadName] = true
	}
	shapes := c.WeightShapes()
	out := map[string][]lora{}
	var probs []string
	for i, ad := range ads {
		target, _ := NormalizeName(ad.Target)
		where := fmt.Sprintf("adapter %d", i)
		if ad.Source != "" {
			where += " (" + oneLine(ad.Source) + ")"
		}
		where += " on " + clip(ad.Target)
		_, isWeight := shapes[target]
		base := w[target]
		switch {
		case !isWeight && !adaptable[target]:
			probs = append(probs, where+": not a weight of the model")
			continue
		case !adaptable[target]:
			probs = append(probs, where+": not a linear or embedding weight (LoRA targets in_proj, x_proj, dt_proj, out_proj, an untied lm_head or the embedding)")
			continue
		case ad.Embedding != (target == EmbeddingName):
			probs = append(probs, where+fmt.Sprintf(": Embedding is %v for a %s weight", ad.Embedding, map[bool]string{true: "embedding", false: "linear"}[target == EmbeddingName]))
			continue
		}
		if err := checkFactors(ad, base); err != nil {
			probs = append(probs, where+": "+err.Error())
			continue
		}
		k := len(out[target])
		l := lora{a: fmt.Sprintf("%s.lora.%d.A", target, k), b: fmt.Sprintf("%s.lora.%d.B", target, k), scale: ad.Scale}
		w[l.b] = ad.B
		if ad.Embedding {
			l.a += "_T"
			w[l.a], w[l.b] = EmbeddingFactors(ad)
			l.scale = 1
		} else {
			w[l.a] = ad.A
		}
		out[target] = append(out[target], l)
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("hf: %d bad adapter(s):\n\t%s", len(probs), strings.Join(probs, "\n\t"))
	}
	return out, nil
}

// checkFactors checks an adapter's A and B against the base weight:
// linear W [out, in]: A [r, in], B [out, r]; embedding E [vocab, dim]:
// A [r, vocab], B [dim, r].
func checkFactors(ad peft.Adapter, base *ir.Tensor) error {
	if ad.A == nil || ad.B == nil {
		return fmt.Errorf("A or B is missing")
	}
	for _, f := range []struct {
		name string
		t    *ir.Tensor
	}{{"A", ad.A}, {"B", ad.B}} {
		if d := f.t.DType; d != ir.F32 && d != ir.F16 && d != ir.BF16 {
			return fmt.Errorf("%s is %v, want f32, f16 or bf16", f.name, d)
		}
		if len(f.t.Shape) != 2 {
			return fmt.Errorf("%s has shape %s, want a matrix", f.name, shapeString(f.t.Shape))
		}
		if err := checkData(f.t); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
	}
	r := ad.A.Shape[0]
	out, in := base.Shape[0], base.Shape[1]
	if ad.Embedding { // E [vocab, dim]: A [r, vocab], B [dim, r]
		out, in = in, out
	}
	if r < 1 || !slices.Equal(ad.A.Shape, []int64{r, in}) || !slices.Equal(ad.B.Shape, []int64{out, r}) {
		return fmt.Errorf("A %s and B %s do not fit the weight %s (want A [r,%d], B [%d,r])",
			shapeString(ad.A.Shape), shapeString(ad.B.Shape), shapeString(base.Shape), in, out)
	}
	if ad.Rank != 0 && int64(ad.Rank) != r {
		return fmt.Errorf("Rank %d, but A has %d rows", ad.Rank, r)
	}
	if math.IsNaN(ad.Scale) || math.IsInf(ad.Scale, 0) {
		return fmt.Errorf("scale %v is not finite", ad.Scale)
	}
	return nil
}

// transposeF32 returns the transpose of a matrix as a new f32 tensor.
// EmbeddingFactors returns the weights an embedding adapter becomes:
// Aᵀ [vocab, r] (A transposed, so that a token's row is a Gather) and
// scale·B [dim, r], both f32, the scale folded into B (computed in
// float64, rounded once) so that no constant of the adapter's is left in
// the graph: the lookup adds Gather(Aᵀ, ids)·(scale·B)ᵀ. Swapping adapters
// at load time (ssmc.LoadOptions.Adapters) computes the same tensors.
func EmbeddingFactors(ad peft.Adapter) (aT, b *ir.Tensor) {
	v := ad.B.Float64s()
	for i := range v {
		v[i] *= ad.Scale
	}
	return transposeF32(ad.A), ir.TensorFromFloat64s(ir.F32, ad.B.Shape, v)
}

func transposeF32(t *ir.Tensor) *ir.Tensor {
	rows, cols := int(t.Shape[0]), int(t.Shape[1])
	src := t.Float64s()
	dst := make([]float64, len(src))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			dst[j*rows+i] = src[i*cols+j]
		}
	}
	return ir.TensorFromFloat64s(ir.F32, []int64{int64(cols), int64(rows)}, dst)
}

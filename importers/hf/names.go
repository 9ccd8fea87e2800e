package hf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// Normalized weight names. Every checkpoint spelling is mapped to these
// (the Hugging Face MambaForCausalLM names); adapters name their targets
// the same way.
const (
	EmbeddingName = "backbone.embeddings.weight"
	NormFName     = "backbone.norm_f.weight"
	LMHeadName    = "lm_head.weight"
)

// LayerWeight returns the normalized name of a per-layer weight, e.g.
// LayerWeight(3, "mixer.in_proj.weight") =
// "backbone.layers.3.mixer.in_proj.weight".
func LayerWeight(layer int, suffix string) string {
	return "backbone.layers." + strconv.Itoa(layer) + "." + suffix
}

// AName is the name of the weight A = −exp(A_log) computed at import
// for layer i ("backbone.layers.i.mixer.A").
func AName(layer int) string { return LayerWeight(layer, "mixer.A") }

// NormalizeName maps a checkpoint tensor name to the normalized name:
//
//	backbone.embedding.weight, backbone.embeddings.weight,
//	model.embed_tokens.weight, embeddings.weight  -> backbone.embeddings.weight
//	model.layers.N.X, layers.N.X                  -> backbone.layers.N.X
//	model.norm_f.weight, norm_f.weight            -> backbone.norm_f.weight
//	lm_head.weight                                -> lm_head.weight
//
// ("backbone." and "model." prefixes are interchangeable; the state-spaces
// mamba_ssm names are the HF names with "embedding" for "embeddings").
// Names it does not recognize come back unchanged with ok false.
func NormalizeName(name string) (string, bool) {
	if name == LMHeadName {
		return name, true
	}
	rest := name
	for _, p := range []string{"backbone.", "model."} {
		if strings.HasPrefix(rest, p) {
			rest = rest[len(p):]
			break
		}
	}
	switch rest {
	case "embedding.weight", "embeddings.weight", "embed_tokens.weight":
		return EmbeddingName, true
	case "norm_f.weight":
		return NormFName, true
	}
	if strings.HasPrefix(rest, "layers.") {
		return "backbone." + rest, true
	}
	return name, false
}

// weightKind says how Build stores a weight.
type weightKind uint8

const (
	// kindLarge weights keep their storage dtype (projections, embedding).
	kindLarge weightKind = iota
	// kindSmall weights are converted to f32 (norms, conv, D, biases).
	kindSmall
	// kindALog is A_log, replaced by A = −exp(A_log) in f32.
	kindALog
)

// WeightSpec is one tensor a checkpoint must contain.
type WeightSpec struct {
	// Name is the normalized name.
	Name string
	// Shape is the expected shape. conv1d.weight may also be stored
	// squeezed as [d_inner, d_conv].
	Shape []int64
	kind  weightKind
}

// Weights lists every tensor a checkpoint of this config must contain,
// with normalized names and shapes: embeddings [V, d_model]; per layer
// norm [d_model], in_proj [2·d_inner, d_model] (+bias), conv1d
// [d_inner, 1, d_conv] (+bias), x_proj [dt_rank + 2·d_state, d_inner],
// dt_proj [d_inner, dt_rank] and bias [d_inner], A_log [d_inner, d_state],
// D [d_inner], out_proj [d_model, d_inner] (+bias); norm_f [d_model]; and
// lm_head [V, d_model] unless the embeddings are tied.
func (c *Config) Weights() []WeightSpec {
	dm, di, n, k, r, v := int64(c.DModel), int64(c.DInner), int64(c.DState), int64(c.DConv), int64(c.DTRank), int64(c.VocabSize)
	specs := []WeightSpec{{EmbeddingName, []int64{v, dm}, kindLarge}}
	for i := 0; i < c.NLayer; i++ {
		add := func(suffix string, kind weightKind, shape ...int64) {
			specs = append(specs, WeightSpec{LayerWeight(i, suffix), shape, kind})
		}
		add("norm.weight", kindSmall, dm)
		add("mixer.in_proj.weight", kindLarge, 2*di, dm)
		if c.InProjBias {
			add("mixer.in_proj.bias", kindSmall, 2*di)
		}
		add("mixer.conv1d.weight", kindSmall, di, 1, k)
		if c.ConvBias {
			add("mixer.conv1d.bias", kindSmall, di)
		}
		add("mixer.x_proj.weight", kindLarge, r+2*n, di)
		add("mixer.dt_proj.weight", kindLarge, di, r)
		add("mixer.dt_proj.bias", kindSmall, di)
		add("mixer.A_log", kindALog, di, n)
		add("mixer.D", kindSmall, di)
		add("mixer.out_proj.weight", kindLarge, dm, di)
		if c.OutProjBias {
			add("mixer.out_proj.bias", kindSmall, dm)
		}
	}
	specs = append(specs, WeightSpec{NormFName, []int64{dm}, kindSmall})
	if !c.TieEmbeddings {
		specs = append(specs, WeightSpec{LMHeadName, []int64{v, dm}, kindLarge})
	}
	return specs
}

// WeightShapes returns the normalized name → shape of every weight of the
// model (the table peft.Load checks adapters against).
func (c *Config) WeightShapes() map[string][]int64 {
	m := map[string][]int64{}
	for _, s := range c.Weights() {
		m[s.Name] = slices.Clone(s.Shape)
	}
	return m
}

// WeightProblem is one mismatch between a checkpoint and its config.
type WeightProblem struct {
	// Name is the tensor's name (as stored, plus the normalized name when
	// it differs).
	Name string
	// Problem is "missing", "unexpected", "wrong shape", "unsupported
	// dtype" or "duplicate".
	Problem string
	// Want and Have are the expected and actual shapes (nil when not
	// applicable).
	Want, Have []int64
	// Detail adds context (the dtype, the clashing name).
	Detail string
}

func (p WeightProblem) String() string {
	s := p.Problem + " " + p.Name
	if p.Want != nil {
		s += ": want " + shapeString(p.Want)
	}
	if p.Have != nil {
		if p.Want != nil {
			s += ", have "
		} else {
			s += ": "
		}
		s += shapeString(p.Have)
	}
	if p.Detail != "" {
		s += " (" + p.Detail + ")"
	}
	return s
}

// WeightsError lists every missing, unexpected or wrongly shaped tensor.
type WeightsError struct {
	// Source is the checkpoint path or "weights".
	Source   string
	Problems []WeightProblem
}

// maxListedProblems bounds the lines of a WeightsError message.
const maxListedProblems = 64

func (e *WeightsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hf: %s: %d tensor(s) do not match the config:", e.Source, len(e.Problems))
	for i, p := range e.Problems {
		if i == maxListedProblems {
			fmt.Fprintf(&b, "\n\t... and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(oneLine(p.String()))
	}
	return b.String()
}

func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// normalizeWeights renames the tensors of a checkpoint to normalized names
// and checks them against the config: every expected tensor present with
// the expected shape and a float dtype (f32, f16, bf16), nothing else. A
// tied model may carry lm_head.weight as well (ignored) or instead of the
// embedding (used as the embedding). srcDType names storage dtypes that
// have no IR equivalent. It returns the normalized map and warnings, or a
// *WeightsError listing every problem.
func normalizeWeights(c *Config, source string, in map[string]*ir.Tensor, srcDType map[string]string) (map[string]*ir.Tensor, []string, error) {
	var probs []WeightProblem
	var warnings []string
	out := map[string]*ir.Tensor{}
	orig := map[string]string{} // normalized -> stored name
	label := func(stored, norm string) string {
		if stored == norm {
			return norm
		}
		return stored + " (" + norm + ")"
	}
	names := make([]string, 0, len(in))
	for name := range in {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := in[name]
		norm, _ := NormalizeName(name)
		if prev, dup := orig[norm]; dup {
			probs = append(probs, WeightProblem{Name: label(name, norm), Problem: "duplicate",
				Detail: "also stored as " + prev})
			continue
		}
		if t == nil {
			probs = append(probs, WeightProblem{Name: name, Problem: "missing", Detail: "nil tensor"})
			continue
		}
		orig[norm] = name
		out[norm] = t
	}
	if c.TieEmbeddings {
		if lm, ok := out[LMHeadName]; ok {
			if _, emb := out[EmbeddingName]; !emb {
				out[EmbeddingName] = lm
				orig[EmbeddingName] = orig[LMHeadName]
				warnings = append(warnings, "embeddings are tied and only lm_head.weight is stored: using it as the embedding")
			} else {
				warnings = append(warnings, "embeddings are tied: lm_head.weight is ignored")
			}
			delete(out, LMHeadName)
			delete(orig, LMHeadName)
		}
	}
	want := map[string]bool{}
	for _, s := range c.Weights() {
		want[s.Name] = true
		t, ok := out[s.Name]
		if !ok {
			probs = append(probs, WeightProblem{Name: s.Name, Problem: "missing", Want: s.Shape})
			continue
		}
		name := label(orig[s.Name], s.Name)
		if !shapeMatches(s, t.Shape) {
			probs = append(probs, WeightProblem{Name: name, Problem: "wrong shape", Want: s.Shape, Have: t.Shape})
			continue
		}
		if d, bad := srcDType[orig[s.Name]]; bad {
			probs = append(probs, WeightProblem{Name: name, Problem: "unsupported dtype", Detail: d + "; want F32, F16 or BF16"})
			continue
		}
		if t.DType != ir.F32 && t.DType != ir.F16 && t.DType != ir.BF16 {
			probs = append(probs, WeightProblem{Name: name, Problem: "unsupported dtype", Detail: t.DType.String() + "; want f32, f16 or bf16"})
			continue
		}
		if err := checkData(t); err != nil {
			probs = append(probs, WeightProblem{Name: name, Problem: "bad data", Detail: err.Error()})
		}
	}
	for norm, stored := range orig {
		if !want[norm] {
			probs = append(probs, WeightProblem{Name: label(stored, norm), Problem: "unexpected", Have: out[norm].Shape})
		}
	}
	if len(probs) > 0 {
		slices.SortFunc(probs, func(a, b WeightProblem) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(a.String(), b.String())
		})
		return nil, nil, &WeightsError{Source: source, Problems: probs}
	}
	return out, warnings, nil
}

// shapeMatches compares a stored shape with the spec (conv1d.weight may be
// squeezed to [d_inner, d_conv]).
func shapeMatches(s WeightSpec, have []int64) bool {
	if slices.Equal(s.Shape, have) {
		return true
	}
	return strings.HasSuffix(s.Name, ".conv1d.weight") && len(have) == 2 &&
		have[0] == s.Shape[0] && have[1] == s.Shape[2]
}

// checkData checks that a tensor's byte length matches its dtype and shape.
func checkData(t *ir.Tensor) error {
	n, ok := mulLimit64(t.Shape)
	if !ok {
		return fmt.Errorf("shape %v is too large", t.Shape)
	}
	if size := int64(t.DType.Size()); size == 0 || int64(len(t.Data)) != n*size {
		return fmt.Errorf("%v%v needs %d bytes, has %d", t.DType, shapeString(t.Shape), n*size, len(t.Data))
	}
	return nil
}

// mulLimit64 is the element count of shape, false if negative or above
// MaxElements.
func mulLimit64(shape []int64) (int64, bool) {
	p := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			return 0, true
		}
		if p > MaxElements/d {
			return 0, false
		}
		p *= d
	}
	return p, true
}

package mambaref

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Config holds the sizes of a Mamba-1 model.
type Config struct {
	DModel, DInner, DState, DConv, DtRank, NLayer, Vocab int
	// Eps is the RMSNorm epsilon (layer_norm_epsilon).
	Eps float64
	// TiedHead makes the LM head the embedding; otherwise lm_head.weight
	// [Vocab, DModel] is required.
	TiedHead bool
}

// MaxSize bounds every size of a Config, so that bad sizes fail cleanly
// instead of allocating without limit.
const MaxSize = 1 << 20

// Weights maps Hugging Face weight names to row-major float64 data.
type Weights map[string][]float64

// Names of the weights outside the layers.
const (
	EmbeddingName = "backbone.embeddings.weight"
	NormFName     = "backbone.norm_f.weight"
	LMHeadName    = "lm_head.weight"
)

// LayerName returns the name of layer i's weight suffix, e.g.
// LayerName(0, "mixer.D") = "backbone.layers.0.mixer.D".
func LayerName(i int, suffix string) string {
	return fmt.Sprintf("backbone.layers.%d.%s", i, suffix)
}

// Shapes returns every weight the model needs with its shape:
//
//	backbone.embeddings.weight              [Vocab, DModel]
//	backbone.layers.{i}.norm.weight         [DModel]
//	  .mixer.in_proj.weight                 [2·DInner, DModel]
//	  .mixer.conv1d.weight                  [DInner, 1, DConv]
//	  .mixer.conv1d.bias                    [DInner]
//	  .mixer.x_proj.weight                  [DtRank + 2·DState, DInner]
//	  .mixer.dt_proj.weight                 [DInner, DtRank]
//	  .mixer.dt_proj.bias                   [DInner]
//	  .mixer.A_log                          [DInner, DState]
//	  .mixer.D                              [DInner]
//	  .mixer.out_proj.weight                [DModel, DInner]
//	backbone.norm_f.weight                  [DModel]
//	lm_head.weight                          [Vocab, DModel] (untied only)
func (c Config) Shapes() map[string][]int {
	m := map[string][]int{
		EmbeddingName: {c.Vocab, c.DModel},
		NormFName:     {c.DModel},
	}
	if !c.TiedHead {
		m[LMHeadName] = []int{c.Vocab, c.DModel}
	}
	for i := 0; i < c.NLayer; i++ {
		for suffix, shape := range map[string][]int{
			"norm.weight":           {c.DModel},
			"mixer.in_proj.weight":  {2 * c.DInner, c.DModel},
			"mixer.conv1d.weight":   {c.DInner, 1, c.DConv},
			"mixer.conv1d.bias":     {c.DInner},
			"mixer.x_proj.weight":   {c.DtRank + 2*c.DState, c.DInner},
			"mixer.dt_proj.weight":  {c.DInner, c.DtRank},
			"mixer.dt_proj.bias":    {c.DInner},
			"mixer.A_log":           {c.DInner, c.DState},
			"mixer.D":               {c.DInner},
			"mixer.out_proj.weight": {c.DModel, c.DInner},
		} {
			m[LayerName(i, suffix)] = shape
		}
	}
	return m
}

// Names returns the names of Shapes, sorted.
func (c Config) Names() []string {
	s := c.Shapes()
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks that every size is in [1, MaxSize] and Eps is finite and
// non-negative.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"DModel", c.DModel}, {"DInner", c.DInner}, {"DState", c.DState}, {"DConv", c.DConv},
		{"DtRank", c.DtRank}, {"NLayer", c.NLayer}, {"Vocab", c.Vocab}} {
		if f.v < 1 || f.v > MaxSize {
			return fmt.Errorf("mambaref: config %s = %d, want 1..%d", f.name, f.v, MaxSize)
		}
	}
	if math.IsNaN(c.Eps) || math.IsInf(c.Eps, 0) || c.Eps < 0 {
		return fmt.Errorf("mambaref: config Eps = %v, want a finite value >= 0", c.Eps)
	}
	return nil
}

// check validates the config and that w holds every weight with the right
// number of elements, listing every problem. Extra weights are ignored.
func (c Config) check(w Weights) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var probs []string
	shapes := c.Shapes()
	for _, name := range c.Names() {
		n := 1
		shape := shapes[name]
		for _, d := range shape {
			n *= d
		}
		data, ok := w[name]
		switch {
		case !ok:
			probs = append(probs, "missing "+name)
		case len(data) != n:
			probs = append(probs, fmt.Sprintf("%s has %d elements, want %d for %v", name, len(data), n, shape))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("mambaref: bad weights: %s", strings.Join(probs, "; "))
	}
	return nil
}

// layer holds one layer's weights.
type layer struct {
	norm, inProj, convW, convB, xProj, dtW, dtB, A, D, outProj []float64
}

// layers returns the layers with A = -exp(A_log) precomputed.
func (c Config) layers(w Weights) []layer {
	ls := make([]layer, c.NLayer)
	for i := range ls {
		g := func(s string) []float64 { return w[LayerName(i, s)] }
		l := layer{norm: g("norm.weight"), inProj: g("mixer.in_proj.weight"), convW: g("mixer.conv1d.weight"),
			convB: g("mixer.conv1d.bias"), xProj: g("mixer.x_proj.weight"), dtW: g("mixer.dt_proj.weight"),
			dtB: g("mixer.dt_proj.bias"), D: g("mixer.D"), outProj: g("mixer.out_proj.weight")}
		aLog := g("mixer.A_log")
		l.A = make([]float64, len(aLog))
		for j, v := range aLog {
			l.A[j] = -math.Exp(v)
		}
		ls[i] = l
	}
	return ls
}

// head returns the LM head matrix [Vocab, DModel].
func (c Config) head(w Weights) []float64 {
	if c.TiedHead {
		return w[EmbeddingName]
	}
	return w[LMHeadName]
}

package passes

import (
	"fmt"
	"sort"

	"github.com/ssmc-dev/ssmc/ir"
)

// Pass is one entry of the pipeline.
type Pass struct {
	// Name is the pass's name: its file, its -d flag and its testdata folder.
	Name string
	// Fn rewrites one function.
	Fn func(c *Context, f *ir.Func) error
	// Required passes cannot be disabled.
	Required bool
	// Doc is a one-line description for `ssmc passes`.
	Doc string
}

// Constraint says pass A must run before pass B.
type Constraint struct{ A, B string }

// Pipeline is the ordered list of passes Run applies.
var Pipeline = []Pass{
	{Name: "canonicalize", Fn: canonicalize, Doc: "apply the canonicalization rule table to a fixed point"},
	{Name: "constfold", Fn: constfold, Doc: "evaluate ops whose operands are all constants (or bound weights)"},
	{Name: "fuse-lora", Fn: fuseLoRA, Doc: "fuse x·Wᵀ + s·(x·Aᵀ)·Bᵀ into LoRAMatMul (or merge it into W with LoRAMode merge)"},
	{Name: "mixed-precision", Fn: mixedPrecision, Doc: "narrow projection weights (and bf16 activations) per the -dtype policy"},
	{Name: "cse", Fn: cse, Doc: "merge values computing the same op on the same operands"},
	{Name: "fuse-norm", Fn: fuseNorm, Doc: "fuse RMSNorm decompositions into RMSNorm, and residual Add + RMSNorm into AddRMSNorm"},
	{Name: "fuse-conv", Fn: fuseConv, Doc: "fuse transpose/Conv1d/bias/SiLU causal convolutions into CausalConv1d"},
	{Name: "fuse-scan", Fn: fuseScan, Doc: "fuse the unrolled selective-SSM recurrence into SelectiveScan or SelectiveStateUpdate"},
	{Name: "fuse-linear-scan", Fn: fuseLinearScan, Doc: "fuse the selective-SSM recurrence around a LinearScan (ONNX Scan, LinearAttention) into SelectiveScan"},
	{Name: "fuse-elementwise", Fn: fuseElementwise, Doc: "fuse chains of single-use elementwise ops into FusedElementwise"},
	{Name: "transpose-weights", Fn: transposeWeights, Doc: "store a projection's [K,N] weight transposed, read with transpose_b (ONNX's pre-transposed Linear weights)"},
	{Name: "fold-casts", Fn: foldCasts, Doc: "fold the bf16/f16 activation casts around a projection into MatMul{round}"},
	{Name: "fuse-split", Fn: fuseSplit, Doc: "fold a Split of a projection's output into the MatMul, which then writes each piece"},
	{Name: "dce", Fn: dce, Required: true, Doc: "remove values whose results are never used"},
}

// Constraints are the ordering rules of the pipeline, checked at start-up.
var Constraints = []Constraint{
	{"canonicalize", "constfold"},    // folding sees canonical forms
	{"constfold", "cse"},             // folded constants can merge
	{"constfold", "mixed-precision"}, // weights are narrowed after folding in f32
	{"mixed-precision", "cse"},       // its casts can merge
	{"cse", "dce"},                   // CSE leaves dead duplicates behind
	{"cse", "fuse-norm"},             // fusions match the merged, canonical forms
	{"cse", "fuse-conv"},
	{"cse", "fuse-scan"},
	{"cse", "fuse-linear-scan"},
	{"canonicalize", "fuse-lora"},     // the scale is a constant on the right
	{"fuse-lora", "mixed-precision"},  // the policy narrows a LoRAMatMul's factors together
	{"fuse-norm", "fuse-elementwise"}, // elementwise fusion must not eat the other patterns
	{"fuse-conv", "fuse-elementwise"},
	{"fuse-scan", "fuse-elementwise"},
	{"fuse-linear-scan", "fuse-elementwise"},
	{"fuse-lora", "fuse-elementwise"},
	{"fuse-elementwise", "dce"}, // fusions leave dead values behind
	{"fuse-scan", "fuse-split"}, // the scan matchers read the plain Split
	{"fuse-linear-scan", "fuse-split"},
	{"fuse-lora", "fuse-split"}, // a split MatMul is no LoRA base
	{"mixed-precision", "fuse-split"},
	{"fuse-split", "dce"},
	{"mixed-precision", "fold-casts"},  // it inserts the casts
	{"cse", "fold-casts"},              // shared casts are merged first
	{"fold-casts", "fuse-split"},       // the folded projection is splittable
	{"fuse-scan", "transpose-weights"}, // the matchers see the graph's own layout
	{"fuse-linear-scan", "transpose-weights"},
	{"mixed-precision", "transpose-weights"}, // narrowed once, then moved
	{"transpose-weights", "fuse-split"},      // the split form needs transpose_b
}

func init() {
	if err := checkPipeline(Pipeline, Constraints); err != nil {
		panic("passes: " + err.Error())
	}
}

// checkPipeline checks that pass names are unique and the order obeys every
// constraint.
func checkPipeline(pipe []Pass, cons []Constraint) error {
	pos := map[string]int{}
	for i, p := range pipe {
		if _, dup := pos[p.Name]; dup {
			return fmt.Errorf("pass %s listed twice", p.Name)
		}
		if p.Fn == nil {
			return fmt.Errorf("pass %s has no function", p.Name)
		}
		pos[p.Name] = i
	}
	for _, c := range cons {
		a, okA := pos[c.A]
		b, okB := pos[c.B]
		if !okA || !okB {
			return fmt.Errorf("constraint %s before %s names an unknown pass", c.A, c.B)
		}
		if a >= b {
			return fmt.Errorf("pass %s must run before %s", c.A, c.B)
		}
	}
	return nil
}

// Lookup returns the pass named name.
func Lookup(name string) (Pass, bool) {
	for _, p := range Pipeline {
		if p.Name == name {
			return p, true
		}
	}
	return Pass{}, false
}

// Context is what a pass sees besides the function: the module (for its
// weights), the options, and counters for the report.
type Context struct {
	Module  *ir.Module
	Options Options
	// Pass is the name of the running pass.
	Pass string
	// Counters counts events per pass run: rule hits ("rule/<name>"),
	// fusions fired, values removed.
	Counters map[string]int

	folded map[string]string // constfold: fold key -> weight name
}

// Count adds n to counter name.
func (c *Context) Count(name string, n int) {
	if c.Counters == nil {
		c.Counters = map[string]int{}
	}
	c.Counters[name] += n
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package hf

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
)

// Options control the IR that Build and Load produce.
type Options struct {
	// Decomposed builds both functions from plain ops only (no RMSNorm,
	// CausalConv1d, SelectiveScan, SelectiveStateUpdate or LoRAMatMul): the
	// form the fusion passes must recognize. Its prefill unrolls the
	// recurrence and so needs SeqLen.
	Decomposed bool
	// SeqLen fixes the prefill sequence length L (0: symbolic "L", only
	// for the fused form). At most MaxSeqLen; decomposed, also
	// SeqLen·NLayer ≤ MaxUnrolledSteps.
	SeqLen int
	// Adapters are LoRA adapters to apply; see Build.
	Adapters []peft.Adapter
	// Replacements replace base weights by normalized name before adapters
	// apply: PEFT's modules_to_save (a fine-tuned full copy of a module).
	// Each must have the base weight's shape.
	Replacements map[string]*ir.Tensor
	// BatchSymbol names the symbolic batch dimension ("B" when empty).
	BatchSymbol string
}

// Limits on the prefill length.
const (
	// MaxSeqLen bounds Options.SeqLen.
	MaxSeqLen = 1 << 20
	// MaxUnrolledSteps bounds SeqLen·NLayer for the decomposed prefill,
	// which emits about 25 values per step and layer.
	MaxUnrolledSteps = 1 << 16
)

// seqSymbol is the symbolic prefill length.
const seqSymbol = "L"

// Result names of both functions.
var resultNames = []string{"logits", "conv_state", "ssm_state"}

func (o Options) check(c *Config) (Options, error) {
	if o.BatchSymbol == "" {
		o.BatchSymbol = "B"
	}
	if !isSymbol(o.BatchSymbol) || o.BatchSymbol == seqSymbol {
		return o, fmt.Errorf("hf: BatchSymbol %q must be an identifier other than %q", clip(o.BatchSymbol), seqSymbol)
	}
	if o.SeqLen < 0 || o.SeqLen > MaxSeqLen {
		return o, fmt.Errorf("hf: SeqLen %d, want 0..%d", o.SeqLen, MaxSeqLen)
	}
	if o.Decomposed {
		if o.SeqLen == 0 {
			return o, fmt.Errorf("hf: the decomposed prefill unrolls the recurrence and needs Options.SeqLen > 0")
		}
		if int64(o.SeqLen)*int64(c.NLayer) > MaxUnrolledSteps {
			return o, fmt.Errorf("hf: decomposed prefill of %d steps × %d layers exceeds %d unrolled steps", o.SeqLen, c.NLayer, MaxUnrolledSteps)
		}
	}
	return o, nil
}

func isSymbol(s string) bool {
	for i, c := range []byte(s) {
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// Build returns the module of a Mamba model with functions @prefill and
// @step and its weights bound (see the package documentation for the IR).
//
// weights maps tensor names, in any spelling NormalizeName understands, to
// the checkpoint tensors (f32, f16 or bf16); the set must match the config
// exactly (a tied model may also carry lm_head.weight). Projection and
// embedding tensors are bound as they are, zero copy; norm, conv, D and
// bias tensors are converted to f32 when stored narrower, and A_log is
// replaced by A = −exp(A_log) in f32.
//
// Each adapter in opts.Adapters adds its low-rank update to the weight it
// targets: linear adapters (in_proj, x_proj, dt_proj, out_proj, an untied
// lm_head) make the first adapter of a weight a LoRAMatMul and add any
// further ones as s·MatMul(MatMul(x, A, transpose_b), B, transpose_b);
// embedding adapters add s·MatMul(Gather(Aᵀ, ids), B, transpose_b) to the
// embedding lookup (the tied LM head keeps the base embedding, as in PEFT).
func Build(cfg *Config, weights map[string]*ir.Tensor, opts Options) (*ir.Module, error) {
	m, _, err := build(cfg, "weights", weights, nil, opts)
	return m, err
}

// build is Build with the checkpoint's name for messages and the storage
// dtypes that have no IR equivalent; it also returns warnings.
func build(cfg *Config, source string, weights map[string]*ir.Tensor, srcDType map[string]string, opts Options) (*ir.Module, []string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	opts, err := opts.check(cfg)
	if err != nil {
		return nil, nil, err
	}
	norm, warnings, err := normalizeWeights(cfg, source, weights, srcDType)
	if err != nil {
		return nil, nil, err
	}
	if err := replaceWeights(norm, opts.Replacements); err != nil {
		return nil, nil, err
	}
	w := prepareWeights(cfg, norm)
	ads, err := attachAdapters(cfg, w, opts.Adapters)
	if err != nil {
		return nil, nil, err
	}
	g := &gen{cfg: cfg, opts: opts, w: w, ads: ads, batch: ir.SymDim(opts.BatchSymbol)}
	m := &ir.Module{}
	for _, fn := range []func() (*ir.Func, error){g.prefill, g.step} {
		f, err := fn()
		if err != nil {
			return nil, nil, err
		}
		m.Funcs = append(m.Funcs, f)
	}
	m.Weights = map[string]*ir.Tensor{}
	for _, f := range m.Funcs {
		for _, v := range f.Body {
			if v.Op == ir.OpParam {
				name := v.Attrs.String("name", "")
				m.Weights[name] = w[name]
			}
		}
	}
	if err := ir.Verify(m); err != nil {
		return nil, nil, fmt.Errorf("hf: internal error: the built module does not verify: %v", err)
	}
	return m, warnings, nil
}

// gen emits the IR of one function at a time.
type gen struct {
	cfg   *Config
	opts  Options
	w     map[string]*ir.Tensor
	ads   map[string][]lora
	batch ir.Dim

	b      *ir.Builder
	params map[string]*ir.Value
	consts map[float64]*ir.Value
}

func (g *gen) begin(name string) *ir.Func {
	f := ir.NewFunc(name)
	g.b = ir.NewBuilder(f)
	g.params = map[string]*ir.Value{}
	g.consts = map[float64]*ir.Value{}
	return f
}

func (g *gen) finish(f *ir.Func, results ...*ir.Value) (*ir.Func, error) {
	if g.b.Err != nil {
		return nil, fmt.Errorf("hf: internal error: %v", g.b.Err)
	}
	f.SetResults(results, slices.Clone(resultNames))
	return f, nil
}

// seq is the prefill length dimension.
func (g *gen) seq() ir.Dim {
	if g.opts.SeqLen > 0 {
		return ir.StaticDim(int64(g.opts.SeqLen))
	}
	return ir.SymDim(seqSymbol)
}

// prefill emits
//
//	@prefill(input_ids: i64[B,L]) -> (logits: f32[B,L,V],
//	    conv_state: f32[n_layer,B,D,K-1], ssm_state: f32[n_layer,B,D,N])
func (g *gen) prefill() (*ir.Func, error) {
	f := g.begin("prefill")
	ids := f.NewArg("input_ids", ir.TensorType(ir.I64, ir.Shape{g.batch, g.seq()}))
	h := g.embed(ids)
	var convs, ssms []*ir.Value
	for i := 0; i < g.cfg.NLayer; i++ {
		var cs, ss *ir.Value
		h, cs, ss = g.layer(i, h, nil, nil)
		convs, ssms = append(convs, cs), append(ssms, ss)
	}
	logits := g.head(h)
	return g.finish(f, logits, g.stack(convs), g.stack(ssms))
}

// step emits
//
//	@step(input_ids: i64[B,1], conv_state: f32[n_layer,B,D,K-1],
//	    ssm_state: f32[n_layer,B,D,N]) -> (logits: f32[B,V], conv_state, ssm_state)
func (g *gen) step() (*ir.Func, error) {
	f := g.begin("step")
	c := g.cfg
	nl, d, k, n := int64(c.NLayer), int64(c.DInner), int64(c.DConv), int64(c.DState)
	ids := f.NewArg("input_ids", ir.TensorType(ir.I64, ir.Shape{g.batch, ir.StaticDim(1)}))
	convIn := f.NewArg("conv_state", ir.TensorType(ir.F32, ir.Shape{ir.StaticDim(nl), g.batch, ir.StaticDim(d), ir.StaticDim(k - 1)}))
	ssmIn := f.NewArg("ssm_state", ir.TensorType(ir.F32, ir.Shape{ir.StaticDim(nl), g.batch, ir.StaticDim(d), ir.StaticDim(n)}))
	h := g.reshape(g.embed(ids), g.batch, int64(c.DModel))
	var convs, ssms []*ir.Value
	for i := 0; i < c.NLayer; i++ {
		var cs, ss *ir.Value
		h, cs, ss = g.layer(i, h, g.unstack(convIn, i), g.unstack(ssmIn, i))
		convs, ssms = append(convs, cs), append(ssms, ss)
	}
	logits := g.head(h)
	return g.finish(f, logits, g.stack(convs), g.stack(ssms))
}

// layer emits one Mamba block on the residual stream h: [B,L,d_model] for
// the prefill (convState and ssmState nil: zeros) or [B,d_model] for a
// step. It returns the new residual and the layer's final states.
func (g *gen) layer(i int, h, convState, ssmState *ir.Value) (out, convOut, ssmOut *ir.Value) {
	c := g.cfg
	d, n, r := int64(c.DInner), int64(c.DState), int64(c.DTRank)
	stepping := convState != nil
	hn := g.rmsnorm(h, g.param(LayerWeight(i, "norm.weight")), c.NormEps)
	xz := g.linear(hn, LayerWeight(i, "mixer.in_proj.weight"), g.optional(c.InProjBias, LayerWeight(i, "mixer.in_proj.bias")))
	parts := g.b.Tuple(ir.OpSplit, ir.Attrs{"axis": int64(-1), "sizes": []int64{d, d}}, xz)
	x, z := parts[0], parts[1]

	// The causal conv works on [B,L,D]; a step is one time step.
	x3 := x
	if stepping {
		x3 = g.reshape(x, g.batch, 1, d)
	}
	xc, convOut := g.conv(i, x3, convState)
	if stepping {
		xc = g.reshape(xc, g.batch, d)
	}

	xdbl := g.linear(xc, LayerWeight(i, "mixer.x_proj.weight"), "")
	parts = g.b.Tuple(ir.OpSplit, ir.Attrs{"axis": int64(-1), "sizes": []int64{r, n, n}}, xdbl)
	dt, bm, cm := parts[0], parts[1], parts[2]
	if c.BCDtRMS {
		bm = g.rmsnorm(bm, nil, c.MixerRMSEps)
		cm = g.rmsnorm(cm, nil, c.MixerRMSEps)
		dt = g.rmsnorm(dt, nil, c.MixerRMSEps)
	}
	delta := g.linear(dt, LayerWeight(i, "mixer.dt_proj.weight"), "")

	var y *ir.Value
	if stepping {
		y, ssmOut = g.update(i, xc, delta, bm, cm, z, ssmState)
	} else {
		y, ssmOut = g.scan(i, xc, delta, bm, cm, z)
	}
	o := g.linear(y, LayerWeight(i, "mixer.out_proj.weight"), g.optional(c.OutProjBias, LayerWeight(i, "mixer.out_proj.bias")))
	return g.op(ir.OpAdd, nil, h, o), convOut, ssmOut
}

// embed emits the embedding lookup of ids [B,L] as f32 [B,L,d_model], plus
// any embedding adapters: + MatMul(Gather(Aᵀ, ids), s·B, transpose_b), the
// scale folded into B (EmbeddingFactors).
func (g *gen) embed(ids *ir.Value) *ir.Value {
	e := g.op(ir.OpGather, ir.Attrs{"axis": int64(0)}, g.param(EmbeddingName), ids)
	if e.Type.DType != ir.F32 {
		e = g.op(ir.OpCast, ir.Attrs{"to": ir.F32}, e)
	}
	for _, l := range g.ads[EmbeddingName] {
		rows := g.op(ir.OpGather, ir.Attrs{"axis": int64(0)}, g.param(l.a), ids)
		up := g.op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, rows, g.param(l.b))
		if l.scale != 1 {
			up = g.op(ir.OpMul, nil, up, g.scalar(l.scale))
		}
		e = g.op(ir.OpAdd, nil, e, up)
	}
	return e
}

// head emits the final RMSNorm and the logits MatMul with the LM head (the
// embedding when tied).
func (g *gen) head(h *ir.Value) *ir.Value {
	hf := g.rmsnorm(h, g.param(NormFName), g.cfg.NormEps)
	if g.cfg.TieEmbeddings {
		return g.op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, hf, g.param(EmbeddingName))
	}
	return g.linear(hf, LMHeadName, "")
}

// linear emits x·Wᵀ (+ bias) with the adapters of W: the first as a
// LoRAMatMul (fused form), the others as s·(x·Aᵀ)·Bᵀ added on.
func (g *gen) linear(x *ir.Value, wname, bias string) *ir.Value {
	tb := ir.Attrs{"transpose_b": true}
	ads := g.ads[wname]
	var y *ir.Value
	if len(ads) > 0 && !g.opts.Decomposed {
		y = g.op(ir.OpLoRAMatMul, ir.Attrs{"scale": ads[0].scale, "transpose_b": true},
			x, g.param(wname), g.param(ads[0].a), g.param(ads[0].b))
		ads = ads[1:]
	} else {
		y = g.op(ir.OpMatMul, tb, x, g.param(wname))
	}
	for _, l := range ads {
		low := g.op(ir.OpMatMul, tb, g.op(ir.OpMatMul, tb, x, g.param(l.a)), g.param(l.b))
		y = g.op(ir.OpAdd, nil, y, g.op(ir.OpMul, nil, low, g.scalar(l.scale)))
	}
	if bias != "" {
		y = g.op(ir.OpAdd, nil, y, g.param(bias))
	}
	return y
}

// stack emits Concat(Reshape(s_i, [1, dims...]), axis 0) of the per-layer
// states.
func (g *gen) stack(states []*ir.Value) *ir.Value {
	parts := make([]*ir.Value, len(states))
	for i, s := range states {
		shape := append(ir.Shape{ir.StaticDim(1)}, s.Type.Shape...)
		parts[i] = g.op(ir.OpReshape, ir.Attrs{"shape": shape}, s)
	}
	return g.op(ir.OpConcat, ir.Attrs{"axis": int64(0)}, parts...)
}

// unstack emits Reshape(Slice(states, axis 0, i:i+1), dims...), layer i's
// state.
func (g *gen) unstack(states *ir.Value, i int) *ir.Value {
	s := g.op(ir.OpSlice, ir.Attrs{"axes": []int64{0}, "starts": []int64{int64(i)}, "ends": []int64{int64(i) + 1}}, states)
	return g.op(ir.OpReshape, ir.Attrs{"shape": states.Type.Shape[1:].Clone()}, s)
}

func (g *gen) op(op ir.Op, attrs ir.Attrs, args ...*ir.Value) *ir.Value {
	return g.b.Op(op, attrs, args...)
}

// param returns the function's Param for weight name, created on first use.
func (g *gen) param(name string) *ir.Value {
	if v, ok := g.params[name]; ok {
		return v
	}
	t := g.w[name]
	if t == nil { // a bug in this package: every name used is prepared
		if g.b.Err == nil {
			g.b.Err = fmt.Errorf("no weight %q", name)
		}
		// With Err set, Op appends nothing and returns the builder's
		// placeholder, which later ops pass through.
		return g.b.Op(ir.OpNeg, nil)
	}
	v := g.b.Param(name, t.Type())
	g.params[name] = v
	return v
}

// optional returns name when present is true, "" otherwise.
func (g *gen) optional(present bool, name string) string {
	if present {
		return name
	}
	return ""
}

// scalar returns an f32 rank-0 constant, one per value and function.
func (g *gen) scalar(x float64) *ir.Value {
	if v, ok := g.consts[x]; ok {
		return v
	}
	v := g.b.Scalar(ir.F32, x)
	g.consts[x] = v
	return v
}

// reshape emits Reshape(x) to [dims...] where dims are ir.Dim or int64.
func (g *gen) reshape(x *ir.Value, dims ...any) *ir.Value {
	shape := make(ir.Shape, len(dims))
	for i, d := range dims {
		switch d := d.(type) {
		case ir.Dim:
			shape[i] = d
		case int64:
			shape[i] = ir.StaticDim(d)
		case int:
			shape[i] = ir.StaticDim(int64(d))
		}
	}
	return g.op(ir.OpReshape, ir.Attrs{"shape": shape}, x)
}

// replaceWeights swaps in modules_to_save tensors, checking each names a
// base weight of the same shape and a float dtype.
func replaceWeights(w map[string]*ir.Tensor, repl map[string]*ir.Tensor) error {
	var bad []string
	names := make([]string, 0, len(repl))
	for n := range repl {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r, base := repl[n], w[n]
		switch {
		case base == nil:
			bad = append(bad, fmt.Sprintf("%s: no such base weight", n))
		case !slices.Equal(r.Shape, base.Shape) || !r.DType.IsFloat():
			bad = append(bad, fmt.Sprintf("%s: replacement is %v%v, base weight %v%v", n, r.DType, r.Shape, base.DType, base.Shape))
		default:
			w[n] = r
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("hf: modules_to_save: %s", strings.Join(bad, "; "))
	}
	return nil
}

package passes

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// These tests run the whole pipeline on Mamba models that the hf importer
// builds from plain ops (Options.Decomposed) and compare them with the
// importer's fused form: op for op (what is left per layer) and number
// for number (the reference interpreter on both).

// fusedTol bounds the pipeline output of the decomposed model against the
// fused model: the same f32 math in a different order.
const fusedTol = 1e-5

// tinyMambaDir is the independent reference checkpoint, relative to this
// package.
const tinyMambaDir = "../../shared/reference/tiny-mamba"

// modelConfig returns a complete HF config for the architecture in c.
func modelConfig(c hf.Config) *hf.Config {
	c.Version = 1
	if c.ModelType == "" {
		c.ModelType = "mamba"
	}
	c.Format = hf.FormatHF
	c.ConfigVocabSize = c.VocabSize
	return &c
}

// modelConfigs are the random architectures of the model tests.
var modelConfigs = []struct {
	name   string
	cfg    hf.Config
	dtype  ir.DType
	mamba1 bool // a plain Mamba-1 layer: the ≤ 8 compute ops target applies
}{
	{"2-layers", hf.Config{DModel: 8, DInner: 16, DState: 4, DConv: 4, DTRank: 2, NLayer: 2, VocabSize: 11, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}, ir.F32, true},
	{"3-layers-odd", hf.Config{DModel: 12, DInner: 20, DState: 3, DConv: 3, DTRank: 3, NLayer: 3, VocabSize: 13, NormEps: 1e-6, ConvBias: true}, ir.F32, true},
	{"no-conv-bias-k2", hf.Config{DModel: 4, DInner: 8, DState: 8, DConv: 2, DTRank: 1, NLayer: 1, VocabSize: 9, NormEps: 1e-5, TieEmbeddings: true}, ir.F32, true},
	{"bf16-weights", hf.Config{DModel: 8, DInner: 16, DState: 4, DConv: 4, DTRank: 1, NLayer: 2, VocabSize: 10, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}, ir.BF16, true},
	{"falcon", hf.Config{ModelType: "falcon_mamba", DModel: 8, DInner: 12, DState: 5, DConv: 3, DTRank: 2, NLayer: 2, VocabSize: 9, NormEps: 1e-5, ConvBias: true, BCDtRMS: true, MixerRMSEps: 1e-6}, ir.F32, false},
	{"proj-biases", hf.Config{DModel: 6, DInner: 12, DState: 4, DConv: 4, DTRank: 2, NLayer: 2, VocabSize: 7, NormEps: 1e-5, ConvBias: true, InProjBias: true, OutProjBias: true, TieEmbeddings: true}, ir.F32, false},
}

// modelWeights draws weights of realistic scale for cfg (A_log so that
// A = -(1..N), Δ bias a softplus⁻¹ of 1e-3..1e-1, norms near 1).
func modelWeights(cfg *hf.Config, seed uint64, dt ir.DType) map[string]*ir.Tensor {
	rng := rand.New(rand.NewPCG(seed, 11))
	w := map[string]*ir.Tensor{}
	for _, s := range cfg.Weights() {
		n := int64(1)
		for _, d := range s.Shape {
			n *= d
		}
		vals := make([]float64, n)
		for i := range vals {
			switch {
			case strings.HasSuffix(s.Name, "A_log"):
				vals[i] = math.Log(float64(i%cfg.DState+1)) + 0.1*rng.NormFloat64()
			case strings.HasSuffix(s.Name, "mixer.D"):
				vals[i] = 1 + 0.2*rng.NormFloat64()
			case strings.HasSuffix(s.Name, "dt_proj.bias"):
				d := math.Exp(math.Log(1e-3) + rng.Float64()*(math.Log(1e-1)-math.Log(1e-3)))
				vals[i] = d + math.Log(-math.Expm1(-d))
			case strings.Contains(s.Name, "norm"):
				vals[i] = 1 + 0.1*rng.NormFloat64()
			case s.Name == hf.EmbeddingName || s.Name == hf.LMHeadName:
				vals[i] = rng.NormFloat64()
			default:
				vals[i] = 0.2 * rng.NormFloat64()
			}
		}
		w[s.Name] = ir.TensorFromFloat64s(dt, s.Shape, vals)
	}
	return w
}

// layerCount tallies the compute ops of f the way the fusion target
// counts them: every body value except Param, Const and Extract (not ops),
// and Reshape, Split, Slice and Concat, which only move data (the
// per-layer state bookkeeping and the views around the step's conv).
func layerCount(f *ir.Func) (compute, layout int, hist map[string]int) {
	hist = map[string]int{}
	for _, v := range f.Body {
		switch v.Op {
		case ir.OpParam, ir.OpConst, ir.OpExtract:
		case ir.OpReshape, ir.OpSplit, ir.OpSlice, ir.OpConcat:
			layout++
		default:
			compute++
			hist[v.Op.String()]++
		}
	}
	return compute, layout, hist
}

// headOps is how many compute ops of a function are not in a layer: the
// embedding Gather (and its Cast from a narrow table), the final norm and
// the LM head MatMul.
func headOps(f *ir.Func) int {
	n := 3
	for _, v := range f.Body {
		if v.Op == ir.OpCast && len(v.Args) > 0 && v.Args[0].Op == ir.OpGather {
			n++
		}
	}
	return n
}

// decomposedOps are the ops a fully fused Mamba model no longer contains.
var decomposedOps = map[ir.Op]bool{
	ir.OpExp: true, ir.OpSoftplus: true, ir.OpSigmoid: true, ir.OpSiLU: true, ir.OpRsqrt: true,
	ir.OpReduceSum: true, ir.OpReduceMean: true, ir.OpConv1d: true, ir.OpTranspose: true, ir.OpExpand: true,
	ir.OpFusedElementwise: true,
}

// compile runs the pipeline on m (verifying after every pass) and returns
// the report.
func compile(t *testing.T, m *ir.Module, opts Options) *Report {
	t.Helper()
	opts.Verify = true
	rep, err := Run(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkFullyFused fails when a decomposed op is left, and for a Mamba-1
// model when a layer has more than 8 compute ops (layerCount); it logs
// the counts.
func checkFullyFused(t *testing.T, name string, dec, opt *ir.Module, nLayer int, mamba1 bool) {
	t.Helper()
	for _, f := range opt.Funcs {
		before, beforeLayout, _ := layerCount(dec.Func(f.Name))
		after, afterLayout, hist := layerCount(f)
		perLayer := float64(after-headOps(f)) / float64(nLayer)
		t.Logf("%s @%s: compute ops %d -> %d (%.1f per layer), layout ops %d -> %d, all ops %d -> %d; %v",
			name, f.Name, before, after, perLayer, beforeLayout, afterLayout,
			CountOps(dec.Func(f.Name)), CountOps(f), hist)
		for _, v := range f.Body {
			if decomposedOps[v.Op] {
				t.Errorf("%s @%s: %s is left: %s", name, f.Name, v.Op, v.LongString())
			}
		}
		if mamba1 && perLayer > 8 {
			t.Errorf("%s @%s: %.1f compute ops per layer, want ≤ 8", name, f.Name, perLayer)
		}
	}
}

// runFunc interprets function name of m.
func runFunc(t *testing.T, m *ir.Module, name string, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	out, err := ref.Run(m.Func(name), m.Weights, inputs)
	if err != nil {
		t.Fatalf("@%s: %v", name, err)
	}
	return out
}

// maxAbsDiff returns max |a-b| over two tensors of one shape.
func maxAbsDiff(t *testing.T, what string, a, b *ir.Tensor) float64 {
	t.Helper()
	if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		t.Fatalf("%s: shapes %v and %v", what, a.Shape, b.Shape)
	}
	x, y := a.Float64s(), b.Float64s()
	d := 0.0
	for i := range x {
		e := math.Abs(x[i] - y[i])
		if math.IsNaN(e) {
			t.Fatalf("%s: NaN at %d", what, i)
		}
		d = max(d, e)
	}
	return d
}

// checkAgainstFused runs prefill, then steps, on the optimized decomposed
// module and the fused module and compares every result.
func checkAgainstFused(t *testing.T, opt, fused *ir.Module, cfg *hf.Config, batch, seq int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	ids := make([]int64, batch*seq)
	for i := range ids {
		ids[i] = rng.Int64N(int64(cfg.VocabSize))
	}
	in := ir.TensorFromInt64s(ir.I64, []int64{int64(batch), int64(seq)}, ids)
	names := []string{"logits", "conv_state", "ssm_state"}
	po, pf := runFunc(t, opt, "prefill", in), runFunc(t, fused, "prefill", in)
	worst := 0.0
	for i := range po {
		d := maxAbsDiff(t, "prefill "+names[i], po[i], pf[i])
		if d > fusedTol {
			t.Errorf("prefill %s: max abs diff %.3g > %g", names[i], d, fusedTol)
		}
		worst = max(worst, d)
	}
	so, sf := po, pf
	for k := 0; k < 3; k++ {
		tok := make([]int64, batch)
		for i := range tok {
			tok[i] = rng.Int64N(int64(cfg.VocabSize))
		}
		step := ir.TensorFromInt64s(ir.I64, []int64{int64(batch), 1}, tok)
		so = runFunc(t, opt, "step", step, so[1], so[2])
		sf = runFunc(t, fused, "step", step, sf[1], sf[2])
		for i := range so {
			d := maxAbsDiff(t, "step "+names[i], so[i], sf[i])
			if d > fusedTol {
				t.Errorf("step %d %s: max abs diff %.3g > %g", k, names[i], d, fusedTol)
			}
			worst = max(worst, d)
		}
	}
	t.Logf("pipeline(decomposed) vs fused: max abs diff %.3g", worst)
}

// TestPipelineFusesRandomModels builds each random config decomposed and
// fused, compiles the decomposed one, and checks that it is fully fused
// and computes what the fused model computes.
func TestPipelineFusesRandomModels(t *testing.T) {
	const batch, seq = 2, 4
	for i, mc := range modelConfigs {
		t.Run(mc.name, func(t *testing.T) {
			cfg := modelConfig(mc.cfg)
			w := modelWeights(cfg, uint64(40+i), mc.dtype)
			dec, err := hf.Build(cfg, w, hf.Options{Decomposed: true, SeqLen: seq})
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := hf.Build(cfg, w, hf.Options{Decomposed: true, SeqLen: seq})
			fused, err := hf.Build(cfg, w, hf.Options{SeqLen: seq})
			if err != nil {
				t.Fatal(err)
			}
			rep := compile(t, dec, Options{})
			t.Logf("\n%v", rep)
			checkFullyFused(t, mc.name, orig, dec, cfg.NLayer, mc.mamba1)
			checkAgainstFused(t, dec, fused, cfg, batch, seq, uint64(i))
		})
	}
}

// TestPipelineFusesLoRAModel compiles a decomposed model with LoRA
// adapters: the first adapter of each weight becomes a LoRAMatMul (the
// fused import's form), and with LoRAMode "merge" every adapter is folded
// into its weight, leaving plain MatMuls with the same numbers.
func TestPipelineFusesLoRAModel(t *testing.T) {
	cfg := modelConfig(modelConfigs[0].cfg)
	w := modelWeights(cfg, 7, ir.F32)
	rng := rand.New(rand.NewPCG(8, 9))
	adapter := func(target string, r int, scale float64) peft.Adapter {
		shape := w[target].Shape
		draw := func(rows, cols int64) *ir.Tensor {
			v := make([]float64, rows*cols)
			for i := range v {
				v[i] = 0.3 * rng.NormFloat64()
			}
			return ir.TensorFromFloat64s(ir.F32, []int64{rows, cols}, v)
		}
		return peft.Adapter{Target: target, A: draw(int64(r), shape[1]), B: draw(shape[0], int64(r)), Rank: r, Scale: scale}
	}
	ads := []peft.Adapter{
		adapter(hf.LayerWeight(0, "mixer.in_proj.weight"), 2, 2),
		adapter(hf.LayerWeight(1, "mixer.out_proj.weight"), 3, 0.5),
		adapter(hf.LayerWeight(1, "mixer.out_proj.weight"), 2, 1), // a second adapter on one weight
		adapter(hf.LayerWeight(0, "mixer.x_proj.weight"), 1, 1.5),
	}
	build := func(o hf.Options) *ir.Module {
		o.Adapters = ads
		m, err := hf.Build(cfg, w, o)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fused := build(hf.Options{SeqLen: 4})
	dec := build(hf.Options{Decomposed: true, SeqLen: 4})
	rep := compile(t, dec, Options{})
	t.Logf("\n%v", rep)
	wantLoRA := 0
	for _, v := range fused.Func("step").Body {
		if v.Op == ir.OpLoRAMatMul {
			wantLoRA++
		}
	}
	for _, f := range dec.Funcs {
		got := 0
		for _, v := range f.Body {
			if v.Op == ir.OpLoRAMatMul {
				got++
			}
		}
		if got != wantLoRA || wantLoRA != 3 {
			t.Errorf("@%s has %d LoRAMatMuls, the fused import %d (want 3)", f.Name, got, wantLoRA)
		}
	}
	checkAgainstFused(t, dec, fused, cfg, 2, 4, 3)

	merged := build(hf.Options{Decomposed: true, SeqLen: 4})
	rep = compile(t, merged, Options{LoRAMode: "merge"})
	t.Logf("\n%v", rep)
	mergedWeights := 0
	for name := range merged.Weights {
		if strings.Contains(name, ".merged.") {
			mergedWeights++
		}
	}
	for _, f := range merged.Funcs {
		for _, v := range f.Body {
			if v.Op == ir.OpLoRAMatMul || v.Op == ir.OpMatMul && strings.Contains(v.Args[1].Attrs.String("name", ""), "lora") {
				t.Errorf("@%s keeps a low-rank op: %s", f.Name, v.LongString())
			}
		}
	}
	// Three weights, the out_proj one merged twice; shared by both functions.
	if mergedWeights != 4 {
		t.Errorf("%d merged weights, want 4 (shared by prefill and step)", mergedWeights)
	}
	checkAgainstFused(t, merged, dec, cfg, 2, 4, 4)
}

// TestLoRAModeErrors checks that an unknown LoRA mode is refused and that
// merge mode without bound weights keeps the LoRAMatMul.
func TestLoRAModeErrors(t *testing.T) {
	src := `func @f(%x: f32[2,4]) -> (f32[2,3]) {
  %1 = Param() {name = "W"} : f32[3,4]
  %2 = Param() {name = "A"} : f32[1,4]
  %3 = Param() {name = "B"} : f32[3,1]
  %4 = LoRAMatMul(%x, %1, %2, %3) {scale = 2.0, transpose_b = true} : f32[2,3]
  return %4
}
`
	if _, err := Run(parse(t, src), Options{LoRAMode: "lazy"}); err == nil || !strings.Contains(err.Error(), `unknown LoRA mode "lazy"`) {
		t.Errorf("LoRAMode lazy: got %v", err)
	}
	m := parse(t, src)
	rep, err := Run(m, Options{LoRAMode: "merge", Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ir.Print(m), "LoRAMatMul") || !strings.Contains(rep.String(), "merge-skipped=1") {
		t.Errorf("merge without weights changed the module or did not say so:\n%s\n%v", ir.Print(m), rep)
	}
}

// TestMergedWeight checks the merge arithmetic on a hand-computed case in
// both layouts.
func TestMergedWeight(t *testing.T) {
	w := ir.TensorFromFloat64s(ir.F32, []int64{2, 2}, []float64{1, 2, 3, 4})
	a := ir.TensorFromFloat64s(ir.F32, []int64{1, 2}, []float64{1, -1}) // [r=1, K=2]
	b := ir.TensorFromFloat64s(ir.F32, []int64{2, 1}, []float64{2, 3})  // [N=2, r=1]
	got, err := mergedWeight(w, a, b, 0.5, true)
	if err != nil {
		t.Fatal(err)
	}
	// B·A = [[2, -2], [3, -3]]; W + 0.5·B·A
	if want := []float64{2, 1, 4.5, 2.5}; fmt.Sprint(got.Float64s()) != fmt.Sprint(want) {
		t.Errorf("transpose_b: got %v, want %v", got.Float64s(), want)
	}
	// Not transposed: W [K,N], A [K,r] = bᵀ-shaped, B [r,N].
	got, err = mergedWeight(w, b, a, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	// A·B = [[2, -2], [3, -3]]; W + 2·A·B
	if want := []float64{5, -2, 9, -2}; fmt.Sprint(got.Float64s()) != fmt.Sprint(want) {
		t.Errorf("plain: got %v, want %v", got.Float64s(), want)
	}
	if _, err := mergedWeight(w, a, a, 1, true); err == nil {
		t.Errorf("mismatched factors: no error")
	}
}

// TestTinyMambaPipeline compiles the reference checkpoint imported as
// plain ops (SeqLen 16) and checks that it is fully fused, matches the
// fused import on prefill and steps, matches reference.json's logits,
// and runs on the CPU backend.
func TestTinyMambaPipeline(t *testing.T) {
	if _, err := os.Stat(filepath.Join(tinyMambaDir, "config.json")); err != nil {
		t.Skipf("reference checkpoint absent: %v", err)
	}
	const seq = 16
	load := func(o hf.Options) *hf.Model {
		m, err := hf.Load(tinyMambaDir, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	dec := load(hf.Options{Decomposed: true, SeqLen: seq})
	orig := load(hf.Options{Decomposed: true, SeqLen: seq})
	fused := load(hf.Options{})
	rep := compile(t, dec.Module, Options{})
	t.Logf("\n%v", rep)
	checkFullyFused(t, "tiny-mamba", orig.Module, dec.Module, dec.Config.NLayer, true)
	checkAgainstFused(t, dec.Module, fused.Module, dec.Config, 2, seq, 1)

	// reference.json: case b2_s16's logits.
	var r struct {
		Cases []struct {
			Name     string `json:"name"`
			InputIDs struct {
				Shape []int64   `json:"shape"`
				Data  []float64 `json:"data"`
			} `json:"input_ids"`
			Logits struct {
				Shape []int64   `json:"shape"`
				Data  []float64 `json:"data"`
			} `json:"logits"`
		} `json:"cases"`
	}
	if err := readJSON(filepath.Join(tinyMambaDir, "reference.json"), &r); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Cases {
		if c.Name != "b2_s16" {
			continue
		}
		ids := make([]int64, len(c.InputIDs.Data))
		for i, x := range c.InputIDs.Data {
			ids[i] = int64(x)
		}
		in := ir.TensorFromInt64s(ir.I64, c.InputIDs.Shape, ids)
		got := runFunc(t, dec.Module, "prefill", in)[0]
		want := ir.TensorFromFloat64s(ir.F64, c.Logits.Shape, c.Logits.Data)
		d := maxAbsDiff(t, "reference logits", got, want)
		t.Logf("fused pipeline vs reference.json logits: max abs diff %.3g", d)
		if d > 1e-4 {
			t.Errorf("logits differ from reference.json by %.3g > 1e-4", d)
		}

		// The CPU backend runs the fused ops too.
		p, err := cpu.Compile(dec.Module.Func("prefill"), dec.Module.Weights)
		if err != nil {
			t.Fatal(err)
		}
		// The fixed-length prefill accepts any length once fuse-scan has
		// fused its chains: L is bound like B.
		inst, err := p.Instantiate(map[string]int64{"B": c.InputIDs.Shape[0], "L": c.InputIDs.Shape[1]})
		if err != nil {
			t.Fatal(err)
		}
		cin, _ := cpu.FromIR(in)
		out, err := inst.Run(context.Background(), []*cpu.Tensor{cin}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d = maxAbsDiff(t, "cpu logits", cpu.ToIR(out[0], ir.F32), want)
		t.Logf("CPU backend vs reference.json logits: max abs diff %.3g", d)
		if d > 1e-4 {
			t.Errorf("CPU logits differ from reference.json by %.3g > 1e-4", d)
		}
		return
	}
	t.Fatal("reference.json has no case b2_s16")
}

// readJSON decodes the JSON file at path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

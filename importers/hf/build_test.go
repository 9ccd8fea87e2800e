package hf

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
)

// TestBuildVerifies builds every random config fused and decomposed, with
// and without adapters, and checks the module verifies, prints and parses
// back to the same text, and has the documented signatures and ops.
func TestBuildVerifies(t *testing.T) {
	for i, rc := range randomConfigs {
		cfg := configOf(rc.cfg)
		w := randomWeights(cfg, uint64(i), rc.dtype)
		rng := rand.New(rand.NewPCG(uint64(i), 0))
		shapes := cfg.WeightShapes()
		ads := []peft.Adapter{
			randomAdapter(rng, LayerWeight(0, "mixer.out_proj.weight"), shapes[LayerWeight(0, "mixer.out_proj.weight")], 2, 1, false),
			randomAdapter(rng, EmbeddingName, shapes[EmbeddingName], 2, 1, true),
		}
		for _, tc := range []struct {
			name string
			opts Options
		}{
			{"fused", Options{}},
			{"fused-static", Options{SeqLen: 3, BatchSymbol: "N"}},
			{"decomposed", Options{Decomposed: true, SeqLen: 3}},
			{"fused-lora", Options{Adapters: ads}},
			{"decomposed-lora", Options{Decomposed: true, SeqLen: 2, Adapters: ads}},
		} {
			t.Run(rc.name+"/"+tc.name, func(t *testing.T) {
				m, err := Build(cfg, w, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := ir.Verify(m); err != nil {
					t.Fatal(err)
				}
				text := ir.Print(m)
				p, err := ir.Parse("built.ir", text)
				if err != nil {
					t.Fatal(err)
				}
				p.Weights = m.Weights
				if err := ir.Verify(p); err != nil {
					t.Fatalf("parsed module: %v", err)
				}
				if again := ir.Print(p); again != text {
					t.Error("print/parse round trip changed the text")
				}
				checkSignatures(t, cfg, m, tc.opts)
				checkOps(t, cfg, m, tc.opts)
			})
		}
	}
}

func checkSignatures(t *testing.T, c *Config, m *ir.Module, o Options) {
	t.Helper()
	b := o.BatchSymbol
	if b == "" {
		b = "B"
	}
	l := "L"
	if o.SeqLen > 0 {
		l = itoa(o.SeqLen)
	}
	states := "f32[" + itoa(c.NLayer) + "," + b + "," + itoa(c.DInner) + "," + itoa(c.DConv-1) + "], f32[" +
		itoa(c.NLayer) + "," + b + "," + itoa(c.DInner) + "," + itoa(c.DState) + "]"
	want := map[string]string{
		"prefill": "(i64[" + b + "," + l + "]) -> (f32[" + b + "," + l + "," + itoa(c.VocabSize) + "], " + states + ")",
		"step":    "(i64[" + b + ",1], " + states + ") -> (f32[" + b + "," + itoa(c.VocabSize) + "], " + states + ")",
	}
	if len(m.Funcs) != 2 {
		t.Fatalf("%d functions, want prefill and step", len(m.Funcs))
	}
	for name, sig := range want {
		f := m.Func(name)
		if f == nil {
			t.Fatalf("no @%s", name)
		}
		var args, res []string
		for _, a := range f.Args {
			args = append(args, a.Type.String())
		}
		for _, r := range f.Results {
			res = append(res, r.Type.String())
		}
		got := "(" + strings.Join(args, ", ") + ") -> (" + strings.Join(res, ", ") + ")"
		if got != sig {
			t.Errorf("@%s%s, want %s", name, got, sig)
		}
		if strings.Join(f.ResultNames, ",") != "logits,conv_state,ssm_state" {
			t.Errorf("@%s result names %q", name, f.ResultNames)
		}
	}
}

// checkOps counts the characteristic ops of each form.
func checkOps(t *testing.T, c *Config, m *ir.Module, o Options) {
	t.Helper()
	lora := 0 // the linear adapter of TestBuildVerifies targets one out_proj
	if len(o.Adapters) > 0 {
		lora = 1
	}
	norms := c.NLayer + 1 // block norms + norm_f (not counting Δ/B/C)
	if c.BCDtRMS {
		norms += 3 * c.NLayer
	}
	type count struct {
		op   ir.Op
		want int
	}
	var wants map[string][]count
	if o.Decomposed {
		for _, f := range m.Funcs {
			for _, v := range f.Body {
				if v.Op.Info().Has(ir.Fused) || v.Op == ir.OpRMSNorm || v.Op == ir.OpSiLU {
					t.Errorf("@%s: decomposed form has %s", f.Name, v.LongString())
				}
			}
		}
		wants = map[string][]count{
			"prefill": {{ir.OpConv1d, c.NLayer}, {ir.OpSoftplus, c.NLayer}, {ir.OpRsqrt, norms},
				{ir.OpExp, c.NLayer * o.SeqLen}, {ir.OpReduceSum, c.NLayer * o.SeqLen}},
			"step": {{ir.OpConv1d, c.NLayer}, {ir.OpSoftplus, c.NLayer}, {ir.OpExp, c.NLayer}, {ir.OpRsqrt, norms}},
		}
	} else {
		wants = map[string][]count{
			"prefill": {{ir.OpSelectiveScan, c.NLayer}, {ir.OpCausalConv1d, c.NLayer}, {ir.OpRMSNorm, norms},
				{ir.OpLoRAMatMul, lora}, {ir.OpSelectiveStateUpdate, 0}},
			"step": {{ir.OpSelectiveStateUpdate, c.NLayer}, {ir.OpCausalConv1d, c.NLayer}, {ir.OpRMSNorm, norms},
				{ir.OpLoRAMatMul, lora}, {ir.OpSelectiveScan, 0}},
		}
	}
	for fn, cs := range wants {
		for _, w := range cs {
			if got := countOps(m, fn, w.op); got != w.want {
				t.Errorf("@%s has %d %v, want %d", fn, got, w.op, w.want)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

package ssmc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
)

// TestMixedPrecisionBounded decodes 4,096 tokens with the model compiled at
// f32, bf16 and f16 and measures the logit error of the narrow models
// against f32 in windows of 512 tokens. The scan is contractive (A < 0,
// Δ > 0), so rounding errors do not accumulate: the error of the last
// window must stay within a small factor of the first's.
func TestMixedPrecisionBounded(t *testing.T) {
	steps := 4096
	if testing.Short() {
		steps = 1024
	}
	const window = 512
	compile := func(dtype string) *Model {
		mod := buildTestModule(t, 21)
		if _, err := passes.Run(mod, passes.Options{Verify: true, DType: dtype}); err != nil {
			t.Fatal(err)
		}
		if dtype != "f32" {
			narrowed := 0
			for _, w := range mod.Weights {
				if w.DType != ir.F32 {
					narrowed++
				}
			}
			if narrowed == 0 {
				t.Fatalf("%s: no weight was narrowed", dtype)
			}
		}
		m, err := FromModule(mod)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ref := compile("f32")
	rng := rand.New(rand.NewPCG(4, 4))
	toks := make([]int, steps)
	for i := range toks {
		toks[i] = rng.IntN(ref.VocabSize())
	}
	run := func(m *Model) [][]float32 {
		s, _ := m.NewSession(SessionOptions{})
		out := make([][]float32, steps)
		l, err := s.Prefill(ctx, toks[:1])
		for i := 0; i < steps; i++ {
			if err != nil {
				t.Fatal(err)
			}
			out[i] = append([]float32(nil), l...)
			if i+1 < steps {
				l, err = s.Step(ctx, toks[i+1])
			}
		}
		return out
	}
	want := run(ref)
	for _, dtype := range []string{"bf16", "f16"} {
		got := run(compile(dtype))
		var errs []float64
		for w := 0; w < steps/window; w++ {
			e := 0.0
			for i := w * window; i < (w+1)*window; i++ {
				e = math.Max(e, maxDiff(want[i], got[i]))
			}
			errs = append(errs, e)
		}
		var line []string
		for _, e := range errs {
			line = append(line, fmt.Sprintf("%.3g", e))
		}
		t.Logf("%s vs f32, max |logit diff| per %d-token window: %s", dtype, window, strings.Join(line, " "))
		first, last, worst := errs[0], errs[len(errs)-1], 0.0
		for _, e := range errs {
			worst = math.Max(worst, e)
		}
		if last > 3*first+1e-3 || worst > 1 || first == 0 {
			t.Errorf("%s: error grows or is out of bounds: windows %v", dtype, errs)
		}
	}
}

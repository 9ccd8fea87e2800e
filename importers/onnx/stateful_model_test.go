package onnx

import (
	"context"
	"math"
	"testing"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// TestStatefulModel compiles the opset-27 export (CausalConvWithState and
// LinearAttention, the states passed through a whole-sequence graph) into
// a runnable model with ssmc.AsStatefulModel, as 'ssmc compile model.onnx
// -o m.ssmc' does, and checks sessions against the checkpoint import: the
// prefill logits of every position, then each following token by Step.
//
// The opset-18 decode export (one token, the states through the graph)
// goes the same way through ssmc.AsStepModel: a step-only model whose
// sessions prefill by stepping.
func TestStatefulModel(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		shape exportShape
		name  string
		adapt func(*ir.Module) bool
		wrong func(*ir.Module) bool
	}{
		{exportOpset27, "opset27", ssmc.AsStatefulModel, ssmc.AsStepModel},
		{exportDecode, "decode", ssmc.AsStepModel, ssmc.AsStatefulModel},
	} {
		for _, tf := range testFixtures {
			t.Run(tc.name+"/"+tf.name, func(t *testing.T) {
				fx := genFixture(t, tf.spec)
				e := &mambaExport{d: fx.dims, w: fx.w, shape: tc.shape, seqLen: int(fx.ids.Shape[1])}
				m, err := LoadBytes(encode(t, e.model()))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
					t.Fatal(err)
				}
				if tc.wrong(m) {
					t.Fatal("taken for the other shape")
				}
				if !tc.adapt(m) {
					t.Fatalf("the %s export is not recognized:\n%s", tc.name, ir.Print(m))
				}
				model, err := ssmc.FromModule(m)
				if err != nil {
					t.Fatal(err)
				}
				defer model.Close()
				want, err := ref.Run(fx.hf.Func("prefill"), fx.hf.Weights, []*ir.Tensor{fx.ids})
				if err != nil {
					t.Fatal(err)
				}
				wl := want[0].Float64s() // [B, L, V]
				b, l := int(fx.ids.Shape[0]), int(fx.ids.Shape[1])
				v := model.VocabSize()
				worst := 0.0
				for s := 0; s < b; s++ {
					ids := make([]int, l)
					for i := range ids {
						ids[i] = int(fx.ids.IntAt(s*l + i))
					}
					sess, err := model.NewSession(ssmc.SessionOptions{})
					if err != nil {
						t.Fatal(err)
					}
					// Prefill all but the last token, then Step the last.
					all, err := sess.PrefillAll(ctx, ids[:l-1])
					if err != nil {
						t.Fatal(err)
					}
					last, err := sess.Step(ctx, ids[l-1])
					if err != nil {
						t.Fatal(err)
					}
					got := append(all, last...)
					for i, g := range got {
						d := math.Abs(float64(g) - wl[s*l*v+i])
						worst = math.Max(worst, d)
						if d > 1e-4 {
							t.Fatalf("sequence %d logit %d: %g, checkpoint import %g", s, i, g, wl[s*l*v+i])
						}
					}
				}
				t.Logf("max |diff| vs the checkpoint import: %.3g", worst)
			})
		}
	}
}

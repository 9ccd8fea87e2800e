package ssmc

import (
	"encoding/json"
	"testing"

	"github.com/ssmc-dev/ssmc/passes"
)

// TestKernelsPerLayer counts what a compiled Mamba-1 layer costs on the
// CPU: the kernel calls of the execution plan, not counting views
// (Reshape and contiguous Slice share their operand's memory and run no
// code). The model's head is the embedding Gather, the final norm, the
// LM head and one Concat per stacked state; everything else belongs to
// the layers. The target is at most 8 kernels per layer (norm, in_proj,
// conv, x_proj, dt_proj, scan, out_proj, residual); with fuse-split and
// AddRMSNorm carrying the residual an f32 layer takes 7.
func TestKernelsPerLayer(t *testing.T) {
	const nLayer = 2 // buildTestModule
	for _, tc := range []struct {
		dtype string
		want  int // kernels per layer
	}{
		{"f32", 7},
		// bf16: the activation Casts around each projection fold into
		// MatMul{round} (fold-casts), so the layer is the same 7 kernels;
		// the head adds the Cast of the bf16 embedding lookup.
		{"bf16", 7},
	} {
		mod := buildTestModule(t, 1)
		if _, err := passes.Run(mod, passes.Options{Verify: true, DType: tc.dtype}); err != nil {
			t.Fatal(err)
		}
		sec, err := PlanSection(mod)
		if err != nil {
			t.Fatal(err)
		}
		var pf planFile
		if err := json.Unmarshal(sec.Data, &pf); err != nil {
			t.Fatal(err)
		}
		for _, p := range pf.Plans {
			kernels, views, hist := 0, 0, map[string]int{}
			for _, st := range p.Steps {
				if st.View {
					views++
					continue
				}
				kernels++
				hist[st.Op]++
			}
			head := 3 + hist["Concat"] + hist["Cast"] // Gather, final norm, LM head; state Concats; embedding Cast
			perLayer := float64(kernels-head) / nLayer
			t.Logf("%s @%s: %d kernel calls (%.1f per layer), %d views; %v", tc.dtype, p.Func, kernels, perLayer, views, hist)
			if tc.want > 0 && perLayer != float64(tc.want) {
				t.Errorf("%s @%s: %.1f kernels per layer, want %d", tc.dtype, p.Func, perLayer, tc.want)
			}
			if perLayer > 8 && tc.dtype == "f32" {
				t.Errorf("%s @%s: %.1f kernels per layer, want ≤ 8", tc.dtype, p.Func, perLayer)
			}
		}
	}
}

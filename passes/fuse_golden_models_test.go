package passes

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
)

var genModels = flag.Bool("gen-models", false, "rewrite the in.ir sections of the model golden files from the hf importer")

// goldenModelConfig is the small 2-layer Mamba of the model golden files.
var goldenModelConfig = hf.Config{DModel: 4, DInner: 6, DState: 2, DConv: 3, DTRank: 1, NLayer: 2, VocabSize: 5,
	NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}

// modelGolden is a golden file whose in.ir the hf importer produces.
type modelGolden struct {
	file, comment string
	build         func() (*ir.Module, error)
}

// decomposedModelOf imports cfg as plain ops with random weights bound.
func decomposedModelOf(cfg *hf.Config, seq int) (*ir.Module, error) {
	return hf.Build(cfg, modelWeights(cfg, 1, ir.F32), hf.Options{Decomposed: true, SeqLen: seq})
}

// decomposedModel imports the golden model as plain ops with prefill
// length seq, with adapters, and runs the given passes on it (none: the
// importer's raw output).
func decomposedModel(seq int, ads []peft.Adapter, passes ...string) func() (*ir.Module, error) {
	return func() (*ir.Module, error) {
		cfg := modelConfig(goldenModelConfig)
		m, err := hf.Build(cfg, modelWeights(cfg, 1, ir.F32), hf.Options{Decomposed: true, SeqLen: seq, Adapters: ads})
		if err != nil {
			return nil, err
		}
		if len(passes) > 0 {
			if _, err := Run(m, Options{Only: passes, Verify: true}); err != nil {
				return nil, err
			}
		}
		m.Weights = nil
		return m, nil
	}
}

func modelGoldens() []modelGolden {
	const raw = "The 2-layer decomposed Mamba (d_model 4, d_inner 6, N 2, K 3, prefill length 3) exactly as hf.Build emits it"
	cfg := modelConfig(goldenModelConfig)
	w := modelWeights(cfg, 1, ir.F32)
	lora := func(target string, r int, scale float64) peft.Adapter {
		s := w[target].Shape
		a := make([]float64, int64(r)*s[1])
		b := make([]float64, s[0]*int64(r))
		return peft.Adapter{Target: target, Rank: r, Scale: scale,
			A: ir.TensorFromFloat64s(ir.F32, []int64{int64(r), s[1]}, a),
			B: ir.TensorFromFloat64s(ir.F32, []int64{s[0], int64(r)}, b)}
	}
	ads := []peft.Adapter{lora(hf.LayerWeight(0, "mixer.in_proj.weight"), 2, 2), lora(hf.LayerWeight(1, "mixer.out_proj.weight"), 1, 0.5)}
	return []modelGolden{
		{"testdata/fuse-scan/model_raw.txtar", raw + ": every layer's unrolled recurrence becomes one SelectiveScan in @prefill and one SelectiveStateUpdate in @step.",
			decomposedModel(3, nil)},
		{"testdata/fuse-scan/model_canonical.txtar", "The decomposed Mamba as the pipeline hands it to fuse-scan (after canonicalize, constfold, cse, fuse-norm and fuse-conv): two scans and two state updates; what is left per layer is norm, in_proj, conv, x_proj, dt_proj, scan, out_proj.",
			decomposedModel(3, nil, "canonicalize", "constfold", "cse", "fuse-norm", "fuse-conv")},
		{"testdata/fuse-conv/model_raw.txtar", raw + ": each layer's prefill conv (zero state) and step conv (state in and out) become CausalConv1d{silu}.",
			decomposedModel(3, nil)},
		{"testdata/fuse-norm/model_raw.txtar", raw + ": layer norms and the final norm become RMSNorm, and the residual Adds feeding them AddRMSNorm.",
			decomposedModel(3, nil)},
		{"testdata/fuse-lora/model_raw.txtar", raw + " with LoRA adapters on layer 0's in_proj (scale 2) and layer 1's out_proj (scale 0.5): both become LoRAMatMul in both functions.",
			decomposedModel(3, ads)},
	}
}

// TestModelGoldenInputs checks that the model golden files start from
// what the importer emits today (-gen-models rewrites them; then run
// -update and read the diffs).
func TestModelGoldenInputs(t *testing.T) {
	for _, g := range modelGoldens() {
		t.Run(g.file, func(t *testing.T) {
			m, err := g.build()
			if err != nil {
				t.Fatal(err)
			}
			want := ir.Print(m)
			ar, err := txtar.ParseFile(g.file)
			if errors.Is(err, fs.ErrNotExist) && *genModels {
				ar, err = &txtar.Archive{}, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			if *genModels {
				ar.Comment = []byte(g.comment + "\n")
				ar.Files = []txtar.File{{Name: "in.ir", Data: []byte(want)}}
				if err := os.WriteFile(g.file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, f := range ar.Files {
				if f.Name == "in.ir" {
					if diff := cmp.Diff(want, string(f.Data)); diff != "" {
						t.Errorf("in.ir is stale (-importer +file); run go test ./passes -run TestModelGoldenInputs -gen-models, then -update:\n%s", diff)
					}
					return
				}
			}
			t.Errorf("no in.ir section")
		})
	}
}

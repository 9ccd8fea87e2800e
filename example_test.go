package ssmc_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// exampleModel compiles a tiny deterministic Mamba into a .ssmc file, the
// way `ssmc compile` does, and returns its path.
func exampleModel() string {
	cfg := &hf.Config{Format: hf.FormatHF, ModelType: "mamba", Version: 1, DModel: 16, DInner: 32, DState: 4,
		DConv: 4, DTRank: 2, NLayer: 1, VocabSize: 32, ConfigVocabSize: 32, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true}
	weights := map[string]*ir.Tensor{}
	for _, s := range cfg.Weights() {
		n := 1
		for _, d := range s.Shape {
			n *= int(d)
		}
		vals := make([]float64, n)
		for i := range vals {
			switch {
			case strings.HasSuffix(s.Name, "A_log"):
				vals[i] = math.Log(float64(i%cfg.DState + 1))
			case strings.HasSuffix(s.Name, ".D") || strings.Contains(s.Name, "norm"):
				vals[i] = 1
			default:
				vals[i] = math.Sin(float64(7*i+len(s.Name))) * 0.3
			}
		}
		weights[s.Name] = ir.TensorFromFloat64s(ir.F32, s.Shape, vals)
	}
	mod, err := hf.Build(cfg, weights, hf.Options{})
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "ssmc-example")
	path := filepath.Join(dir, "tiny.ssmc")
	if err := artifact.Save(path, mod, artifact.Meta{Producer: "example"}); err != nil {
		log.Fatal(err)
	}
	return path
}

func Example() {
	path := exampleModel()
	defer os.RemoveAll(filepath.Dir(path))

	m, err := ssmc.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(ssmc.SessionOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	logits, err := s.Prefill(ctx, []int{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("vocab:", len(logits))
	fmt.Println("state bytes per sequence:", m.StateBytes())
	// Output:
	// vocab: 32
	// state bytes per sequence: 896
}

func ExampleSession_Generate() {
	path := exampleModel()
	defer os.RemoveAll(filepath.Dir(path))
	m, err := ssmc.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession(ssmc.SessionOptions{})
	n := 0
	for tok, err := range s.Generate(context.Background(), []int{5, 6}, ssmc.GenerateOptions{MaxTokens: 4}) {
		if err != nil {
			log.Fatal(err)
		}
		_ = tok // stream the token to the user here
		n++
	}
	fmt.Println("generated", n, "tokens; position", s.Pos())
	// Output:
	// generated 4 tokens; position 5
}

func ExampleSession_Snapshot() {
	path := exampleModel()
	defer os.RemoveAll(filepath.Dir(path))
	m, _ := ssmc.Load(path)
	defer m.Close()
	ctx := context.Background()
	s, _ := m.NewSession(ssmc.SessionOptions{})
	s.Prefill(ctx, []int{1, 2, 3, 4}) // a shared prefix, run once
	prefix := s.Snapshot()
	a, _ := s.Step(ctx, 7)
	first := a[0]
	s.Restore(prefix) // back to the prefix without re-running it
	b, _ := s.Step(ctx, 7)
	fmt.Println("same continuation:", first == b[0])
	data, _ := prefix.MarshalBinary() // or keep it on disk
	var back ssmc.State
	fmt.Println("round trip:", back.UnmarshalBinary(data) == nil)
	// Output:
	// same continuation: true
	// round trip: true
}

func ExampleSession_Step() {
	path := exampleModel()
	defer os.RemoveAll(filepath.Dir(path))
	m, _ := ssmc.Load(path)
	defer m.Close()
	ctx := context.Background()
	s, _ := m.NewSession(ssmc.SessionOptions{})
	s.Prefill(ctx, []int{1, 2, 3})
	for _, tok := range []int{4, 5, 6} { // constant memory per token
		if _, err := s.Step(ctx, tok); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("position", s.Pos())
	// Output:
	// position 6
}

func ExampleSession_StepBatch() {
	path := exampleModel()
	defer os.RemoveAll(filepath.Dir(path))
	m, _ := ssmc.Load(path)
	defer m.Close()
	ctx := context.Background()
	s, _ := m.NewSession(ssmc.SessionOptions{Batch: 2})
	s.PrefillSlot(ctx, 0, []int{1, 2, 3}) // sequences join one slot at a time
	s.PrefillSlot(ctx, 1, []int{7})
	logits, err := s.StepBatch(ctx, []int{4, 8}) // one token per slot
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logits per slot:", len(logits)/s.Batch())
	// Output:
	// logits per slot: 32
}

func ExampleSession_Fork() {
	path := exampleModel()
	defer os.RemoveAll(filepath.Dir(path))
	m, _ := ssmc.Load(path)
	defer m.Close()
	ctx := context.Background()
	s, _ := m.NewSession(ssmc.SessionOptions{})
	s.Prefill(ctx, []int{1, 2, 3})
	t, _ := s.Fork() // two continuations of one prefix
	a, _ := s.Step(ctx, 4)
	b, _ := t.Step(ctx, 4)
	fmt.Println("forks agree:", a[0] == b[0])
	// Output:
	// forks agree: true
}

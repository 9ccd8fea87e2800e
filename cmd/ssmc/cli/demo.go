package cli

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
	"github.com/ssmc-dev/ssmc/runtime/ref"
	"github.com/ssmc-dev/ssmc/runtime/tokenizer"
)

// demoFiles is the demo checkpoint: a tiny random Mamba-1 model in Hugging
// Face format with a small BPE tokenizer (see demo/tiny/README.md).
//
//go:embed demo/tiny/config.json demo/tiny/model.safetensors demo/tiny/tokenizer.json
var demoFiles embed.FS

// demoTolerance bounds the CPU backend's difference from the reference
// interpreter, relative to max(1, |x|).
const demoTolerance = 1e-4

var demoCmd = &command{
	name:  "demo",
	args:  "[-prompt TEXT] [-n N] [-seed N]",
	short: "compile and run the built-in tiny model",
	long: `
Demo shows the whole path offline on a tiny model shipped inside the ssmc
binary (a random 2-layer Mamba-1 checkpoint in Hugging Face format with a
small BPE tokenizer): it imports the checkpoint, runs the pass pipeline and
prints its report, writes and loads a .ssmc artifact, checks the CPU
backend against the reference interpreter on the prompt, then samples -n
tokens from the prompt and prints the text and the speed. The weights are
random, so the text is noise: the demo shows the machinery, not a language
model.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		prompt := fs.String("prompt", "The quick brown fox", "the prompt `TEXT`")
		n := fs.Int("n", 48, "tokens to generate")
		seed := fs.Uint64("seed", 1, "sampling seed")
		return func(c *ctx, args []string) error {
			if len(args) > 0 {
				return usagef("demo takes no arguments")
			}
			if *n < 1 {
				return usagef("-n must be at least 1")
			}
			_, err := demo(c.stdout, *prompt, *n, *seed)
			return err
		}
	},
}

// demoResult is what one demo run produced, for tests.
type demoResult struct {
	tokens  []int
	text    string
	maxDiff float64
}

// demo runs the demo, writing its story to w.
func demo(w io.Writer, prompt string, n int, seed uint64) (*demoResult, error) {
	dir, err := os.MkdirTemp("", "ssmc-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ckpt := filepath.Join(dir, "tiny")
	if err := os.Mkdir(ckpt, 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := demoFiles.ReadFile("demo/tiny/" + name)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(ckpt, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(w, "ssmc demo: a tiny random Mamba-1 checkpoint (2 layers, d_model 64, vocab 758), built into the binary")

	// 1. import and compile
	start := time.Now()
	lc, err := loadCheckpoint(ckpt, checkpointOptions{})
	if err != nil {
		return nil, err
	}
	defer lc.model.Close()
	mod := lc.model.Module
	orig := &ir.Module{Weights: mod.Weights}
	for _, f := range mod.Funcs {
		orig.Funcs = append(orig.Funcs, f.Clone())
	}
	rep, err := passes.Run(mod, passes.Options{Verify: true})
	if err != nil {
		return nil, err
	}
	art := filepath.Join(dir, "tiny.ssmc")
	if err := saveArtifact(art, ckpt, lc, mod, ""); err != nil {
		return nil, err
	}
	fi, _ := os.Stat(art)
	fmt.Fprintf(w, "\ncompile: %s: imported, optimized and written to tiny.ssmc (%d bytes) in %v\n",
		lc.model.Config.ModelType, fi.Size(), time.Since(start).Round(time.Millisecond))
	fmt.Fprint(w, rep.String())

	// 2. load the artifact with the runtime
	start = time.Now()
	m, err := ssmc.Load(art)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	fmt.Fprintf(w, "\nload: %v (weights mapped, plans compiled); state %d bytes per sequence\n",
		time.Since(start).Round(time.Microsecond), m.StateBytes())
	tok := m.Tokenizer()
	ids := tok.Encode(prompt)
	if len(ids) == 0 {
		return nil, fmt.Errorf("the prompt encodes to no tokens")
	}
	fmt.Fprintf(w, "prompt: %q = %d tokens %v\n", prompt, len(ids), ids)

	// 3. the CPU backend against the reference interpreter, on the prompt
	diff, err := demoCheck(m, orig, ids)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "check: CPU backend vs reference interpreter on the unoptimized IR: max rel diff %.2g\n", diff)

	// 4. generate
	s, err := m.NewSession(ssmc.SessionOptions{})
	if err != nil {
		return nil, err
	}
	res := &demoResult{maxDiff: diff}
	opts := ssmc.GenerateOptions{MaxTokens: n, Temperature: 0.8, TopP: 0.95, Seed: seed}
	start = time.Now()
	var first time.Duration
	for id, err := range s.Generate(context.Background(), ids, opts) {
		if err != nil {
			return nil, err
		}
		if first == 0 {
			first = time.Since(start)
		}
		res.tokens = append(res.tokens, id)
	}
	total := time.Since(start)
	res.text, err = tok.DecodeWith(res.tokens, tokenizer.DecodeOptions{SkipSpecialTokens: true})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "\ngenerate (seed %d, temperature 0.8, top-p 0.95): %s%s\n", seed, prompt, res.text)
	rate := float64(len(res.tokens)-1) / (total - first).Seconds()
	if len(res.tokens) < 2 {
		rate = 0
	}
	fmt.Fprintf(w, "speed: first token %v (prefill of %d), then %.0f tokens/s on the %s backend\n",
		first.Round(time.Microsecond), len(ids), rate, m.Backend())
	return res, nil
}

// demoCheck runs the prompt through the optimized model's CPU backend and
// through the reference interpreter on the unoptimized IR, and returns the
// largest relative difference of the logits.
func demoCheck(m *ssmc.Model, orig *ir.Module, ids []int) (float64, error) {
	s, err := m.NewSession(ssmc.SessionOptions{})
	if err != nil {
		return 0, err
	}
	got, err := s.PrefillAll(context.Background(), ids)
	if err != nil {
		return 0, err
	}
	in := make([]int64, len(ids))
	for i, id := range ids {
		in[i] = int64(id)
	}
	want, err := ref.Run(orig.Func("prefill"), orig.Weights,
		[]*ir.Tensor{ir.TensorFromInt64s(ir.I64, []int64{1, int64(len(ids))}, in)})
	if err != nil {
		return 0, err
	}
	gotT := cpu.ToIR(&cpu.Tensor{DType: ir.F32, Shape: []int{1, len(ids), m.VocabSize()}, F32: got}, ir.F32)
	d, err := maxRelDiff(gotT, want[0])
	if err != nil {
		return 0, err
	}
	if d > demoTolerance {
		return d, fmt.Errorf("the CPU backend differs from the reference interpreter by %g (tolerance %g)", d, demoTolerance)
	}
	return d, nil
}

// maxRelDiff returns the largest |a-b| / max(1, |a|, |b|) over two tensors
// of the same type; NaN anywhere is an error.
func maxRelDiff(a, b *ir.Tensor) (float64, error) {
	if a.DType != b.DType || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		return 0, fmt.Errorf("%v%v vs %v%v", a.DType, a.Shape, b.DType, b.Shape)
	}
	x, y := a.Float64s(), b.Float64s()
	d := 0.0
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return 0, fmt.Errorf("element %d: %v vs %v", i, x[i], y[i])
		}
		if x[i] == y[i] {
			continue
		}
		d = max(d, math.Abs(x[i]-y[i])/math.Max(1, math.Max(math.Abs(x[i]), math.Abs(y[i]))))
	}
	return d, nil
}

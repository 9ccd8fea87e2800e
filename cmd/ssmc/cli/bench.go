package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

var benchCmd = &command{
	name:  "bench",
	args:  "MODEL.ssmc [--json] [--runs N] [--prefill 128,512] [--decode-batch 1,8] [--decode-steps N] [--backend auto|cpu|cuda] [--adapter DIR]...",
	short: "measure prefill and decode speed of a compiled model",
	long: `
Bench loads a compiled model and reports the median of --runs runs of:
prefill tokens/s at each --prefill length (batch 1, logits for every
position), decode tokens/s at each --decode-batch size (tokens of all
sequences per second, --decode-steps steps after a short prompt), time to
first token (prefill of the first length plus one greedy pick), load time,
peak resident memory, and the state bytes per sequence. Prompts are random
token ids (seeded). A progress line goes to stderr; --json prints one JSON
object on stdout. --backend selects where the model runs as for run (auto:
the GPU when CUDA is available, else the CPU); the report names the
backend used ("backend" in the JSON). --adapter swaps LoRA adapters in
as for run.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		asJSON := fs.Bool("json", false, "print one JSON object")
		runs := fs.Int("runs", 5, "runs per measurement (the median is reported)")
		prefill := fs.String("prefill", "128,512", "prefill `lengths`")
		decode := fs.String("decode-batch", "1,8", "decode batch `sizes`")
		steps := fs.Int("decode-steps", 32, "decode steps per run")
		be := backendFlag(fs)
		var adapters stringList
		fs.Var(&adapters, "adapter", "use the PEFT LoRA adapter in `DIR` in place of the model's (repeatable, in --lora order; see help)")
		return func(c *ctx, args []string) error {
			if len(args) != 1 {
				return usagef("bench takes one model, got %d", len(args))
			}
			opts, err := loadOptions(*be)
			if err != nil {
				return err
			}
			opts.Adapters = adapters
			lens, err := parseIDs(*prefill)
			if err != nil {
				return usagef("--prefill: %v", err)
			}
			batches, err := parseIDs(*decode)
			if err != nil {
				return usagef("--decode-batch: %v", err)
			}
			if *runs < 1 || *steps < 1 {
				return usagef("--runs and --decode-steps must be at least 1")
			}
			res, err := bench(c, args[0], opts, lens, batches, *runs, *steps)
			if err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(c.stdout).Encode(res)
			}
			fmt.Fprintf(c.stdout, "model %s (%s weights, %d threads)\n", args[0], res.DType, res.Threads)
			fmt.Fprintf(c.stdout, "backend         %s\n", res.backendDescription)
			fmt.Fprintf(c.stdout, "load            %8.1f ms\n", res.LoadMS)
			fmt.Fprintf(c.stdout, "first token     %8.1f ms (prompt of %d)\n", res.TTFTMS, lens[0])
			for _, l := range lens {
				fmt.Fprintf(c.stdout, "prefill %-6d  %8.1f tok/s\n", l, res.Prefill[fmt.Sprint(l)])
			}
			for _, b := range batches {
				fmt.Fprintf(c.stdout, "decode batch %-3d %7.1f tok/s\n", b, res.Decode[fmt.Sprint(b)])
			}
			fmt.Fprintf(c.stdout, "peak RSS        %8.1f MiB\n", float64(res.PeakRSS)/(1<<20))
			fmt.Fprintf(c.stdout, "state per seq   %8d bytes\n", res.StateBytes)
			return nil
		}
	},
}

// benchResult is bench's JSON output.
type benchResult struct {
	Prefill    map[string]float64 `json:"prefill_tok_s"`
	Decode     map[string]float64 `json:"decode_tok_s"`
	LoadMS     float64            `json:"load_ms"`
	TTFTMS     float64            `json:"ttft_ms"`
	PeakRSS    int64              `json:"peak_rss_bytes"`
	StateBytes int64              `json:"state_bytes_per_seq"`
	Threads    int                `json:"threads"`
	DType      string             `json:"dtype"`
	Runs       int                `json:"runs"`
	// Backend is where the model ran ("cpu", "cuda"); BackendReason why.
	Backend       string `json:"backend"`
	BackendReason string `json:"backend_reason,omitempty"`

	backendDescription string
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func bench(c *ctx, path string, opts ssmc.LoadOptions, lens, batches []int, runs, steps int) (*benchResult, error) {
	res := &benchResult{Prefill: map[string]float64{}, Decode: map[string]float64{}, Threads: runtime.GOMAXPROCS(0), Runs: runs}
	progress := func(format string, args ...any) { fmt.Fprintf(c.stderr, "\rbench: "+format+"\033[K", args...) }
	defer fmt.Fprint(c.stderr, "\r\033[K")
	var loads []float64
	var m *ssmc.Model
	for r := 0; r < runs; r++ {
		progress("load %d/%d", r+1, runs)
		start := time.Now()
		mm, err := ssmc.LoadWith(path, opts)
		if err != nil {
			return nil, err
		}
		loads = append(loads, ms(time.Since(start)))
		if m != nil {
			m.Close()
		}
		m = mm
	}
	defer m.Close()
	res.LoadMS = median(loads)
	res.Backend, res.BackendReason, res.backendDescription = m.Backend(), m.BackendReason(), backendDescription(m)
	res.StateBytes = m.StateBytes()
	if a, err := artifact.Open(path); err == nil {
		if b, ok := a.Section("meta"); ok {
			var meta artifact.Meta
			if json.Unmarshal(b, &meta) == nil {
				res.DType = meta.Dtype
			}
		}
		a.Close()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	prompt := func(n int) []int {
		p := make([]int, n)
		for i := range p {
			p[i] = rng.IntN(m.VocabSize())
		}
		return p
	}
	ctx := context.Background()
	s, err := m.NewSession(ssmc.SessionOptions{})
	if err != nil {
		return nil, err
	}
	for i, l := range lens {
		p := prompt(l)
		if _, err := s.Prefill(ctx, p); err != nil { // warm-up: plans the memory for L
			return nil, err
		}
		var rates, ttft []float64
		for r := 0; r < runs; r++ {
			progress("prefill %d, run %d/%d", l, r+1, runs)
			start := time.Now()
			logits, err := s.Prefill(ctx, p)
			if err != nil {
				return nil, err
			}
			d := time.Since(start)
			firstToken = argmax(logits) // the first token is picked: TTFT
			ttft = append(ttft, ms(time.Since(start)))
			rates = append(rates, float64(l)/d.Seconds())
		}
		res.Prefill[fmt.Sprint(l)] = median(rates)
		if i == 0 {
			res.TTFTMS = median(ttft)
		}
	}
	for _, b := range batches {
		bs, err := m.NewSession(ssmc.SessionOptions{Batch: b})
		if err != nil {
			return nil, err
		}
		for slot := 0; slot < b; slot++ {
			if _, err := bs.PrefillSlot(ctx, slot, prompt(8)); err != nil {
				return nil, err
			}
		}
		toks := prompt(b)
		if _, err := bs.StepBatch(ctx, toks); err != nil { // warm-up
			return nil, err
		}
		var rates []float64
		for r := 0; r < runs; r++ {
			progress("decode batch %d, run %d/%d", b, r+1, runs)
			start := time.Now()
			for k := 0; k < steps; k++ {
				if _, err := bs.StepBatch(ctx, toks); err != nil {
					return nil, err
				}
			}
			rates = append(rates, float64(steps*b)/time.Since(start).Seconds())
		}
		res.Decode[fmt.Sprint(b)] = median(rates)
	}
	res.PeakRSS = peakRSS()
	return res, nil
}

// firstToken keeps bench's greedy pick observable.
var firstToken int

func argmax(x []float32) int {
	best := 0
	for k := range x {
		if x[k] > x[best] {
			best = k
		}
	}
	return best
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/runtime/tokenizer"
)

var runCmd = &command{
	name:  "run",
	args:  "MODEL.ssmc --prompt TEXT | --tokens 1,2,3 [-n 64] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--logits-out FILE] [--backend auto|cpu|cuda] [--adapter DIR]...",
	short: "generate tokens with a compiled model",
	long: `
Run loads a compiled model and generates -n tokens after the prompt. With
--prompt TEXT (models compiled with a tokenizer.json) it streams the
generated text and stops at the tokenizer's end-of-text token; with --tokens
it prints the generated ids, comma-separated, as they come. --batch runs several prompts (separated by ';') one after another.
With --logits-out FILE it instead writes the logits of every prompt
position as JSON {"shape": [L, V], "logits": [...]} and generates nothing.

Decoding is greedy unless --temperature > 0; --top-k, --top-p,
--repetition-penalty, --seed and --stop refine sampling.

--backend auto (the default) runs on the GPU when CUDA is available and
on the CPU otherwise; cpu and cuda force one (cuda fails, saying why,
without a usable GPU). The backend used, and why, goes to stderr.

--adapter DIR, for a model compiled with --lora DIR -lora-mode fused,
uses that PEFT LoRA adapter in place of the one compiled in, without
recompiling: it must adapt the same modules with the same ranks (values,
lora_alpha and rsLoRA may differ). Repeat it for models compiled with
several adapters, in the same order.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		toks := fs.String("tokens", "", "the prompt as comma-separated token `ids`")
		text := fs.String("prompt", "", "the prompt as `TEXT` (needs an embedded tokenizer)")
		batch := fs.String("batch", "", "several prompts: `ids;ids;...`")
		n := fs.Int("n", 64, "number of tokens to generate")
		var g ssmc.GenerateOptions
		fs.Float64Var(&g.Temperature, "temperature", 0, "sampling temperature (0: greedy)")
		fs.IntVar(&g.TopK, "top-k", 0, "keep the K most likely tokens (0: all)")
		fs.Float64Var(&g.TopP, "top-p", 0, "nucleus sampling threshold (0: off)")
		fs.Float64Var(&g.RepetitionPenalty, "repetition-penalty", 0, "penalty > 1 for tokens already seen")
		seed := fs.Uint64("seed", 0, "sampling seed")
		stop := fs.String("stop", "", "comma-separated token ids that end generation")
		logitsOut := fs.String("logits-out", "", "write the prompt's logits as JSON to `FILE` (- for stdout)")
		be := backendFlag(fs)
		var adapters stringList
		fs.Var(&adapters, "adapter", "use the PEFT LoRA adapter in `DIR` in place of the model's (repeatable, in --lora order; see help)")
		return func(c *ctx, args []string) error {
			if len(args) != 1 {
				return usagef("run takes one model, got %d", len(args))
			}
			opts, err := loadOptions(*be)
			if err != nil {
				return err
			}
			opts.Adapters = adapters
			var prompts [][]int
			given := 0
			for _, f := range []string{*toks, *batch, *text} {
				if f != "" {
					given++
				}
			}
			switch {
			case given > 1:
				return usagef("give one of --prompt, --tokens and --batch")
			case *text != "":
				return runText(c, args[0], opts, *text, g, *n, *seed)
			case *toks != "":
				p, err := parseIDs(*toks)
				if err != nil {
					return usagef("--tokens: %v", err)
				}
				prompts = [][]int{p}
			case *batch != "":
				for _, part := range strings.Split(*batch, ";") {
					p, err := parseIDs(part)
					if err != nil {
						return usagef("--batch: %v", err)
					}
					prompts = append(prompts, p)
				}
			default:
				return usagef("missing --tokens (text prompts need a model with a tokenizer)")
			}
			stops, err := parseIDs(*stop)
			if err != nil && *stop != "" {
				return usagef("--stop: %v", err)
			}
			g.MaxTokens, g.Seed, g.Stop = *n, *seed, stops
			m, err := loadModel(c, args[0], opts)
			if err != nil {
				return err
			}
			defer m.Close()
			s, err := m.NewSession(ssmc.SessionOptions{})
			if err != nil {
				return err
			}
			ctx := context.Background()
			if *logitsOut != "" {
				if len(prompts) != 1 {
					return usagef("--logits-out takes one prompt")
				}
				l, err := s.PrefillAll(ctx, prompts[0])
				if err != nil {
					return err
				}
				data, err := json.Marshal(struct {
					Shape  []int     `json:"shape"`
					Logits []float32 `json:"logits"`
				}{[]int{len(prompts[0]), m.VocabSize()}, l})
				if err != nil {
					return err
				}
				return writeOutput(c, *logitsOut, append(data, '\n'))
			}
			for _, p := range prompts {
				sep := ""
				for tok, err := range s.Generate(ctx, p, g) {
					if err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "%s%d", sep, tok)
					sep = ","
				}
				fmt.Fprintln(c.stdout)
			}
			return nil
		}
	},
}

// parseIDs parses "1,2,3" into token ids.
func parseIDs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad token id %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no token ids")
	}
	return out, nil
}

// runText generates from a text prompt with the model's tokenizer and
// streams the text.
func runText(c *ctx, path string, opts ssmc.LoadOptions, text string, g ssmc.GenerateOptions, n int, seed uint64) error {
	m, err := loadModel(c, path, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	tok := m.Tokenizer()
	if tok == nil {
		return fmt.Errorf("%s has no tokenizer: use --tokens, or compile a checkpoint folder that has tokenizer.json", path)
	}
	ids := tok.Encode(text)
	if len(ids) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens")
	}
	g.MaxTokens, g.Seed = n, seed
	if eos, ok := tok.EOS(); ok {
		g.Stop = append(g.Stop, eos)
	}
	s, err := m.NewSession(ssmc.SessionOptions{})
	if err != nil {
		return err
	}
	fmt.Fprint(c.stdout, text)
	var out []int
	printed := 0
	for id, err := range s.Generate(context.Background(), ids, g) {
		if err != nil {
			return err
		}
		out = append(out, id)
		printed = streamText(c, tok, out, printed)
	}
	fmt.Fprintln(c.stdout)
	return nil
}

// streamText prints the part of decode(ids) past the first printed bytes,
// holding back a trailing incomplete UTF-8 sequence (decoded as U+FFFD)
// until the next token completes it. It returns the new printed count.
func streamText(c *ctx, tok *tokenizer.Tokenizer, ids []int, printed int) int {
	s, err := tok.DecodeWith(ids, tokenizer.DecodeOptions{SkipSpecialTokens: true})
	if err != nil {
		return printed
	}
	end := len(s)
	if strings.HasSuffix(s, "\uFFFD") {
		end -= len("\uFFFD")
	}
	if end > printed {
		fmt.Fprint(c.stdout, s[printed:end])
		printed = end
	}
	return printed
}

// backendFlag defines --backend.
func backendFlag(fs *flag.FlagSet) *string {
	return fs.String("backend", "auto", "where the model runs: `auto` (the GPU when CUDA is available, else the CPU), cpu or cuda")
}

// loadOptions checks a --backend value.
func loadOptions(backend string) (ssmc.LoadOptions, error) {
	switch backend {
	case "auto", "cpu", "cuda":
		return ssmc.LoadOptions{Backend: backend}, nil
	}
	return ssmc.LoadOptions{}, usagef("--backend %q: want auto, cpu or cuda", backend)
}

// loadModel loads a compiled model on the backend opts selects and says
// on stderr which one runs it.
func loadModel(c *ctx, path string, opts ssmc.LoadOptions) (*ssmc.Model, error) {
	m, err := ssmc.LoadWith(path, opts)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.stderr, "backend: %s\n", backendDescription(m))
	return m, nil
}

// backendDescription names the model's backend and why it was chosen.
func backendDescription(m *ssmc.Model) string {
	if r := m.BackendReason(); r != "" {
		return m.Backend() + " (" + r + ")"
	}
	return m.Backend()
}

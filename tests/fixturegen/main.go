// Command fixturegen writes seeded tiny Mamba-1 checkpoints in Hugging
// Face format, with optional PEFT LoRA adapters, merged checkpoints and
// expected outputs (package internal/fixture describes the layout).
//
//	go run ./tests/fixturegen -out DIR -seed N -d-model 64 -n-layer 2 -dtype bf16 \
//	    [-lora-rank 4 -lora-targets in_proj,x_proj,dt_proj,out_proj,embeddings]
//	go run ./tests/fixturegen -committed tests/testdata/fixtures
//
// The second form regenerates the fixtures committed to the repository.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/internal/fixture"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fixturegen:", err)
		}
		os.Exit(2)
	}
}

// run parses args and generates the fixture.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fixturegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s fixture.Spec
	out := fs.String("out", "", "output directory")
	committed := fs.String("committed", "", "regenerate the committed fixtures into this directory (e.g. tests/testdata/fixtures)")
	fs.Int64Var(&s.Seed, "seed", 1, "random seed")
	fs.StringVar(&s.DType, "dtype", "f32", "storage dtype: f32, bf16 or f16")
	fs.IntVar(&s.DModel, "d-model", 64, "hidden size")
	fs.IntVar(&s.NLayer, "n-layer", 2, "number of layers")
	fs.IntVar(&s.Vocab, "vocab", 256, "vocabulary size")
	fs.IntVar(&s.DState, "d-state", 16, "SSM state size")
	fs.IntVar(&s.Expand, "expand", 2, "d_inner = expand × d_model")
	fs.IntVar(&s.DConv, "d-conv", 4, "convolution kernel size")
	fs.IntVar(&s.DtRank, "dt-rank", 0, "dt rank (0: ceil(d_model/16))")
	fs.Float64Var(&s.Eps, "eps", 1e-5, "RMSNorm epsilon")
	fs.BoolVar(&s.Tied, "tied", true, "tie the LM head to the embedding")
	fs.IntVar(&s.Batch, "batch", 2, "batch size of the expected outputs")
	fs.IntVar(&s.SeqLen, "seq", 8, "sequence length of the expected outputs")
	ids := fs.String("ids", "", `explicit input ids, rows separated by ";" (e.g. "1,2,3;4,5,6"); overrides -batch and -seq`)
	var l fixture.LoRASpec
	fs.IntVar(&l.Rank, "lora-rank", 0, "LoRA rank (0: no adapter)")
	fs.Float64Var(&l.Alpha, "lora-alpha", 0, "lora_alpha (0: the rank)")
	targets := fs.String("lora-targets", "in_proj,x_proj,dt_proj,out_proj", "comma-separated target_modules: "+strings.Join(fixture.AllTargets, ", "))
	pattern := fs.String("lora-rank-pattern", "", `rank_pattern as key=rank pairs, e.g. "x_proj=2,layers.1.mixer.out_proj=3"`)
	fs.BoolVar(&l.RSLoRA, "lora-rslora", false, "use_rslora (scale alpha/sqrt(r))")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *committed != "" {
		return fixture.WriteCommitted(*committed)
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	var err error
	if s.InputIDs, err = parseIDs(*ids); err != nil {
		return err
	}
	if l.Rank != 0 {
		l.Targets = strings.Split(*targets, ",")
		if l.RankPattern, err = parsePattern(*pattern); err != nil {
			return err
		}
		s.LoRA = &l
	} else if *pattern != "" {
		return fmt.Errorf("-lora-rank-pattern needs -lora-rank")
	}
	return fixture.Generate(*out, s)
}

// parseIDs parses "1,2,3;4,5,6".
func parseIDs(s string) ([][]int, error) {
	if s == "" {
		return nil, nil
	}
	var ids [][]int
	for _, row := range strings.Split(s, ";") {
		var r []int
		for _, f := range strings.Split(row, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("-ids: %q is not an integer", f)
			}
			r = append(r, n)
		}
		ids = append(ids, r)
	}
	return ids, nil
}

// parsePattern parses "key=rank,key=rank".
func parsePattern(s string) ([]fixture.RankRule, error) {
	if s == "" {
		return nil, nil
	}
	var out []fixture.RankRule
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || k == "" {
			return nil, fmt.Errorf("-lora-rank-pattern: %q is not key=rank", kv)
		}
		out = append(out, fixture.RankRule{Key: k, Rank: n})
	}
	return out, nil
}

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ssmc-dev/ssmc"
	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/peft"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/tokenizer"
)

// stringList is a repeatable string flag (--lora A --lora B).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// checkpointOptions are the compile flags that apply to checkpoints.
type checkpointOptions struct {
	lora           stringList
	allowUnmatched bool
	decomposed     bool
	seqLen         int
	target         string // "cpu" or "cuda"
}

// loadedCheckpoint is a checkpoint built into IR, with what inspect and the
// artifact's metadata report about it.
type loadedCheckpoint struct {
	model    *hf.Model
	adapters []string
	warnings []string
}

// loadCheckpoint reads a Hugging Face / state-spaces checkpoint folder and
// the LoRA adapters to apply to it.
func loadCheckpoint(dir string, o checkpointOptions) (*loadedCheckpoint, error) {
	cfg, err := hf.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	shapes := map[string][]int64{}
	for _, w := range cfg.Weights() {
		shapes[w.Name] = w.Shape
	}
	lc := &loadedCheckpoint{}
	var adapters []peft.Adapter
	replacements := map[string]*ir.Tensor{}
	for _, a := range o.lora {
		res, err := peft.Load(a, shapes, peft.Options{AllowUnmatched: o.allowUnmatched})
		if err != nil {
			return nil, err
		}
		for name, t := range res.Replacements {
			if replacements[name] != nil {
				return nil, fmt.Errorf("%s: modules_to_save replaces %s, which an earlier adapter already replaced", a, name)
			}
			replacements[name] = t
		}
		adapters = append(adapters, res.Adapters...)
		lc.adapters = append(lc.adapters, a)
		lc.warnings = append(lc.warnings, res.Warnings...)
	}
	m, err := hf.Load(dir, hf.Options{Adapters: adapters, Replacements: replacements, Decomposed: o.decomposed, SeqLen: o.seqLen})
	if err != nil {
		return nil, err
	}
	lc.model = m
	lc.warnings = append(lc.warnings, m.Warnings...)
	return lc, nil
}

// saveArtifact writes the compiled module with its metadata and the
// sections in kernels (the CUDA target's).
func saveArtifact(path, source string, lc *loadedCheckpoint, m *ir.Module, dtype string, kernels ...artifact.Section) error {
	cfg, err := json.Marshal(lc.model.Config)
	if err != nil {
		return err
	}
	meta := artifact.Meta{Producer: "ssmc " + version(), Source: filepath.Base(source), Config: cfg, Adapters: lc.adapters}
	for _, t := range lc.model.Tensors {
		if t.DType != "F32" {
			meta.Dtype = strings.ToLower(t.DType)
			break
		}
	}
	if meta.Dtype == "" {
		meta.Dtype = "f32"
	}
	if dtype != "" {
		meta.Dtype = dtype
	}
	plan, err := ssmc.PlanSection(m)
	if err != nil {
		return err
	}
	extra := append([]artifact.Section{plan}, kernels...)
	if tok, err := os.ReadFile(filepath.Join(source, "tokenizer.json")); err == nil {
		if _, err := tokenizer.Parse(tok); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(source, "tokenizer.json"), err)
		}
		extra = append(extra, artifact.Section{Name: ssmc.TokenizerSection, Data: tok})
	}
	return artifact.Save(path, m, meta, extra...)
}

// cudaSections generates the CUDA kernels of m: the translation unit and
// its launch table, as artifact sections.
func cudaSections(m *ir.Module) ([]artifact.Section, error) {
	prog, err := cudagen.Generate(m)
	if err != nil {
		return nil, err
	}
	table, err := cudagen.MarshalTable(prog.Table)
	if err != nil {
		return nil, err
	}
	return []artifact.Section{
		{Name: cudagen.SourceSection, Data: []byte(prog.Source)},
		{Name: cudagen.TableSection, Data: table},
	}, nil
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

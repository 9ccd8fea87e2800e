package peft

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/ir"
)

// File names inside an adapter directory.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// Options tune Load.
type Options struct {
	// AllowUnmatched turns names that match nothing into Result.Warnings
	// instead of errors: target_modules entries that select no base module,
	// adapter keys whose module is not in the base model or not targeted,
	// targeted modules without factors in the file, and modules_to_save
	// entries without a tensor. Such keys are then ignored.
	AllowUnmatched bool
}

// Result is a loaded adapter directory.
type Result struct {
	// Adapters holds one LoRA adapter per adapted base weight, sorted by
	// Target.
	Adapters []Adapter
	// Replacements maps normalized base weight names to the full tensors
	// that modules_to_save stored for them.
	Replacements map[string]*ir.Tensor
	// Warnings lists what AllowUnmatched let through.
	Warnings []string
	// Config is the parsed adapter_config.json.
	Config Config
}

// Error reports every problem found in one adapter directory.
type Error struct {
	Dir      string
	Problems []string
}

// Error implements error: one line naming the directory and each problem.
func (e *Error) Error() string {
	return fmt.Sprintf("peft: %s: %s", oneLine(e.Dir), oneLine(strings.Join(e.Problems, "; ")))
}

// factor is one stored LoRA factor.
type factor struct {
	key  string
	info safetensors.TensorInfo
}

// pair collects the factors stored for one module.
type pair struct {
	a, b       *factor
	emb, plain bool // lora_embedding_* seen; lora_A/lora_B seen
}

// Load reads the PEFT LoRA adapter in dir (adapter_config.json and
// adapter_model.safetensors) against a base model given as normalized
// weight name -> shape (e.g. "backbone.layers.0.mixer.in_proj.weight" ->
// [2·d_inner, d_model]).
//
// Keys lose the "base_model.model." prefix and a ".default" adapter-name
// component; "model." module prefixes become "backbone." (see
// normalizeModule). "<module>.lora_A.weight" and ".lora_B.weight" adapt a
// linear module, "<module>.lora_embedding_A" and "_B" an embedding. Every
// other key must be a base weight of a module in modules_to_save
// (optionally spelled with ".modules_to_save.default." before the
// parameter name); it is returned in Replacements.
//
// The modules adapted are those target_modules selects (see selectTargets
// for PEFT's rules); each must have both factors with shapes A [r, in],
// B [out, r] for a linear weight [out, in], or A [r, vocab], B [dim, r] for
// an embedding [vocab, dim], where r is the module's rank after
// rank_pattern. Its scale is alpha/r, or alpha/sqrt(r) with use_rslora,
// alpha after alpha_pattern. Factors keep their dtype (F32, F16 or BF16)
// and must be finite.
//
// All problems are reported together in one *Error naming dir and each
// key or field.
func Load(dir string, base map[string][]int64, opts Options) (*Result, error) {
	fail := func(problems ...string) error { return &Error{Dir: dir, Problems: problems} }
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fail(fmt.Sprintf("%s: %v", ConfigFile, trimPath(err)))
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, fail(ConfigFile + ": " + err.Error())
	}
	wpath := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(wpath); errors.Is(err, fs.ErrNotExist) {
		msg := WeightsFile + ": not found"
		if _, err := os.Stat(filepath.Join(dir, "adapter_model.bin")); err == nil {
			msg += " (adapter_model.bin is a pickle file, which ssmc does not read: convert it to safetensors)"
		}
		return nil, fail(msg)
	}
	f, err := safetensors.Open(wpath)
	if err != nil {
		return nil, fail(WeightsFile + ": " + strings.TrimPrefix(err.Error(), "safetensors: "))
	}
	defer f.Close()

	mods := modules(base)
	byName := map[string]module{}
	for _, m := range mods {
		byName[m.name] = m
	}
	sel, err := selectTargets(cfg, mods)
	if err != nil {
		return nil, fail(ConfigFile + ": " + err.Error())
	}
	l := &loader{f: f, cfg: cfg, res: &Result{Replacements: map[string]*ir.Tensor{}, Config: *cfg}, dir: dir}
	for _, u := range sel.unmatched {
		l.soft(ConfigFile + ": " + u)
	}
	for _, p := range sel.problems {
		l.hard(ConfigFile + ": " + p)
	}

	pairs := map[string]*pair{}
	savedUsed := make([]bool, len(cfg.ModulesToSave))
	for _, ti := range f.Tensors() {
		kf := fmt.Sprintf("%s: key %q", WeightsFile, clip(ti.Name))
		k, ok := parseKey(ti.Name)
		if !ok {
			l.soft(kf + ": not a LoRA factor (lora_A/lora_B/lora_embedding_A/lora_embedding_B of the default adapter) nor a module weight")
			continue
		}
		mod, known := byName[k.module]
		if k.kind == keyFull {
			l.replacement(kf, ti, k, base, savedUsed)
			continue
		}
		switch {
		case !known:
			l.soft(fmt.Sprintf("%s: module %s is not in the base model", kf, clip(k.module)))
			continue
		case !sel.targets[mod.name]:
			l.soft(fmt.Sprintf("%s: module %s is not selected by target_modules", kf, mod.name))
			continue
		}
		p := pairs[mod.name]
		if p == nil {
			p = &pair{}
			pairs[mod.name] = p
		}
		slot := &p.a
		if k.kind == keyB || k.kind == keyEmbB {
			slot = &p.b
		}
		if *slot != nil {
			l.hard(fmt.Sprintf("%s: duplicates key %q (both name the same factor of %s)", kf, clip((*slot).key), mod.name))
			continue
		}
		*slot = &factor{key: ti.Name, info: ti}
		if k.kind == keyEmbA || k.kind == keyEmbB {
			p.emb = true
		} else {
			p.plain = true
		}
	}
	for i, name := range cfg.ModulesToSave {
		if !savedUsed[i] {
			l.soft(fmt.Sprintf("%s: modules_to_save entry %q has no tensor in %s", ConfigFile, clip(name), WeightsFile))
		}
	}

	targets := make([]string, 0, len(sel.targets))
	for name := range sel.targets {
		targets = append(targets, name)
	}
	sort.Strings(targets)
	for _, name := range targets {
		if m := byName[name]; m.kind != kindOther {
			l.adapter(m, pairs[name])
		}
	}
	if len(l.hardProbs) > 0 || (len(l.softProbs) > 0 && !opts.AllowUnmatched) {
		return nil, fail(append(l.hardProbs, l.softProbs...)...)
	}
	for _, s := range l.softProbs {
		l.res.Warnings = append(l.res.Warnings, fmt.Sprintf("peft: %s: %s", oneLine(dir), s))
	}
	return l.res, nil
}

// loader accumulates the result and the problems of one Load.
type loader struct {
	f                    *safetensors.File
	cfg                  *Config
	res                  *Result
	dir                  string
	hardProbs, softProbs []string
}

// hard records a problem that is always an error.
func (l *loader) hard(msg string) { l.hardProbs = append(l.hardProbs, msg) }

// soft records an unmatched name (a warning with AllowUnmatched).
func (l *loader) soft(msg string) { l.softProbs = append(l.softProbs, msg) }

// replacement handles a full-weight key of modules_to_save.
func (l *loader) replacement(kf string, ti safetensors.TensorInfo, k key, base map[string][]int64, used []bool) {
	weight := k.module + "." + k.param
	shape, ok := base[weight]
	if !ok {
		l.soft(fmt.Sprintf("%s: not a LoRA factor, and %s is not a weight of the base model", kf, clip(weight)))
		return
	}
	matched := false
	for i, entry := range l.cfg.ModulesToSave {
		if nameMatches(entry, k.module) {
			used[i], matched = true, true
		}
	}
	if !matched {
		l.soft(fmt.Sprintf("%s: not a LoRA factor, and module %s is not in modules_to_save", kf, k.module))
		return
	}
	if _, dup := l.res.Replacements[weight]; dup {
		l.hard(fmt.Sprintf("%s: a second replacement for %s", kf, weight))
		return
	}
	if !slices.Equal(ti.Shape, shape) {
		l.hard(fmt.Sprintf("%s: replacement for %s has shape %v, base weight %v", kf, weight, ti.Shape, shape))
		return
	}
	t, err := l.tensor(ti)
	if err != nil {
		l.hard(kf + ": " + err.Error())
		return
	}
	l.res.Replacements[weight] = t
}

// adapter checks and reads the factors of one targeted module.
func (l *loader) adapter(m module, p *pair) {
	where := fmt.Sprintf("%s: module %s", WeightsFile, m.name)
	emb := m.kind == kindEmbedding
	names := map[bool]string{false: "lora_A.weight/lora_B.weight", true: "lora_embedding_A/lora_embedding_B"}[emb]
	switch {
	case p == nil:
		l.soft(fmt.Sprintf("%s: targeted by target_modules but has no %s", where, names))
		return
	case p.a == nil || p.b == nil:
		have := p.a
		if have == nil {
			have = p.b
		}
		l.hard(fmt.Sprintf("%s: key %q has no matching %s factor", where, clip(have.key), map[bool]string{true: "A", false: "B"}[p.a == nil]))
		return
	case p.emb && p.plain:
		l.hard(fmt.Sprintf("%s: mixes lora_A/lora_B and lora_embedding_A/lora_embedding_B keys", where))
		return
	case p.emb != emb:
		l.hard(fmt.Sprintf("%s: is %s (weight %v) but stores %s (key %q); want %s", where, m.kind, m.shape,
			map[bool]string{false: "lora_A/lora_B", true: "lora_embedding_A/lora_embedding_B"}[p.emb], clip(p.a.key), names))
		return
	}
	r, alpha := l.cfg.RankAlpha(m.name)
	out, in := m.shape[0], m.shape[1]
	if emb { // E [vocab, dim]: A [r, vocab], B [dim, r]
		out, in = in, out
	}
	wantA, wantB := []int64{int64(r), in}, []int64{out, int64(r)}
	ok := true
	for _, c := range []struct {
		f    *factor
		want []int64
	}{{p.a, wantA}, {p.b, wantB}} {
		if !slices.Equal(c.f.info.Shape, c.want) {
			l.hard(fmt.Sprintf("%s: key %q has shape %v, want %v (weight %v, r = %d)", where, clip(c.f.key), c.f.info.Shape, c.want, m.shape, r))
			ok = false
		}
	}
	if !ok {
		return
	}
	a, errA := l.tensor(p.a.info)
	b, errB := l.tensor(p.b.info)
	for _, e := range []struct {
		key string
		err error
	}{{p.a.key, errA}, {p.b.key, errB}} {
		if e.err != nil {
			l.hard(fmt.Sprintf("%s: key %q: %v", where, clip(e.key), e.err))
			ok = false
		}
	}
	if !ok {
		return
	}
	l.res.Adapters = append(l.res.Adapters, Adapter{
		Target: m.weight, A: a, B: b, Rank: r, Scale: l.cfg.Scale(r, alpha), Embedding: emb, Source: l.dir,
	})
}

// tensor reads a float tensor (F32, F16 or BF16), copying it out of the
// mapping and checking that every value is finite.
func (l *loader) tensor(ti safetensors.TensorInfo) (*ir.Tensor, error) {
	dt, ok := map[safetensors.DType]ir.DType{safetensors.F32: ir.F32, safetensors.F16: ir.F16, safetensors.BF16: ir.BF16}[ti.DType]
	if !ok {
		return nil, fmt.Errorf("dtype %s is not supported (want F32, F16 or BF16)", ti.DType)
	}
	data, err := l.f.Bytes(ti.Name)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "safetensors: "))
	}
	t, err := ir.NewTensor(dt, ti.Shape, slices.Clone(data))
	if err != nil {
		return nil, err
	}
	for i := range int(t.NumElements()) {
		if v := t.At(i); math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("element %d is %v", i, v)
		}
	}
	return t, nil
}

// keyKind classifies an adapter file key.
type keyKind int

const (
	keyA    keyKind = iota // lora_A
	keyB                   // lora_B
	keyEmbA                // lora_embedding_A
	keyEmbB                // lora_embedding_B
	keyFull                // a full module weight (modules_to_save)
)

// key is a parsed adapter key.
type key struct {
	module string // normalized
	kind   keyKind
	param  string // keyFull: the parameter name, e.g. "weight"
}

var factorKinds = map[string]keyKind{"lora_A": keyA, "lora_B": keyB, "lora_embedding_A": keyEmbA, "lora_embedding_B": keyEmbB}

// parseKey parses an adapter key (see Load).
func parseKey(name string) (key, bool) {
	parts := strings.Split(strings.TrimPrefix(name, "base_model.model."), ".")
	for _, p := range parts {
		if p == "" {
			return key{}, false
		}
	}
	for i, p := range parts {
		kind, ok := factorKinds[p]
		if !ok {
			continue
		}
		rest := strings.Join(parts[i+1:], ".")
		if i == 0 || (rest != "" && rest != "weight" && rest != "default" && rest != "default.weight") {
			return key{}, false
		}
		return key{module: normalizeModule(strings.Join(parts[:i], ".")), kind: kind}, true
	}
	if len(parts) < 2 {
		return key{}, false
	}
	param := parts[len(parts)-1]
	var mod []string
	for i, p := range parts[:len(parts)-1] {
		if i > 0 && (p == "modules_to_save" || p == "default") {
			continue
		}
		mod = append(mod, p)
	}
	return key{module: normalizeModule(strings.Join(mod, ".")), kind: keyFull, param: param}, true
}

// trimPath shortens a *fs.PathError to its operation and cause (the
// directory is already in the message).
func trimPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

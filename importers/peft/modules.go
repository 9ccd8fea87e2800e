package peft

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// moduleKind classifies a base module by its weight.
type moduleKind int

const (
	kindOther     moduleKind = iota // norms, convolutions, …: not adaptable
	kindLinear                      // 2-D weight [out, in]
	kindEmbedding                   // 2-D weight [vocab, dim] of an embedding
)

func (k moduleKind) String() string {
	return [...]string{"not a linear or embedding layer", "linear", "embedding"}[k]
}

// module is one base module that owns a ".weight".
type module struct {
	name   string // e.g. backbone.layers.0.mixer.in_proj
	weight string // name + ".weight"
	shape  []int64
	kind   moduleKind
}

// outputLayer is the module "all-linear" leaves out, as PEFT does.
const outputLayer = "lm_head"

// modules returns the base modules (owners of a ".weight") sorted by name.
// A 2-D weight is linear unless the module's last name component contains
// "embed" (embeddings, embed_tokens), which makes it an embedding.
func modules(base map[string][]int64) []module {
	var out []module
	for name, shape := range base {
		mod, ok := strings.CutSuffix(name, ".weight")
		if !ok || mod == "" {
			continue
		}
		m := module{name: mod, weight: name, shape: shape}
		if len(shape) == 2 {
			m.kind = kindLinear
			if strings.Contains(lastComponent(mod), "embed") {
				m.kind = kindEmbedding
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func lastComponent(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}

// normalizeModule maps an adapter's module name to the base model's
// normalized naming: "model." becomes "backbone.", bare "layers.N…" and
// "norm_f" gain "backbone.", and embedding, embeddings and embed_tokens
// under the backbone become "backbone.embeddings".
func normalizeModule(name string) string {
	rest, prefixed := name, false
	for _, p := range []string{"backbone.", "model."} {
		if r, ok := strings.CutPrefix(name, p); ok {
			rest, prefixed = r, true
			break
		}
	}
	switch {
	case rest == "embedding" || rest == "embeddings" || rest == "embed_tokens":
		if prefixed {
			return "backbone.embeddings"
		}
	case strings.HasPrefix(rest, "layers.") || rest == "norm_f":
		return "backbone." + rest
	case prefixed:
		return "backbone." + rest
	}
	return name
}

// nameMatches reports whether a target_modules / exclude_modules list
// entry selects module: the full name or its dot-separated tail.
func nameMatches(entry, module string) bool {
	return module == entry || strings.HasSuffix(module, "."+entry)
}

// layerIndex extracts the layer index of a module name as PEFT does with
// layers_to_transform: the number after "<pattern>." (any component when no
// pattern), followed by a dot.
func layerIndex(module string, patterns []string) (int, bool, error) {
	res := []string{`^.*\.[^.]*\.(\d+)\.`}
	if len(patterns) > 0 {
		res = res[:0]
		for _, p := range patterns {
			res = append(res, `^.*\.(?:`+p+`)\.(\d+)\.`)
		}
	}
	for _, src := range res {
		re, err := regexp.Compile(src)
		if err != nil {
			return 0, false, err
		}
		if m := re.FindStringSubmatch(module); m != nil {
			n, err := strconv.Atoi(m[1])
			return n, err == nil, nil
		}
	}
	return 0, false, nil
}

// selection is the result of resolving target_modules against the base.
type selection struct {
	targets   map[string]bool // module name -> selected
	unmatched []string        // entries that select nothing
	problems  []string        // selected modules that cannot be adapted
}

// selectTargets applies target_modules, exclude_modules and
// layers_to_transform to the base modules, the way PEFT decides which
// modules to wrap:
//
//   - a regex target_modules must match the whole module name;
//   - "all-linear" is the list of the last name components of every linear
//     module except the output layer lm_head;
//   - a list entry selects the module with that full name, or any module
//     whose name ends with "." + entry; with layers_to_transform, a module
//     selected through a suffix must also have a layer index (see
//     layerIndex) in the list;
//   - exclude_modules (regex or list, same rules) removes modules.
func selectTargets(c *Config, mods []module) (*selection, error) {
	s := &selection{targets: map[string]bool{}}
	sel := c.TargetModules
	if sel.AllLinear {
		seen := map[string]bool{}
		sel = ModuleSelector{}
		for _, m := range mods {
			if m.kind == kindLinear && m.name != outputLayer && !seen[lastComponent(m.name)] {
				seen[lastComponent(m.name)] = true
				sel.Names = append(sel.Names, lastComponent(m.name))
			}
		}
		if len(sel.Names) == 0 {
			s.unmatched = append(s.unmatched, `target_modules "all-linear": the base model has no linear layers`)
		}
	}
	excluded := func(name string) bool {
		ex := c.ExcludeModules
		if ex.IsRegex {
			return ex.re.MatchString(name)
		}
		for _, e := range ex.Names {
			if nameMatches(e, name) {
				return true
			}
		}
		return false
	}
	layers := map[int]bool{}
	for _, l := range c.LayersToTransform {
		layers[l] = true
	}
	inLayers := func(name string) (bool, error) {
		if len(layers) == 0 {
			return true, nil
		}
		idx, ok, err := layerIndex(name, c.LayersPattern)
		if err != nil {
			return false, fieldErr("layers_pattern", "not a regular expression Go accepts: %v", err)
		}
		return ok && layers[idx], nil
	}
	add := func(m module) {
		if excluded(m.name) || s.targets[m.name] {
			return
		}
		s.targets[m.name] = true
		if m.kind == kindOther {
			s.problems = append(s.problems, fmt.Sprintf("target module %s (weight %v) is %s", m.name, m.shape, m.kind))
		}
	}
	if sel.IsRegex {
		n := 0
		for _, m := range mods {
			if sel.re.MatchString(m.name) && !excluded(m.name) {
				add(m)
				n++
			}
		}
		if n == 0 {
			s.unmatched = append(s.unmatched, fmt.Sprintf("target_modules regex %q matches no module of the base model", clip(sel.Regex)))
		}
	}
	for _, entry := range sel.Names {
		n := 0
		for _, m := range mods {
			ok := m.name == entry
			if !ok && nameMatches(entry, m.name) {
				var err error
				if ok, err = inLayers(m.name); err != nil {
					return nil, err
				}
			}
			if ok && !excluded(m.name) {
				add(m)
				n++
			}
		}
		if n == 0 {
			what := "matches no module of the base model"
			if len(layers) > 0 {
				what += fmt.Sprintf(" in layers_to_transform %v", c.LayersToTransform)
			}
			s.unmatched = append(s.unmatched, fmt.Sprintf("target_modules entry %q %s", clip(entry), what))
		}
	}
	return s, nil
}

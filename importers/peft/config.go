package peft

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Config is the part of a PEFT LoRA adapter_config.json that decides which
// modules are adapted and how.
type Config struct {
	// PeftType is "LORA" (the only type supported).
	PeftType string
	// BaseModel is base_model_name_or_path (informational).
	BaseModel string
	// R is the default rank r and LoraAlpha the default lora_alpha
	// (PEFT's defaults 8 and 8 when absent).
	R         int
	LoraAlpha float64
	// UseRSLoRA selects the scale lora_alpha/sqrt(r) instead of
	// lora_alpha/r.
	UseRSLoRA bool
	// RankPattern and AlphaPattern override r and lora_alpha for the
	// modules their keys match (see [MatchPattern]), the first matching
	// key in file order winning.
	RankPattern  []RankRule
	AlphaPattern []AlphaRule
	// TargetModules selects the adapted modules; ExcludeModules removes
	// modules from that selection.
	TargetModules  ModuleSelector
	ExcludeModules ModuleSelector
	// LayersToTransform, when not empty, restricts list-selected targets
	// to these layer indices; LayersPattern names the module list that
	// holds the layers (e.g. "layers"), any when empty.
	LayersToTransform []int
	LayersPattern     []string
	// ModulesToSave names modules stored in full in the adapter file; their
	// weights replace the base weights.
	ModulesToSave []string
	// Bias must be "none"; FanInFanOut and UseDoRA must be false.
	Bias        string
	FanInFanOut bool
	UseDoRA     bool
}

// RankRule is one rank_pattern entry.
type RankRule struct {
	Pattern string
	Rank    int
}

// AlphaRule is one alpha_pattern entry.
type AlphaRule struct {
	Pattern string
	Alpha   float64
}

// ModuleSelector is target_modules or exclude_modules: a list of names
// (Names), a single regular expression (Regex, when IsRegex) or the special
// string "all-linear" (AllLinear). The zero value selects nothing.
type ModuleSelector struct {
	Names     []string
	Regex     string
	IsRegex   bool
	AllLinear bool
	re        *regexp.Regexp
}

// Empty reports whether the selector selects nothing.
func (s ModuleSelector) Empty() bool { return len(s.Names) == 0 && !s.IsRegex && !s.AllLinear }

// Size limits on adapter_config.json values.
const (
	maxConfigBytes = 1 << 20
	maxRank        = 1 << 16
)

// ParseConfig parses adapter_config.json. It rejects what ssmc cannot apply
// faithfully: a peft_type other than LORA, bias other than "none",
// fan_in_fan_out, use_dora, lora_bias, layer_replication,
// target_parameters and trainable_token_indices. Unknown fields are
// ignored, as PEFT itself does with fields of newer versions.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("file is %d bytes, limit %d", len(data), maxConfigBytes)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		if err == nil {
			return nil, fmt.Errorf("not a JSON object")
		}
		return nil, fmt.Errorf("invalid JSON: %s", oneLine(err.Error()))
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	p := &fields{m: m}
	c := &Config{
		PeftType:  p.str("peft_type", "LORA"),
		BaseModel: p.str("base_model_name_or_path", ""),
		R:         p.integer("r", 8, 1, maxRank),
		LoraAlpha: p.number("lora_alpha", 8),
		UseRSLoRA: p.boolean("use_rslora"),
		Bias:      p.str("bias", "none"),
	}
	c.FanInFanOut = p.boolean("fan_in_fan_out")
	c.UseDoRA = p.boolean("use_dora")
	c.RankPattern, c.AlphaPattern = p.rankPattern(), p.alphaPattern()
	c.TargetModules = p.selector("target_modules")
	c.ExcludeModules = p.selector("exclude_modules")
	c.LayersToTransform = p.intOrList("layers_to_transform")
	c.LayersPattern = p.strOrList("layers_pattern")
	c.ModulesToSave = p.strOrList("modules_to_save")
	if p.err != nil {
		return nil, p.err
	}
	switch {
	case c.PeftType != "LORA":
		return nil, fieldErr("peft_type", "%q is not supported (only LORA)", clip(c.PeftType))
	case c.Bias != "none":
		return nil, fieldErr("bias", "%q is not supported (only \"none\": trained biases are not applied)", clip(c.Bias))
	case c.FanInFanOut:
		return nil, fieldErr("fan_in_fan_out", "true is not supported (Mamba's projections are nn.Linear)")
	case c.UseDoRA:
		return nil, fieldErr("use_dora", "DoRA is not supported")
	case p.boolean("lora_bias"):
		return nil, fieldErr("lora_bias", "LoRA biases are not supported")
	}
	for _, key := range []string{"layer_replication", "target_parameters", "trainable_token_indices"} {
		if p.present(key) && !p.emptyContainer(key) {
			return nil, fieldErr(key, "not supported")
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	if c.TargetModules.Empty() && len(c.ModulesToSave) == 0 {
		return nil, fieldErr("target_modules", "missing or empty, and no modules_to_save")
	}
	if c.TargetModules.IsRegex && (len(c.LayersToTransform) > 0 || len(c.LayersPattern) > 0) {
		return nil, fieldErr("layers_to_transform", "cannot be used when target_modules is a regular expression (PEFT rejects it too)")
	}
	if len(c.LayersPattern) > 0 && len(c.LayersToTransform) == 0 {
		return nil, fieldErr("layers_pattern", "given without layers_to_transform (PEFT rejects it too)")
	}
	for _, l := range c.LayersToTransform {
		if l < 0 {
			return nil, fieldErr("layers_to_transform", "negative layer index %d", l)
		}
	}
	return c, nil
}

// fields reads typed fields of a JSON object, keeping the first error.
type fields struct {
	m   map[string]json.RawMessage
	err error
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("field %q: %s", field, oneLine(fmt.Sprintf(format, args...)))
}

func (p *fields) fail(field, format string, args ...any) {
	if p.err == nil {
		p.err = fieldErr(field, format, args...)
	}
}

// present reports whether key is present and not null.
func (p *fields) present(key string) bool {
	raw, ok := p.m[key]
	return ok && string(bytes.TrimSpace(raw)) != "null"
}

func (p *fields) emptyContainer(key string) bool {
	s := string(bytes.Join(bytes.Fields(p.m[key]), nil))
	return s == "[]" || s == "{}" || s == `""`
}

func (p *fields) str(key, def string) string {
	if !p.present(key) {
		return def
	}
	var s string
	if err := json.Unmarshal(p.m[key], &s); err != nil {
		p.fail(key, "want a string, got %s", clip(string(p.m[key])))
	}
	return s
}

func (p *fields) boolean(key string) bool {
	if !p.present(key) {
		return false
	}
	var b bool
	if err := json.Unmarshal(p.m[key], &b); err != nil {
		p.fail(key, "want true or false, got %s", clip(string(p.m[key])))
	}
	return b
}

// parseNumber decodes a finite JSON number.
func parseNumber(raw json.RawMessage) (float64, bool) {
	var n json.Number
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseInt decodes an integral JSON number in [lo, hi].
func parseInt(raw json.RawMessage, lo, hi int) (int, bool) {
	f, ok := parseNumber(raw)
	if !ok || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false
	}
	return int(f), true
}

func (p *fields) number(key string, def float64) float64 {
	if !p.present(key) {
		return def
	}
	f, ok := parseNumber(p.m[key])
	if !ok {
		p.fail(key, "want a finite number, got %s", clip(string(p.m[key])))
	}
	return f
}

func (p *fields) integer(key string, def, lo, hi int) int {
	if !p.present(key) {
		return def
	}
	n, ok := parseInt(p.m[key], lo, hi)
	if !ok {
		p.fail(key, "want an integer in %d..%d, got %s", lo, hi, clip(string(p.m[key])))
	}
	return n
}

// intOrList reads null, an integer or a list of integers.
func (p *fields) intOrList(key string) []int {
	if !p.present(key) {
		return nil
	}
	if n, ok := parseInt(p.m[key], math.MinInt32, math.MaxInt32); ok {
		return []int{n}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(p.m[key], &raws); err != nil {
		p.fail(key, "want an integer or a list of integers, got %s", clip(string(p.m[key])))
		return nil
	}
	out := make([]int, 0, len(raws))
	for i, r := range raws {
		n, ok := parseInt(r, math.MinInt32, math.MaxInt32)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", key, i), "want an integer, got %s", clip(string(r)))
			return nil
		}
		out = append(out, n)
	}
	return out
}

// strOrList reads null, a string or a list of strings.
func (p *fields) strOrList(key string) []string {
	if !p.present(key) {
		return nil
	}
	var s string
	if err := json.Unmarshal(p.m[key], &s); err == nil {
		return []string{s}
	}
	var list []string
	if err := json.Unmarshal(p.m[key], &list); err != nil {
		p.fail(key, "want a string or a list of strings, got %s", clip(string(p.m[key])))
		return nil
	}
	for i, s := range list {
		if s == "" {
			p.fail(fmt.Sprintf("%s[%d]", key, i), "empty name")
		}
	}
	return list
}

// selector reads target_modules or exclude_modules: a regex string,
// "all-linear" or a list of names.
func (p *fields) selector(key string) ModuleSelector {
	var s ModuleSelector
	if !p.present(key) {
		return s
	}
	var str string
	if err := json.Unmarshal(p.m[key], &str); err == nil {
		if str == "all-linear" {
			s.AllLinear = true
			return s
		}
		re, err := regexp.Compile(`^(?:` + str + `)$`)
		if err != nil {
			p.fail(key, "%q is not a regular expression Go accepts: %v", clip(str), err)
			return s
		}
		s.Regex, s.IsRegex, s.re = str, true, re
		return s
	}
	s.Names = p.strOrList(key)
	return s
}

// orderedObject reads an object of key -> value in file order.
func (p *fields) orderedObject(key string, value func(k string, raw json.RawMessage)) {
	if !p.present(key) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(p.m[key]))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		p.fail(key, "want an object, got %s", clip(string(p.m[key])))
		return
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		k, ok := t.(string)
		if err != nil || !ok {
			p.fail(key, "malformed object")
			return
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			p.fail(key+"."+k, "malformed value")
			return
		}
		if seen[k] {
			p.fail(key, "duplicate key %q", clip(k))
			return
		}
		seen[k] = true
		if k == "" {
			p.fail(key, "empty pattern")
			return
		}
		if _, err := compilePattern(k); err != nil {
			p.fail(key, "key %q is not a regular expression Go accepts: %v", clip(k), err)
			return
		}
		value(k, raw)
	}
}

func (p *fields) rankPattern() []RankRule {
	var out []RankRule
	p.orderedObject("rank_pattern", func(k string, raw json.RawMessage) {
		n, ok := parseInt(raw, 1, maxRank)
		if !ok {
			p.fail("rank_pattern."+k, "want an integer in 1..%d, got %s", maxRank, clip(string(raw)))
		}
		out = append(out, RankRule{k, n})
	})
	return out
}

func (p *fields) alphaPattern() []AlphaRule {
	var out []AlphaRule
	p.orderedObject("alpha_pattern", func(k string, raw json.RawMessage) {
		f, ok := parseNumber(raw)
		if !ok {
			p.fail("alpha_pattern."+k, "want a finite number, got %s", clip(string(raw)))
		}
		out = append(out, AlphaRule{k, f})
	})
	return out
}

// compilePattern compiles a rank_pattern/alpha_pattern key as PEFT applies
// it: the key, as a regular expression, must match the whole module name or
// a dot-separated tail of it.
func compilePattern(key string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`)
}

// MatchPattern reports whether a rank_pattern or alpha_pattern key matches
// a module name: the name equals the key or ends with "." + key, or the key
// as a regular expression matches the whole name or a dot-separated tail
// of it (PEFT's `(.*\.)?key$`).
func MatchPattern(key, module string) bool {
	if module == key || strings.HasSuffix(module, "."+key) {
		return true
	}
	re, err := compilePattern(key)
	return err == nil && re.MatchString(module)
}

// RankAlpha returns the rank and alpha PEFT uses for module: the first
// matching rank_pattern / alpha_pattern entries, else R and LoraAlpha.
func (c *Config) RankAlpha(module string) (int, float64) {
	r, alpha := c.R, c.LoraAlpha
	for _, rule := range c.RankPattern {
		if MatchPattern(rule.Pattern, module) {
			r = rule.Rank
			break
		}
	}
	for _, rule := range c.AlphaPattern {
		if MatchPattern(rule.Pattern, module) {
			alpha = rule.Alpha
			break
		}
	}
	return r, alpha
}

// Scale returns the LoRA scale for rank r and alpha: alpha/r, or
// alpha/sqrt(r) with use_rslora.
func (c *Config) Scale(r int, alpha float64) float64 {
	if c.UseRSLoRA {
		return alpha / math.Sqrt(float64(r))
	}
	return alpha / float64(r)
}

// clip shortens s to one line of at most 200 runes for messages.
func clip(s string) string {
	r := []rune(oneLine(s))
	if len(r) > 200 {
		return string(r[:197]) + "..."
	}
	return string(r)
}

// oneLine replaces line breaks so that an error stays on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

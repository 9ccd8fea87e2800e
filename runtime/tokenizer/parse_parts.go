package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

type jsonBPE struct {
	Type                    *string         `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 *bool           `json:"fuse_unk"`
	ByteFallback            *bool           `json:"byte_fallback"`
	IgnoreMerges            *bool           `json:"ignore_merges"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// parseModel reads the "model" object, which must be a BPE model.
func parseModel(raw json.RawMessage) (*bpeModel, error) {
	var j jsonBPE
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	if j.Type != nil && *j.Type != "BPE" {
		return nil, fmt.Errorf("model.type: unsupported model type %q (only \"BPE\" is supported)", *j.Type)
	}
	if isNull(j.Vocab) || isNull(j.Merges) {
		return nil, errors.New("model: BPE needs both vocab and merges")
	}
	if j.Dropout != nil && *j.Dropout != 0 {
		return nil, fmt.Errorf("model.dropout: %v is not supported (BPE dropout is random; it must be null or 0)", *j.Dropout)
	}
	m := &bpeModel{unkID: -1}
	var err error
	if m.vocab, m.idToTok, err = parseVocab(j.Vocab); err != nil {
		return nil, err
	}
	if j.ContinuingSubwordPrefix != nil {
		m.prefix = *j.ContinuingSubwordPrefix
	}
	if j.EndOfWordSuffix != nil {
		m.suffix = *j.EndOfWordSuffix
	}
	m.fuseUnk = j.FuseUnk != nil && *j.FuseUnk
	m.byteFallback = j.ByteFallback != nil && *j.ByteFallback
	m.ignoreMerges = j.IgnoreMerges != nil && *j.IgnoreMerges
	if j.UnkToken != nil {
		id, ok := m.vocab[*j.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model.unk_token: %q is not in the vocabulary", *j.UnkToken)
		}
		m.unkID = id
	}
	pairs, err := parseMerges(j.Merges)
	if err != nil {
		return nil, err
	}
	m.merges = make(map[uint64]mergeVal, len(pairs))
	for i, p := range pairs {
		a, ok := m.vocab[p[0]]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: token %q is not in the vocabulary", i, p[0])
		}
		b, ok := m.vocab[p[1]]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: token %q is not in the vocabulary", i, p[1])
		}
		if len(p[1]) < len(m.prefix) {
			return nil, fmt.Errorf("model.merges[%d]: token %q is shorter than continuing_subword_prefix", i, p[1])
		}
		merged := p[0] + p[1][len(m.prefix):]
		n, ok := m.vocab[merged]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: merged token %q is not in the vocabulary", i, merged)
		}
		// A repeated pair keeps its last rank, as in Hugging Face.
		m.merges[pairKey(a, b)] = mergeVal{rank: int32(i), newID: n}
	}
	m.init()
	return m, nil
}

// parseVocab reads the vocab object token -> id, rejecting duplicate
// tokens, duplicate ids and ids out of range.
func parseVocab(raw json.RawMessage) (map[string]int32, map[int32]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("model.vocab: must be an object mapping tokens to ids")
	}
	vocab := map[string]int32{}
	byID := map[int32]string{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("model.vocab: %v", err)
		}
		key, _ := kt.(string)
		vt, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("model.vocab: %v", err)
		}
		num, ok := vt.(json.Number)
		if !ok {
			return nil, nil, fmt.Errorf("model.vocab[%q]: id must be a number", key)
		}
		id, err := parseID(num)
		if err != nil {
			return nil, nil, fmt.Errorf("model.vocab[%q]: %v", key, err)
		}
		if _, dup := vocab[key]; dup {
			return nil, nil, fmt.Errorf("model.vocab: duplicate token %q", key)
		}
		if other, dup := byID[int32(id)]; dup {
			return nil, nil, fmt.Errorf("model.vocab: id %d is used by both %q and %q", id, other, key)
		}
		vocab[key] = int32(id)
		byID[int32(id)] = key
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("model.vocab: %v", err)
	}
	return vocab, byID, nil
}

// parseMerges accepts both merge formats: a list of ["a", "b"] pairs, or
// the legacy list of "a b" strings (lines starting with "#version" are
// skipped, any other line must contain exactly one space).
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		out := make([][2]string, len(pairs))
		for i, p := range pairs {
			if len(p) != 2 {
				return nil, fmt.Errorf("model.merges[%d]: a pair must have 2 elements, has %d", i, len(p))
			}
			out[i] = [2]string{p[0], p[1]}
		}
		return out, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, errors.New("model.merges: must be a list of \"a b\" strings or of [\"a\", \"b\"] pairs")
	}
	out := make([][2]string, 0, len(lines))
	for _, l := range lines {
		if strings.HasPrefix(l, "#version") {
			continue
		}
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("model.merges[%d]: %q is not of the form \"a b\"", len(out), l)
		}
		out = append(out, [2]string{a, b})
	}
	return out, nil
}

// parseNormalizer accepts null, an empty Sequence, and NFC.
func parseNormalizer(raw json.RawMessage, path string) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "NFC":
		if newNFC == nil {
			return nil, fmt.Errorf("%s.type: NFC normalization is not supported by this build", path)
		}
		return newNFC(), nil
	case "Sequence":
		var s struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		var seq normSequence
		for i, r := range s.Normalizers {
			n, err := parseNormalizer(r, fmt.Sprintf("%s.normalizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		if len(seq) == 0 {
			return nil, nil
		}
		return seq, nil
	}
	return nil, fmt.Errorf("%s.type: unsupported normalizer %q (supported: NFC, Sequence, null)", path, typ)
}

// newNFC builds the NFC normalizer; nil when it is not compiled in.
var newNFC func() normalizer

type jsonPre struct {
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Pattern        json.RawMessage   `json:"pattern"`
	Behavior       *string           `json:"behavior"`
	Invert         bool              `json:"invert"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
}

// parsePreTokenizer accepts ByteLevel, Split and Sequence of those.
func parsePreTokenizer(raw json.RawMessage, path string) ([]preStep, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw, path)
	if err != nil {
		return nil, err
	}
	var j jsonPre
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	switch typ {
	case "ByteLevel":
		st := byteLevelStep{addPrefixSpace: true, useRegex: true}
		if j.AddPrefixSpace != nil {
			st.addPrefixSpace = *j.AddPrefixSpace
		}
		if j.UseRegex != nil {
			st.useRegex = *j.UseRegex
		}
		return []preStep{st}, nil
	case "Split":
		var pat struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		}
		if err := json.Unmarshal(j.Pattern, &pat); err != nil || (pat.String == nil) == (pat.Regex == nil) {
			return nil, fmt.Errorf("%s.pattern: must be {\"String\": ...} or {\"Regex\": ...}", path)
		}
		if j.Behavior == nil {
			return nil, fmt.Errorf("%s.behavior: missing", path)
		}
		b, ok := behaviorNames[*j.Behavior]
		if !ok {
			return nil, fmt.Errorf("%s.behavior: unknown behavior %q", path, *j.Behavior)
		}
		st := splitStep{behavior: b, invert: j.Invert}
		if pat.String != nil {
			st.m = literalMatcher{*pat.String}
		} else if st.m, err = compilePattern(*pat.Regex); err != nil {
			return nil, fmt.Errorf("%s.pattern.Regex: %v", path, err)
		}
		return []preStep{st}, nil
	case "Sequence":
		var steps []preStep
		for i, r := range j.PreTokenizers {
			s, err := parsePreTokenizer(r, fmt.Sprintf("%s.pretokenizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			steps = append(steps, s...)
		}
		return steps, nil
	}
	return nil, fmt.Errorf("%s.type: unsupported pre-tokenizer %q (supported: ByteLevel, Split, Sequence, null)", path, typ)
}

type jsonPost struct {
	Single []map[string]struct {
		ID string `json:"id"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
	Sep        []json.RawMessage `json:"sep"`
	Cls        []json.RawMessage `json:"cls"`
	Processors []json.RawMessage `json:"processors"`
}

// parsePost accepts ByteLevel (offsets only, no ids), TemplateProcessing,
// RobertaProcessing, BertProcessing and Sequence of those.
func (t *Tokenizer) parsePost(raw json.RawMessage, path string) ([]postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw, path)
	if err != nil {
		return nil, err
	}
	var j jsonPost
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	checkID := func(id int64, what string) (int, error) {
		if id < 0 || id >= int64(len(t.tokens)) || !t.present[id] {
			return 0, fmt.Errorf("%s: %s id %d is not in the vocabulary", path, what, id)
		}
		return int(id), nil
	}
	switch typ {
	case "ByteLevel":
		return nil, nil
	case "TemplateProcessing":
		tp := &templateProcessor{}
		for i, pc := range j.Single {
			if len(pc) != 1 {
				return nil, fmt.Errorf("%s.single[%d]: want one of Sequence or SpecialToken", path, i)
			}
			if s, ok := pc["Sequence"]; ok {
				if s.ID != "A" {
					return nil, fmt.Errorf("%s.single[%d]: sequence %q in a single template", path, i, s.ID)
				}
				tp.single = append(tp.single, templatePiece{seq: true})
				continue
			}
			s, ok := pc["SpecialToken"]
			if !ok {
				return nil, fmt.Errorf("%s.single[%d]: want one of Sequence or SpecialToken", path, i)
			}
			st, ok := j.SpecialTokens[s.ID]
			if !ok {
				return nil, fmt.Errorf("%s.special_tokens: missing %q used by the template", path, s.ID)
			}
			var ids []int
			for _, id := range st.IDs {
				v, err := checkID(id, fmt.Sprintf("special token %q", s.ID))
				if err != nil {
					return nil, err
				}
				ids = append(ids, v)
			}
			tp.single = append(tp.single, templatePiece{ids: ids})
		}
		return []postProcessor{tp}, nil
	case "RobertaProcessing", "BertProcessing":
		get := func(pair []json.RawMessage, name string) (int, error) {
			var id int64
			if len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil {
				return 0, fmt.Errorf("%s.%s: want [token, id]", path, name)
			}
			return checkID(id, name)
		}
		cls, err := get(j.Cls, "cls")
		if err != nil {
			return nil, err
		}
		sep, err := get(j.Sep, "sep")
		if err != nil {
			return nil, err
		}
		return []postProcessor{&templateProcessor{single: []templatePiece{{ids: []int{cls}}, {seq: true}, {ids: []int{sep}}}}}, nil
	case "Sequence":
		var out []postProcessor
		for i, r := range j.Processors {
			p, err := t.parsePost(r, fmt.Sprintf("%s.processors[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s.type: unsupported post-processor %q (supported: ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence, null)", path, typ)
}

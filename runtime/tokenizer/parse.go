package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"
)

// Limits that protect against hostile files.
const (
	// MaxFileSize is the largest tokenizer.json Load and Parse accept.
	MaxFileSize = 512 << 20
	// MaxTokenID is the largest token id accepted (real vocabularies have
	// well under a million tokens).
	MaxTokenID = 1<<24 - 1
)

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// jsonFile is the top level of tokenizer.json.
type jsonFile struct {
	Version       *string         `json:"version"`
	AddedTokens   json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
	// truncation and padding are batching policies and are not applied.
}

type jsonAdded struct {
	ID         *int64  `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	Lstrip     bool    `json:"lstrip"`
	Rstrip     bool    `json:"rstrip"`
	Normalized *bool   `json:"normalized"`
	Special    bool    `json:"special"`
}

// Parse parses the contents of a Hugging Face tokenizer.json with a BPE
// model. Unsupported components are reported with an error naming the
// field; the file's added-token ids must agree with the ids Hugging Face
// would assign them.
func Parse(data []byte) (*Tokenizer, error) {
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

func parse(data []byte) (*Tokenizer, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileSize)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("file is not valid UTF-8")
	}
	var f jsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if f.Version != nil && *f.Version != "1.0" {
		return nil, fmt.Errorf("version: unknown tokenizer version %q (want \"1.0\")", *f.Version)
	}
	if isNull(f.Model) {
		return nil, errors.New("model: missing")
	}
	model, err := parseModel(f.Model)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: model, bos: -1, eos: -1}
	if t.norm, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	nbl := 0
	for _, st := range t.pre {
		if _, ok := st.(byteLevelStep); ok {
			nbl++
		}
	}
	if nbl > 1 {
		return nil, errors.New("pre_tokenizer: more than one ByteLevel pre-tokenizer is not supported")
	}
	if err := t.parseAdded(f.AddedTokens); err != nil {
		return nil, err
	}
	if err := t.buildIDTable(); err != nil {
		return nil, err
	}
	if t.post, err = t.parsePost(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	if err := t.parseDecoder(f.Decoder, "decoder"); err != nil {
		return nil, err
	}
	t.pickBOSEOS()
	return t, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// typeOf returns the "type" field of a component object.
func typeOf(raw json.RawMessage, path string) (string, error) {
	var h struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	if h.Type == nil {
		return "", fmt.Errorf("%s.type: missing", path)
	}
	return *h.Type, nil
}

// parseAdded reads added_tokens and assigns ids the way Hugging Face
// AddedVocabulary::add_tokens does: a content already added keeps its id,
// a content in the model vocabulary takes the vocabulary id, anything else
// gets the next id after the vocabulary. The id written in the file must
// equal that id.
func (t *Tokenizer) parseAdded(raw json.RawMessage) error {
	t.addedMap = map[string]int{}
	t.addedByID = map[int]*AddedToken{}
	if isNull(raw) {
		return nil
	}
	var list []jsonAdded
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("added_tokens: %v", err)
	}
	if len(list) > MaxTokenID {
		return fmt.Errorf("added_tokens: %d entries is too many", len(list))
	}
	nextID := len(t.model.vocab)
	special := map[string]bool{}
	var order []int
	for i, ja := range list {
		if ja.ID == nil || ja.Content == nil {
			return fmt.Errorf("added_tokens[%d]: id and content are required", i)
		}
		if *ja.ID < 0 || *ja.ID > MaxTokenID {
			return fmt.Errorf("added_tokens[%d]: id %d out of range [0, %d]", i, *ja.ID, MaxTokenID)
		}
		c := *ja.Content
		if c == "" {
			continue // Hugging Face ignores empty added tokens
		}
		var id int
		if prev, ok := t.addedMap[c]; ok {
			id = prev
		} else if vid, ok := t.model.vocab[c]; ok {
			id = int(vid)
		} else {
			id = nextID
			nextID++
			if _, clash := t.model.vocabR(id); clash {
				return fmt.Errorf("added_tokens[%d] (%q): assigned id %d is already used by a vocabulary token", i, c, id)
			}
		}
		if int64(id) != *ja.ID {
			return fmt.Errorf("added_tokens[%d] (%q): id %d disagrees with id %d given by the vocabulary and earlier added tokens", i, c, *ja.ID, id)
		}
		normalized := !ja.Special
		if ja.Normalized != nil {
			normalized = *ja.Normalized
		}
		tok := &AddedToken{ID: id, Content: c, SingleWord: ja.SingleWord, Lstrip: ja.Lstrip,
			Rstrip: ja.Rstrip, Normalized: normalized, Special: ja.Special}
		if _, seen := t.addedByID[id]; !seen {
			order = append(order, id)
		}
		t.addedMap[c] = id
		t.addedByID[id] = tok
		if ja.Special {
			special[c] = true
		}
	}
	var raws, norms []*AddedToken
	for _, id := range order {
		tok := t.addedByID[id]
		t.added = append(t.added, tok)
		if tok.Normalized {
			m := *tok
			if t.norm != nil {
				m.Content = t.norm.normalize(tok.Content)
			}
			if m.Content != "" {
				norms = append(norms, &m)
			}
		} else {
			raws = append(raws, tok)
		}
	}
	t.rawAdded = newAddedMatcher(raws)
	t.normAdded = newAddedMatcher(norms)
	t.specialSet = special
	return nil
}

// buildIDTable fills the id -> token tables used by decoding.
func (t *Tokenizer) buildIDTable() error {
	maxID := -1
	for _, id := range t.model.vocab {
		maxID = max(maxID, int(id))
	}
	for id := range t.addedByID {
		maxID = max(maxID, id)
	}
	distinct := len(t.model.vocab)
	for c := range t.addedMap {
		if _, ok := t.model.vocab[c]; !ok {
			distinct++
		}
	}
	if maxID+1 > 2*distinct+1024 {
		return fmt.Errorf("model.vocab: ids are too sparse (largest id %d for %d tokens)", maxID, distinct)
	}
	n := maxID + 1
	t.tokens = make([]string, n)
	t.present = make([]bool, n)
	t.special = make([]bool, n)
	for tok, id := range t.model.vocab {
		t.tokens[id] = tok
		t.present[id] = true
	}
	for id, a := range t.addedByID {
		c := a.Content
		if a.Normalized && t.norm != nil {
			c = t.norm.normalize(c) // Hugging Face decodes the normalized form
		}
		t.tokens[id] = c
		t.present[id] = true
	}
	for id := range t.tokens {
		t.special[id] = t.present[id] && t.specialSet[t.tokens[id]]
	}
	t.vocabSize = distinct
	return nil
}

func (t *Tokenizer) parseDecoder(raw json.RawMessage, path string) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typeOf(raw, path)
	if err != nil {
		return err
	}
	if typ != "ByteLevel" {
		return fmt.Errorf("%s.type: unsupported decoder %q (supported: ByteLevel, null)", path, typ)
	}
	t.byteLevelDecoder = true
	t.decoded = make([][]byte, len(t.tokens))
	for id, tok := range t.tokens {
		if t.present[id] {
			t.decoded[id] = byteLevelDecodeToken(nil, tok)
		}
	}
	return nil
}

// pickBOSEOS sets bos and eos from the post-processor template, falling
// back to conventional special token names.
func (t *Tokenizer) pickBOSEOS() {
	for _, pp := range t.post {
		if tp, ok := pp.(*templateProcessor); ok {
			b, e := tp.bosEOS()
			if t.bos < 0 {
				t.bos = b
			}
			if t.eos < 0 {
				t.eos = e
			}
		}
	}
	find := func(names ...string) int {
		for _, n := range names {
			if id, ok := t.addedMap[n]; ok && t.specialSet[n] {
				return id
			}
		}
		return -1
	}
	if t.bos < 0 {
		t.bos = find("<|endoftext|>", "<s>", "<|begin_of_text|>", "<bos>")
	}
	if t.eos < 0 {
		t.eos = find("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")
	}
}

// parseID parses a JSON number that must be an integer in [0, MaxTokenID].
func parseID(num json.Number) (int, error) {
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || v < 0 || v > MaxTokenID {
		return 0, fmt.Errorf("id %s is not an integer in [0, %d]", num, MaxTokenID)
	}
	return int(v), nil
}

package tokenizer

import (
	"fmt"
	"strings"
)

// Tokenizer is a loaded tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	model *bpeModel
	norm  normalizer

	added     []*AddedToken
	addedByID map[int]*AddedToken
	addedMap  map[string]int  // content -> id
	rawAdded  *addedMatcher   // normalized == false: matched on the input
	normAdded *addedMatcher   // normalized == true: matched after normalizing
	pre       []preStep       // pre-tokenizer pipeline
	post      []postProcessor // applied in order when adding special tokens

	byteLevelDecoder bool // decoder ByteLevel; otherwise tokens joined by " "

	tokens     []string // id -> token string (added tokens first)
	present    []bool
	special    []bool // token string is the content of a special added token
	specialSet map[string]bool
	decoded    [][]byte // ByteLevel decoder output per id
	vocabSize  int
	bos, eos   int
}

// EncodeOptions controls EncodeWith.
type EncodeOptions struct {
	// AddSpecialTokens applies the post-processor (for example a
	// TemplateProcessing that adds a BOS token). Hugging Face's default,
	// and what Encode does, is true.
	AddSpecialTokens bool
	// SpecialAsText treats special added tokens appearing in the input as
	// ordinary text (Hugging Face encode_special_tokens), so untrusted text
	// cannot inject, say, "<|endoftext|>".
	SpecialAsText bool
}

// DecodeOptions controls DecodeWith.
type DecodeOptions struct {
	// SkipSpecialTokens drops ids whose token is a special added token.
	SkipSpecialTokens bool
}

// Encode converts text to token ids the way Hugging Face
// Tokenizer.encode(text, add_special_tokens=True) does: added tokens are
// found first (longest match first), the remaining text is normalized,
// pre-tokenized, mapped to byte-level characters and split by BPE, and the
// post-processor adds its special tokens.
//
// text should be valid UTF-8; invalid bytes are handled as single
// characters of the "other" class and encoded byte by byte (Hugging Face
// cannot receive such input at all).
func (t *Tokenizer) Encode(text string) []int {
	return t.EncodeWith(text, EncodeOptions{AddSpecialTokens: true})
}

// EncodeWith is Encode with options.
func (t *Tokenizer) EncodeWith(text string, opts EncodeOptions) []int {
	var ids []int
	for _, p := range t.pieces(text, opts.SpecialAsText) {
		if p.tok != nil {
			ids = append(ids, p.tok.ID)
			continue
		}
		ids = t.model.tokenize(ids, p.s, p.mapped)
	}
	if opts.AddSpecialTokens {
		for _, pp := range t.post {
			ids = pp.process(ids)
		}
	}
	if ids == nil {
		ids = []int{}
	}
	return ids
}

// outPiece is a piece for the model, or an added token.
type outPiece struct {
	piece
	tok *AddedToken
}

// pieces runs everything before the model: added-token extraction on the
// raw text, normalization and normalized added tokens, pre-tokenization.
func (t *Tokenizer) pieces(text string, specialAsText bool) []outPiece {
	var out []outPiece
	var buf []piece
	handlePlain := func(s string) {
		if t.norm != nil {
			s = t.norm.normalize(s)
		}
		t.normAdded.split(s, specialAsText, func(s2 string, tok *AddedToken) {
			if tok != nil {
				out = append(out, outPiece{piece{s2, false}, tok})
				return
			}
			buf = append(buf[:0], piece{s2, false})
			for _, st := range t.pre {
				buf = st.apply(buf, nil)
			}
			for _, p := range buf {
				if len(p.s) > 0 {
					out = append(out, outPiece{p, nil})
				}
			}
		})
	}
	t.rawAdded.split(text, specialAsText, func(s string, tok *AddedToken) {
		if tok != nil {
			out = append(out, outPiece{piece{s, false}, tok})
			return
		}
		handlePlain(s)
	})
	return out
}

// PreTokenize returns the pieces that the BPE model would receive for text,
// as text (not byte-level mapped), with each added token as its own piece.
// It is meant for inspection and tests.
func (t *Tokenizer) PreTokenize(text string) []string {
	ps := t.pieces(text, false)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.s
	}
	return out
}

// Decode converts ids back to text, keeping special tokens, like Hugging
// Face Tokenizer.decode(ids, skip_special_tokens=False). With the ByteLevel
// decoder, token characters are mapped back to bytes and the bytes are
// converted to text replacing each maximal invalid UTF-8 subsequence by
// U+FFFD (Rust String::from_utf8_lossy). An id outside the vocabulary is an
// error (Hugging Face silently drops it).
func (t *Tokenizer) Decode(ids []int) (string, error) {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith is Decode with options.
func (t *Tokenizer) DecodeWith(ids []int, opts DecodeOptions) (string, error) {
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) || !t.present[id] {
			return "", fmt.Errorf("tokenizer: decode: unknown token id %d", id)
		}
	}
	if t.byteLevelDecoder {
		var b []byte
		for _, id := range ids {
			if opts.SkipSpecialTokens && t.special[id] {
				continue
			}
			b = append(b, t.decoded[id]...)
		}
		return lossyUTF8(b), nil
	}
	var parts []string
	for _, id := range ids {
		if opts.SkipSpecialTokens && t.special[id] {
			continue
		}
		parts = append(parts, t.tokens[id])
	}
	return strings.Join(parts, " "), nil
}

// VocabSize returns the number of distinct tokens, model vocabulary and
// added tokens together (Hugging Face get_vocab_size(with_added_tokens=True)).
// Ids are dense in every file this package accepts, but a model's embedding
// table may still be padded beyond this size.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenToID returns the id of a token string (byte-level form for model
// tokens, e.g. "Ġthe"; plain content for added tokens).
func (t *Tokenizer) TokenToID(token string) (int, bool) {
	if id, ok := t.addedMap[token]; ok {
		return id, true
	}
	id, ok := t.model.vocab[token]
	return int(id), ok
}

// IDToToken returns the token string of id (added token content, or the
// model's byte-level token).
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) || !t.present[id] {
		return "", false
	}
	return t.tokens[id], true
}

// AddedTokens returns a copy of the added tokens in file order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, len(t.added))
	for i, a := range t.added {
		out[i] = *a
	}
	return out
}

// BOS returns the beginning-of-sequence token id. It is the first special
// token the post-processor puts before the text (TemplateProcessing,
// RobertaProcessing, BertProcessing); without one, the special added token
// "<|endoftext|>", "<s>", "<|begin_of_text|>" or "<bos>", in that order
// (GPT-NeoX uses "<|endoftext|>" for both BOS and EOS).
func (t *Tokenizer) BOS() (int, bool) { return t.bos, t.bos >= 0 }

// EOS returns the end-of-sequence token id: the first special token the
// post-processor puts after the text, else the special added token
// "<|endoftext|>", "</s>", "<|end_of_text|>" or "<eos>", in that order.
func (t *Tokenizer) EOS() (int, bool) { return t.eos, t.eos >= 0 }

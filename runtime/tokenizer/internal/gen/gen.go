// Package gen trains tiny byte-level BPE tokenizers and writes them in the
// Hugging Face tokenizer.json format. It produces the test fixture
// runtime/tokenizer/testdata/tiny-bpe.json; it does not use the tokenizer
// package, so the fixture is an independent input for its tests.
package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ByteToRune returns GPT-2's bytes_to_unicode mapping: printable bytes
// ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to themselves, the others in
// increasing order to U+0100, U+0101, ...
func ByteToRune() [256]rune {
	var m [256]rune
	next := rune(256)
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			m[b] = rune(b)
		} else {
			m[b] = next
			next++
		}
	}
	return m
}

// words cuts text into training words: an optional leading space followed
// by a run of letters, of digits or of other symbols, or a run of
// whitespace. It approximates the GPT-2 pre-tokenizer, which is all a
// trainer needs.
func words(text string) []string {
	kind := func(r rune) int {
		switch {
		case unicode.IsLetter(r):
			return 1
		case unicode.IsNumber(r):
			return 2
		case unicode.IsSpace(r):
			return 3
		}
		return 0
	}
	var out []string
	rs := []rune(text)
	for i := 0; i < len(rs); {
		j := i
		if rs[j] == ' ' && j+1 < len(rs) && kind(rs[j+1]) != 3 {
			j++
		}
		k := kind(rs[j])
		for j < len(rs) && kind(rs[j]) == k {
			j++
		}
		out = append(out, string(rs[i:j]))
		i = j
	}
	return out
}

// Model is a trained byte-level BPE model.
type Model struct {
	Vocab  []string    // tokens in id order (after the special tokens)
	Merges [][2]string // in rank order
}

// Train learns up to nMerges merges on text. Each step merges the most
// frequent adjacent pair (ties: the smaller pair in byte order) in every
// word, left to right.
func Train(text string, nMerges int) Model {
	b2r := ByteToRune()
	freq := map[string]int{}
	for _, w := range words(text) {
		freq[w]++
	}
	type entry struct {
		syms []string
		n    int
	}
	keys := make([]string, 0, len(freq))
	for w := range freq {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	var corpus []entry
	for _, w := range keys {
		var syms []string
		for i := 0; i < len(w); i++ {
			syms = append(syms, string(b2r[w[i]]))
		}
		corpus = append(corpus, entry{syms, freq[w]})
	}
	var m Model
	for b := 0; b < 256; b++ {
		m.Vocab = append(m.Vocab, string(b2r[b]))
	}
	have := map[string]bool{}
	for _, v := range m.Vocab {
		have[v] = true
	}
	for len(m.Merges) < nMerges {
		counts := map[[2]string]int{}
		for _, e := range corpus {
			for i := 0; i+1 < len(e.syms); i++ {
				counts[[2]string{e.syms[i], e.syms[i+1]}] += e.n
			}
		}
		var best [2]string
		bestN := 0
		for p, n := range counts {
			if n > bestN || n == bestN && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			break
		}
		m.Merges = append(m.Merges, best)
		merged := best[0] + best[1]
		if !have[merged] {
			have[merged] = true
			m.Vocab = append(m.Vocab, merged)
		}
		for ei := range corpus {
			s := corpus[ei].syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, merged)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			corpus[ei].syms = out
		}
	}
	return m
}

// AddedToken is an added_tokens entry.
type AddedToken struct {
	Content    string
	Special    bool
	Normalized bool
}

// WriteJSON renders a tokenizer.json in the layout Hugging Face
// tokenizers writes: version "1.0", no truncation or padding, the given
// added tokens (special ones first, taking ids 0.. inside the vocabulary;
// the others get the ids after it), no normalizer, ByteLevel
// pre-tokenizer (add_prefix_space false, trim_offsets true, use_regex
// true), ByteLevel post-processor and decoder, and the BPE model with
// merges as "a b" strings.
func WriteJSON(m Model, special []string, extra []AddedToken) ([]byte, error) {
	var vocab []string
	vocab = append(vocab, special...)
	vocab = append(vocab, m.Vocab...)
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedList []added
	for i, s := range special {
		addedList = append(addedList, added{ID: i, Content: s, Special: true})
	}
	for i, a := range extra {
		addedList = append(addedList, added{ID: len(vocab) + i, Content: a.Content, Normalized: a.Normalized, Special: a.Special})
	}
	var b bytes.Buffer
	enc := func(v any) string {
		var bb bytes.Buffer
		e := json.NewEncoder(&bb)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			panic(err) // only strings and plain structs are encoded
		}
		return strings.TrimSuffix(bb.String(), "\n")
	}
	bl := `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n")
	for i, a := range addedList {
		b.WriteString("    " + enc(a))
		if i+1 < len(addedList) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("  ],\n  \"normalizer\": null,\n")
	b.WriteString("  \"pre_tokenizer\": " + bl + ",\n")
	b.WriteString("  \"post_processor\": " + bl + ",\n")
	b.WriteString("  \"decoder\": " + bl + ",\n")
	b.WriteString("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n" +
		"    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n" +
		"    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {\n")
	for i, v := range vocab {
		fmt.Fprintf(&b, "      %s: %d", enc(v), i)
		if i+1 < len(vocab) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("    },\n    \"merges\": [\n")
	for i, p := range m.Merges {
		if strings.Contains(p[0], " ") || strings.Contains(p[1], " ") {
			return nil, fmt.Errorf("merge %q cannot be written as \"a b\"", p)
		}
		b.WriteString("      " + enc(p[0]+" "+p[1]))
		if i+1 < len(m.Merges) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("    ]\n  }\n}\n")
	if !utf8.Valid(b.Bytes()) {
		return nil, fmt.Errorf("generated JSON is not valid UTF-8")
	}
	return b.Bytes(), nil
}

// TinyMerges is the number of merges of the tiny fixture.
const TinyMerges = 500

// TinyJSON returns the contents of testdata/tiny-bpe.json: TinyMerges
// merges trained on Corpus, special tokens "<|endoftext|>" (id 0) and
// "<|padding|>" (id 1), and, like GPT-NeoX, whitespace-run added tokens
// (normalized, not special) for 4 and 8 spaces with ids after the
// vocabulary.
func TinyJSON() ([]byte, error) {
	m := Train(strings.Repeat(Corpus, 3), TinyMerges)
	return WriteJSON(m, []string{"<|endoftext|>", "<|padding|>"}, []AddedToken{
		{Content: "    ", Normalized: true},
		{Content: "        ", Normalized: true},
	})
}

package tokenizer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// variant is a tokenizer.json derived from the tiny fixture for the HF
// comparison, with the texts to try on it.
type variant struct {
	name    string
	edit    func(doc map[string]any)
	texts   func(r *rand.Rand) string
	nTexts  int
	noPre   bool // skip the pre-tokenizer comparison
	extraTx []string
}

func loadDoc(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/tiny-bpe.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func model(doc map[string]any) map[string]any { return doc["model"].(map[string]any) }

func byteLevelPre(useRegex bool) map[string]any {
	return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
}

func splitPre(kind, pat, behavior string, invert bool) map[string]any {
	return map[string]any{"type": "Split", "pattern": map[string]any{kind: pat}, "behavior": behavior, "invert": invert}
}

func sequencePre(steps ...map[string]any) map[string]any {
	return map[string]any{"type": "Sequence", "pretokenizers": steps}
}

// setAdded replaces added_tokens; tokens already in the vocabulary keep
// their id, the others are numbered after it in order, as HF assigns them.
func setAdded(doc map[string]any, toks ...map[string]any) map[string]int {
	ids := map[string]int{}
	vocab := model(doc)["vocab"].(map[string]any)
	next := len(vocab)
	var list []any
	for _, tk := range toks {
		full := map[string]any{"single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false}
		for k, v := range tk {
			full[k] = v
		}
		c := full["content"].(string)
		if id, ok := vocab[c]; ok {
			full["id"] = id
			switch v := id.(type) {
			case float64:
				ids[c] = int(v)
			case int:
				ids[c] = v
			}
		} else {
			full["id"] = next
			ids[c] = next
			next++
		}
		list = append(list, full)
	}
	doc["added_tokens"] = list
	return ids
}

func defaultAdded() []map[string]any {
	return []map[string]any{
		{"content": "<|endoftext|>", "special": true},
		{"content": "<|padding|>", "special": true},
		{"content": "    ", "normalized": true},
		{"content": "        ", "normalized": true},
	}
}

// charVocab replaces the model with a character-level BPE over lowercase
// ASCII with a continuing-subword prefix "##", an end-of-word suffix
// "</w>", a few merges and "[UNK]".
func charVocab(doc map[string]any, fuse bool) {
	vocab := map[string]any{"[UNK]": 0}
	add := func(s string) {
		if _, ok := vocab[s]; !ok {
			vocab[s] = len(vocab)
		}
	}
	for c := 'a'; c <= 'z'; c++ {
		for _, s := range []string{string(c), "##" + string(c), string(c) + "</w>", "##" + string(c) + "</w>"} {
			add(s)
		}
	}
	merges := [][]string{{"t", "##h"}, {"th", "##e</w>"}, {"##i", "##n"}, {"##in", "##g</w>"}, {"##o", "##g</w>"}, {"d", "##og</w>"}, {"##e", "##l"}, {"##l", "##o</w>"}}
	for _, m := range merges {
		add(m[0] + strings.TrimPrefix(m[1], "##"))
	}
	doc["model"] = map[string]any{"type": "BPE", "dropout": nil, "unk_token": "[UNK]",
		"continuing_subword_prefix": "##", "end_of_word_suffix": "</w>", "fuse_unk": fuse,
		"byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges}
	doc["pre_tokenizer"] = splitPre("Regex", `\s+`, "Removed", false)
	doc["decoder"] = nil
	doc["post_processor"] = nil
	setAdded(doc, map[string]any{"content": "[UNK]", "special": true})
}

func asciiWords(r *rand.Rand) string {
	words := []string{"the", "dog", "dogs", "ing", "thing", "hello", "hell", "q", "x", "THE", "é", "the1", "a-b", "  ", "\t"}
	var sb strings.Builder
	for i := 0; i < 1+r.IntN(8); i++ {
		sb.WriteString(words[r.IntN(len(words))])
		if r.IntN(4) > 0 {
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}

const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

func variants() []variant {
	rt := func(withSpecial bool, maxFrags int) func(*rand.Rand) string {
		return func(r *rand.Rand) string { return randomText(r, maxFrags, withSpecial) }
	}
	var vs []variant
	vs = append(vs,
		variant{name: "tiny", edit: func(map[string]any) {}, texts: rt(true, 14), nTexts: 400},
		variant{name: "add_prefix_space", edit: func(d map[string]any) {
			d["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true
		}, texts: rt(true, 10), nTexts: 150},
		variant{name: "split-gpt2-tuple-merges", edit: func(d map[string]any) {
			d["pre_tokenizer"] = sequencePre(splitPre("Regex", GPT2Pattern, "Isolated", false), byteLevelPre(false))
			var pairs [][]string
			for _, m := range model(d)["merges"].([]any) {
				a, b, _ := strings.Cut(m.(string), " ")
				pairs = append(pairs, []string{a, b})
			}
			model(d)["merges"] = pairs
		}, texts: rt(true, 10), nTexts: 150},
		variant{name: "split-llama3", edit: func(d map[string]any) {
			d["pre_tokenizer"] = sequencePre(splitPre("Regex", llama3Pattern, "Isolated", false), byteLevelPre(false))
		}, texts: rt(true, 10), nTexts: 200},
		variant{name: "nfc", edit: func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "NFC"}
			setAdded(d, append(defaultAdded(), map[string]any{"content": "e\u0301t\u00e9", "normalized": true})...)
		}, texts: func(r *rand.Rand) string {
			marks := []string{"\u0301", "\u0300", "\u0323", "\u0308", "\u030a", "\u0327", "\u0345", "\u1161", "\u11a8", "\u093c"}
			bases := []string{"e", "a", "A", "o", "u", "n", "c", "\u03b1", "\u0391", "\u1100", "\uac00", "\u0915", "\u212b", "\u0958", "\u0344", "x", " ", "\u00e9", "ét"}
			var sb strings.Builder
			for i := 0; i < 1+r.IntN(10); i++ {
				if r.IntN(3) == 0 {
					sb.WriteString(randomText(r, 2, true))
					continue
				}
				sb.WriteString(bases[r.IntN(len(bases))])
				for k := r.IntN(4); k > 0; k-- {
					sb.WriteString(marks[r.IntN(len(marks))])
				}
			}
			return sb.String()
		}, nTexts: 300, noPre: true},
		variant{name: "ignore_merges", edit: func(d map[string]any) {
			model(d)["ignore_merges"] = true
		}, texts: rt(false, 10), nTexts: 100},
		variant{name: "added-flags-template", edit: func(d map[string]any) {
			ids := setAdded(d, append(defaultAdded(),
				map[string]any{"content": "<mask>", "special": true, "lstrip": true, "rstrip": true},
				map[string]any{"content": "the", "single_word": true},
				map[string]any{"content": "</s>", "special": true, "rstrip": true},
				map[string]any{"content": "中文", "normalized": true, "lstrip": true},
				map[string]any{"content": "<|", "single_word": true, "special": true},
			)...)
			d["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0}},
					map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
					map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
				"pair": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
					map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
				"special_tokens": map[string]any{
					"<|endoftext|>": map[string]any{"id": "<|endoftext|>", "ids": []int{0}, "tokens": []string{"<|endoftext|>"}},
					"</s>":          map[string]any{"id": "</s>", "ids": []int{ids["</s>"]}, "tokens": []string{"</s>"}},
				}}
		}, texts: func(r *rand.Rand) string {
			extra := []string{"<mask>", " <mask> ", "the", "them", " the ", "</s>", "</s>  x", "中文", " 中文", "<|", "<|endoftext|>"}
			var sb strings.Builder
			for i := 0; i < 1+r.IntN(6); i++ {
				if r.IntN(2) == 0 {
					sb.WriteString(extra[r.IntN(len(extra))])
				} else {
					sb.WriteString(randomText(r, 3, true))
				}
			}
			return sb.String()
		}, nTexts: 200, noPre: true},
		variant{name: "bytelevel-then-split-mapped", edit: func(d map[string]any) {
			d["pre_tokenizer"] = sequencePre(byteLevelPre(true), splitPre("String", "Ġ", "MergedWithNext", false))
		}, texts: rt(false, 10), nTexts: 100},
		variant{name: "empty-matches", edit: func(d map[string]any) {
			d["pre_tokenizer"] = sequencePre(splitPre("Regex", `x*|\p{N}`, "Isolated", false), byteLevelPre(false))
		}, texts: rt(false, 8), nTexts: 100, extraTx: []string{"xab", "ab", "axxb1x", "x", "1x2", "xx11"}},
		variant{name: "no-pretokenizer", edit: func(d map[string]any) {
			d["pre_tokenizer"] = nil
		}, texts: rt(false, 6), nTexts: 100},
		variant{name: "char-bpe-unk", edit: func(d map[string]any) { charVocab(d, false) }, texts: asciiWords, nTexts: 100},
		variant{name: "char-bpe-fuse-unk", edit: func(d map[string]any) { charVocab(d, true) }, texts: asciiWords, nTexts: 100},
		variant{name: "byte-fallback", edit: func(d map[string]any) {
			vocab := model(d)["vocab"].(map[string]any)
			for b := 0; b < 256; b++ {
				if b%3 != 0 { // leave some bytes without a fallback token
					vocab[fmt.Sprintf("<0x%02X>", b)] = len(vocab)
				}
			}
			model(d)["byte_fallback"] = true
			model(d)["unk_token"] = "<|padding|>"
			d["pre_tokenizer"] = nil
			setAdded(d, defaultAdded()...)
		}, texts: rt(false, 6), nTexts: 100},
	)
	for _, beh := range []string{"Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"} {
		for _, inv := range []bool{false, true} {
			beh, inv := beh, inv
			vs = append(vs, variant{name: fmt.Sprintf("split-%s-invert=%v", beh, inv), edit: func(d map[string]any) {
				d["pre_tokenizer"] = sequencePre(splitPre("Regex", `[\s,.]+|\p{N}`, beh, inv), byteLevelPre(true))
			}, texts: rt(false, 8), nTexts: 40})
		}
	}
	return vs
}

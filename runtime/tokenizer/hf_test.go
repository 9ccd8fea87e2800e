package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The HF comparison runs testdata/hfcheck/encode.js with Hugging Face's
// tokenizers Node binding. It is found in testdata/hfcheck/node_modules, or
// in $SSMC_HF_TOKENIZERS_DIR/node_modules; install it with
//
//	cd runtime/tokenizer/testdata/hfcheck && npm install
const hfInstallHint = "install it with: cd runtime/tokenizer/testdata/hfcheck && npm install (or set SSMC_HF_TOKENIZERS_DIR to a folder whose node_modules has tokenizers)"

type hfJob struct {
	Tokenizer   string   `json:"tokenizer"`
	Texts       []string `json:"texts"`
	Pretokenize []string `json:"pretokenize"`
	Normalize   []string `json:"normalize"`
	Decode      [][]int  `json:"decode"`
}

type hfJobOut struct {
	IDs         [][]int    `json:"ids"`
	Pieces      [][]string `json:"pieces"`
	Normalized  []string   `json:"normalized"`
	Decoded     []string   `json:"decoded"`
	DecodedSkip []string   `json:"decoded_skip"`
	VocabSize   int        `json:"vocab_size"`
}

// runHF sends jobs to the Node reference, or skips the test.
func runHF(t *testing.T, jobs []hfJob) []hfJobOut {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("HF comparison skipped: node is not installed; " + hfInstallHint)
	}
	script, err := filepath.Abs("testdata/hfcheck/encode.js")
	if err != nil {
		t.Fatal(err)
	}
	modDir := filepath.Join("testdata", "hfcheck")
	if d := os.Getenv("SSMC_HF_TOKENIZERS_DIR"); d != "" {
		modDir = d
	}
	nodeModules, err := filepath.Abs(filepath.Join(modDir, "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nodeModules, "tokenizers", "package.json")); err != nil {
		t.Skipf("HF comparison skipped: no tokenizers module in %s; %s", nodeModules, hfInstallHint)
	}
	req, err := json.Marshal(map[string]any{"jobs": jobs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var reply struct {
		Version string     `json:"version"`
		Jobs    []hfJobOut `json:"jobs"`
	}
	if err := json.Unmarshal(out, &reply); err != nil {
		t.Fatalf("reply of encode.js: %v", err)
	}
	if len(reply.Jobs) != len(jobs) {
		t.Fatalf("encode.js answered %d jobs, want %d", len(reply.Jobs), len(jobs))
	}
	t.Logf("reference: Hugging Face tokenizers %s (Node binding)", reply.Version)
	return reply.Jobs
}

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

// TestHFComparison compares Encode, PreTokenize, Decode and VocabSize with
// Hugging Face tokenizers on seeded random texts for the tiny fixture and
// variants of it exercising the supported options.
func TestHFComparison(t *testing.T) {
	dir := t.TempDir()
	vs := variants()
	var jobs []hfJob
	var toks []*Tokenizer
	for vi, v := range vs {
		doc := loadDoc(t)
		v.edit(doc)
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%02d-%s.json", vi, v.name))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tk, err := Parse(data)
		if err != nil {
			t.Fatalf("variant %s: %v", v.name, err)
		}
		toks = append(toks, tk)
		r := rand.New(rand.NewPCG(2024, uint64(vi)))
		job := hfJob{Tokenizer: path, Texts: append([]string(nil), v.extraTx...)}
		for i := 0; i < v.nTexts; i++ {
			job.Texts = append(job.Texts, v.texts(r))
		}
		if !v.noPre {
			for _, s := range job.Texts {
				if !strings.Contains(s, "<|endoftext|>") && !strings.Contains(s, "<|padding|>") && !strings.Contains(s, "    ") && !strings.Contains(s, "[UNK]") {
					job.Pretokenize = append(job.Pretokenize, s)
				}
			}
		}
		if tk.norm != nil {
			job.Normalize = job.Texts
		}
		for i := 0; i < 60; i++ {
			ids := make([]int, 1+r.IntN(10))
			for k := range ids {
				ids[k] = r.IntN(tk.VocabSize())
			}
			job.Decode = append(job.Decode, ids)
		}
		jobs = append(jobs, job)
	}
	outs := runHF(t, jobs)
	nTexts, nPre, nDec, nNorm := 0, 0, 0, 0
	for vi, v := range vs {
		tk, job, out := toks[vi], jobs[vi], outs[vi]
		fails := 0
		fail := func(format string, args ...any) {
			fails++
			if fails <= 10 {
				t.Errorf("variant %s: "+format, append([]any{v.name}, args...)...)
			}
		}
		if out.VocabSize != tk.VocabSize() {
			fail("VocabSize = %d, HF %d", tk.VocabSize(), out.VocabSize)
		}
		for i, s := range job.Texts {
			nTexts++
			if got := tk.Encode(s); !slices.Equal(got, out.IDs[i]) {
				fail("Encode(%q)\n got %v\n  HF %v\n pieces %q", s, got, out.IDs[i], tk.PreTokenize(s))
			}
		}
		for i, s := range job.Pretokenize {
			nPre++
			var got []string
			for _, p := range tk.pieces(s, false) {
				if p.mapped {
					got = append(got, byteLevelString(p.s))
				} else {
					got = append(got, p.s)
				}
			}
			if !slices.Equal(got, out.Pieces[i]) {
				fail("pre-tokenize(%q)\n got %q\n  HF %q", s, got, out.Pieces[i])
			}
		}
		for i, s := range job.Normalize {
			nNorm++
			if got := tk.norm.normalize(s); got != out.Normalized[i] {
				fail("normalize(%+q) = %+q, HF %+q", s, got, out.Normalized[i])
			}
		}
		for i, ids := range job.Decode {
			nDec++
			got, err := tk.Decode(ids)
			if err != nil || got != out.Decoded[i] {
				fail("Decode(%v) = %q, %v; HF %q", ids, got, err, out.Decoded[i])
			}
			got, err = tk.DecodeWith(ids, DecodeOptions{SkipSpecialTokens: true})
			if err != nil || got != out.DecodedSkip[i] {
				fail("Decode(%v, skip special) = %q, %v; HF %q", ids, got, err, out.DecodedSkip[i])
			}
		}
		if fails > 10 {
			t.Errorf("variant %s: %d more differences", v.name, fails-10)
		}
	}
	t.Logf("compared with HF: %d variants, %d encoded texts, %d pre-tokenized texts, %d NFC-normalized texts, %d decoded id lists (each with and without skipping specials)", len(vs), nTexts, nPre, nNorm, nDec)
}

// assigned reports whether r has a general category in Go's Unicode tables
// (anything but Cn). Code points assigned only in later Unicode versions
// than Go's are classified differently by Hugging Face's newer tables.
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// TestHFAllCodePoints pre-tokenizes, with both implementations, a short
// text built around each code point of the BMP and a sample of the other
// planes, which checks the \p{L}, \p{N} and \s classification of every
// one of them against Hugging Face.
func TestHFAllCodePoints(t *testing.T) {
	var texts []string
	var rs []rune
	for r := rune(0); r <= 0x10FFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF || r == ' ' || !assigned(r) || r > 0xFFFF && r%5 != 0 {
			continue
		}
		c := string(r)
		texts = append(texts, "a"+c+"b "+c+c+" 1"+c+"'"+c+" "+c+"x  "+c+"\n"+c)
		rs = append(rs, r)
	}
	path, err := filepath.Abs("testdata/tiny-bpe.json")
	if err != nil {
		t.Fatal(err)
	}
	// NFC of each code point in contexts where it can decompose, be
	// reordered or compose.
	nfcPath := filepath.Join(t.TempDir(), "nfc.json")
	d := loadDoc(t)
	d["normalizer"] = map[string]any{"type": "NFC"}
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nfcPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var normTexts []string
	for _, r := range rs {
		c := string(r)
		normTexts = append(normTexts, c+"|a"+c+"|"+c+"\u0301|"+c+"\u0323\u0301|\u1100"+c+"|\uac00"+c+"|"+c+"\u11a8|e\u0301"+c+"\u0300")
	}
	outs := runHF(t, []hfJob{{Tokenizer: path, Pretokenize: texts}, {Tokenizer: nfcPath, Normalize: normTexts}})
	out := outs[0]
	tk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	nfcBad := 0
	for i, s := range normTexts {
		if got := (nfc{}).normalize(s); got != outs[1].Normalized[i] {
			nfcBad++
			if nfcBad <= 20 {
				t.Errorf("U+%04X: NFC(%+q) = %+q, HF %+q", rs[i], s, got, outs[1].Normalized[i])
			}
		}
	}
	t.Logf("compared NFC of %d code points in 8 contexts with HF, %d differ", len(normTexts), nfcBad)
	bad := 0
	for i, s := range texts {
		var got []string
		for _, p := range tk.pieces(s, false) {
			got = append(got, byteLevelString(p.s))
		}
		if !slices.Equal(got, out.Pieces[i]) {
			bad++
			if bad <= 20 {
				t.Errorf("U+%04X: pre-tokenize(%q)\n got %q\n  HF %q", rs[i], s, got, out.Pieces[i])
			}
		}
	}
	t.Logf("compared the pre-tokenization of %d code points with HF, %d differ", len(texts), bad)
}

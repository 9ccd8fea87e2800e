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

package tokenizer

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncodeDecode checks decode(encode(s)) == s for valid UTF-8 on the
// tiny fixture, whose vocabulary has all 256 byte tokens, and that the
// pre-tokenizer pieces cover the input.
func FuzzEncodeDecode(f *testing.F) {
	tk := loadTiny(f)
	for _, s := range []string{"", "I'm they'll", "  multiple   spaces", "tab\tand\nnewline\n\n", "12345 3.14",
		"naïve café Ελληνικά 中文 🙂", "a<|endoftext|>b", "        x", "\xff\xfe", "\u00a0\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tk.Encode(s)
		got, err := tk.Decode(ids)
		if err != nil {
			t.Fatalf("Decode(Encode(%q)): %v", s, err)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Decode gave invalid UTF-8 for %q", s)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		if joined := strings.Join(tk.PreTokenize(s), ""); joined != s {
			t.Fatalf("pieces of %q join to %q", s, joined)
		}
	})
}

// FuzzParse checks that Parse never panics and that a parsed tokenizer
// encodes and decodes without panicking.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(tinyPathInternal); err == nil {
		f.Add(data, "Hello, world! 123")
	}
	f.Add([]byte(doc(nil)), "abab")
	f.Add([]byte(doc(map[string]string{"pre_tokenizer": `{"type":"Split","pattern":{"Regex":"x*|\\s+(?!\\S)|\\s+"},"behavior":"MergedWithNext","invert":true}`})), "a xx  b")
	f.Add([]byte(doc(map[string]string{"model": `{"type":"BPE","unk_token":"<s>","byte_fallback":true,"fuse_unk":true,"continuing_subword_prefix":"##","vocab":{"<s>":0,"a":1,"##b":2,"ab":3},"merges":["a ##b"]}`})), "abc")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{},"merges":[]}}`), "x")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tk, err := Parse(data)
		if err != nil {
			return
		}
		ids := tk.Encode(text)
		if _, err := tk.Decode(ids); err != nil {
			t.Fatalf("Decode(Encode(%q)): %v", text, err)
		}
		probe := []int{0, 1, 2, tk.VocabSize() - 1, tk.VocabSize(), -1}
		for _, id := range probe {
			_, ok := tk.IDToToken(id)
			_, err := tk.Decode([]int{id})
			if ok != (err == nil) {
				t.Fatalf("IDToToken(%d) ok=%v but Decode error %v", id, ok, err)
			}
		}
	})
}

// FuzzSplitPattern checks that any accepted pattern terminates and yields
// ordered, non-overlapping matches inside the text.
func FuzzSplitPattern(f *testing.F) {
	f.Add(GPT2Pattern, "I'm  here 123!")
	f.Add(llama3Pattern, "Hello\n\n  World 12345")
	f.Add(`x*`, "axxb")
	f.Add(`\s+(?!\S)|[a-z]+|\s+`, " ab  c ")
	f.Fuzz(func(t *testing.T, pat, text string) {
		m, err := compilePattern(pat)
		if err != nil {
			return
		}
		prev := 0
		for _, sp := range findAll(m, text) {
			if sp.start < prev || sp.end < sp.start || sp.end > len(text) {
				t.Fatalf("pattern %q on %q: bad match %v after %d", pat, text, sp, prev)
			}
			prev = sp.end
		}
	})
}

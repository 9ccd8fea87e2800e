package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const tinyPathInternal = "testdata/tiny-bpe.json"

func loadTiny(t testing.TB) *Tokenizer {
	t.Helper()
	tk, err := Load(tinyPathInternal)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestTinyPreTokenize checks the pieces the model receives for tricky
// strings; expected pieces are written out by hand from the GPT-2 pattern
// and the fixture's added tokens ("<|endoftext|>", "<|padding|>", and runs
// of 4 and 8 spaces).
func TestTinyPreTokenize(t *testing.T) {
	tk := loadTiny(t)
	cases := []struct {
		in   string
		want []string
	}{
		{"I'm they'll", []string{"I", "'m", " they", "'ll"}},
		{"  multiple   spaces", []string{" ", " multiple", "  ", " spaces"}},
		{"tab\tand\nnewline\n\n", []string{"tab", "\t", "and", "\n", "newline", "\n\n"}},
		{"12345 3.14", []string{"12345", " 3", ".", "14"}},
		{"naïve café Ελληνικά 中文 🙂", []string{"naïve", " café", " Ελληνικά", " 中文", " 🙂"}},
		{"a<|endoftext|>b", []string{"a", "<|endoftext|>", "b"}},
		{"<|endoftext|><|padding|>", []string{"<|endoftext|>", "<|padding|>"}},
		{"x <|endoftext|> y", []string{"x", " ", "<|endoftext|>", " y"}},
		{"<|endoftext", []string{"<|", "endoftext"}},
		// Added whitespace tokens are taken out before pre-tokenization,
		// longest first.
		{"    x", []string{"    ", "x"}},
		{"     x", []string{"    ", " x"}},
		{"a         b", []string{"a", "        ", " b"}},
		{"", []string{}},
	}
	for _, c := range cases {
		if got := tk.PreTokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("PreTokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTinyVocab(t *testing.T) {
	tk := loadTiny(t)
	if got := tk.VocabSize(); got != 760 { // 2 specials + 256 bytes + 500 merges + 2 space tokens
		t.Errorf("VocabSize = %d, want 760", got)
	}
	cases := []struct {
		tok string
		id  int
	}{
		{"<|endoftext|>", 0}, {"<|padding|>", 1}, {"Ā", 2}, {"!", 35}, {"Ġ", 34}, {"Ġthe", 278}, {"    ", 758}, {"        ", 759},
	}
	for _, c := range cases {
		id, ok := tk.TokenToID(c.tok)
		if !ok || id != c.id {
			t.Errorf("TokenToID(%q) = %d, %v; want %d", c.tok, id, ok, c.id)
		}
		tok, ok := tk.IDToToken(c.id)
		if !ok || tok != c.tok {
			t.Errorf("IDToToken(%d) = %q, %v; want %q", c.id, tok, ok, c.tok)
		}
	}
	if _, ok := tk.TokenToID("no such token"); ok {
		t.Error("TokenToID of a missing token succeeded")
	}
	for _, id := range []int{-1, 760, 1 << 40} {
		if _, ok := tk.IDToToken(id); ok {
			t.Errorf("IDToToken(%d) succeeded", id)
		}
	}
	bos, okB := tk.BOS()
	eos, okE := tk.EOS()
	if !okB || !okE || bos != 0 || eos != 0 {
		t.Errorf("BOS, EOS = %d %v, %d %v; want 0, 0 (<|endoftext|>)", bos, okB, eos, okE)
	}
}

func TestTinyEncodeSpecial(t *testing.T) {
	tk := loadTiny(t)
	id := func(s string) int {
		v, ok := tk.TokenToID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return v
	}
	cases := []struct {
		in   string
		opts EncodeOptions
		want []int
	}{
		{"a<|endoftext|>b", EncodeOptions{}, []int{id("a"), 0, id("b")}},
		{"<|padding|>", EncodeOptions{}, []int{1}},
		{" the", EncodeOptions{}, []int{id("Ġthe")}},
		{"        ", EncodeOptions{}, []int{759}},
		// As text, "<|endoftext|>" goes through BPE like any other string.
		{"<|endoftext|>", EncodeOptions{SpecialAsText: true}, tk.model.tokenize(nil, "<|", true)},
		{"", EncodeOptions{}, []int{}},
	}
	for _, c := range cases {
		got := tk.EncodeWith(c.in, c.opts)
		if c.opts.SpecialAsText {
			// Compare only the start: the rest depends on the merges.
			if slices.Contains(got, 0) || !slices.Equal(got[:len(c.want)], c.want) {
				t.Errorf("EncodeWith(%q, %+v) = %v, want a plain-text encoding starting %v", c.in, c.opts, got, c.want)
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("EncodeWith(%q, %+v) = %v, want %v", c.in, c.opts, got, c.want)
		}
	}
}

func TestTinyDecode(t *testing.T) {
	tk := loadTiny(t)
	the, _ := tk.TokenToID("Ġthe")
	e4, _ := tk.TokenToID("ä") // byte 0xE4, a lead byte
	b8, _ := tk.TokenToID("¸") // byte 0xB8
	cases := []struct {
		ids        []int
		want, skip string
	}{
		{[]int{0, the, 1}, "<|endoftext|> the<|padding|>", " the"},
		{[]int{758, the}, "     the", "     the"},
		{[]int{e4, b8}, "\uFFFD", "\uFFFD"},                       // truncated 中 (E4 B8 AD)
		{[]int{e4, 0, b8}, "\uFFFD<|endoftext|>\uFFFD", "\uFFFD"}, // special token between the bytes
		{[]int{b8, b8}, "\uFFFD\uFFFD", "\uFFFD\uFFFD"},
		{nil, "", ""},
	}
	for _, c := range cases {
		got, err := tk.Decode(c.ids)
		if err != nil || got != c.want {
			t.Errorf("Decode(%v) = %q, %v; want %q", c.ids, got, err, c.want)
		}
		got, err = tk.DecodeWith(c.ids, DecodeOptions{SkipSpecialTokens: true})
		if err != nil || got != c.skip {
			t.Errorf("Decode(%v, skip) = %q, %v; want %q", c.ids, got, err, c.skip)
		}
	}
	for _, bad := range [][]int{{760}, {-1}, {the, 100000}} {
		if _, err := tk.Decode(bad); err == nil || !strings.Contains(err.Error(), "unknown token id") {
			t.Errorf("Decode(%v) error = %v, want unknown token id", bad, err)
		}
	}
}

// TestTinyRoundTrip checks decode(encode(s)) == s on the brief's strings and
// on random texts.
func TestTinyRoundTrip(t *testing.T) {
	tk := loadTiny(t)
	texts := []string{
		"I'm they'll", "  multiple   spaces", "tab\tand\nnewline\n\n", "12345 3.14",
		"naïve café Ελληνικά 中文 🙂", "a<|endoftext|>b", "\x00\x01\x7f", "\u00a0\u3000\u2028",
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 500; i++ {
		texts = append(texts, randomText(r, 20, true))
	}
	for _, s := range texts {
		ids := tk.Encode(s)
		got, err := tk.Decode(ids)
		if err != nil || got != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
	}
}

// TestInvalidUTF8Input checks that invalid UTF-8 input is encoded byte by
// byte and decodes with U+FFFD replacements.
func TestInvalidUTF8Input(t *testing.T) {
	tk := loadTiny(t)
	s := "ab\xffc\xe4\xb8"
	ids := tk.Encode(s)
	got, err := tk.Decode(ids)
	if err != nil || got != "ab\uFFFDc\uFFFD" {
		t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
	}
	if !utf8.ValidString(got) {
		t.Error("decoded text is not valid UTF-8")
	}
}

// TestConcurrentEncode runs Encode from several goroutines (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tk := loadTiny(t)
	want := tk.Encode("the quick brown fox")
	done := make(chan []int)
	for g := 0; g < 4; g++ {
		go func() {
			var last []int
			for i := 0; i < 200; i++ {
				last = tk.Encode("the quick brown fox")
				tk.Encode(strings.Repeat("z", i))
			}
			done <- last
		}()
	}
	for g := 0; g < 4; g++ {
		if got := <-done; !slices.Equal(got, want) {
			t.Errorf("goroutine result %v, want %v", got, want)
		}
	}
}

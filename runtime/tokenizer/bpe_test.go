package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// handTokenizer builds a tokenizer.json with the given vocabulary (ids in
// order), merges, extra model fields and pre-tokenizer, no decoder.
func handTokenizer(t *testing.T, vocab []string, merges []string, modelExtra, pre string) *Tokenizer {
	t.Helper()
	var v []string
	for i, tok := range vocab {
		q, _ := json.Marshal(tok)
		v = append(v, fmt.Sprintf("%s:%d", q, i))
	}
	if merges == nil {
		merges = []string{}
	}
	m, _ := json.Marshal(merges)
	if pre == "" {
		pre = "null"
	}
	doc := fmt.Sprintf(`{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":%s,
		"post_processor":null,"decoder":null,
		"model":{"type":"BPE","vocab":{%s},"merges":%s%s}}`, pre, strings.Join(v, ","), m, modelExtra)
	tk, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return tk
}

func tokens(t *testing.T, tk *Tokenizer, ids []int) []string {
	var out []string
	for _, id := range ids {
		s, ok := tk.IDToToken(id)
		if !ok {
			t.Fatalf("id %d has no token", id)
		}
		out = append(out, s)
	}
	return out
}

// TestBPEHand checks BPE results traced by hand on small vocabularies.
func TestBPEHand(t *testing.T) {
	cases := []struct {
		name       string
		vocab      []string
		merges     []string
		modelExtra string
		in         string
		want       []string
	}{
		// (b,c) has the lower rank, so it merges first and (a,bc) is no merge.
		{"rank order", []string{"a", "b", "c", "ab", "bc", "abc"}, []string{"b c", "a b", "ab c"}, "", "abc", []string{"a", "bc"}},
		{"rank order 2", []string{"a", "b", "c", "ab", "bc", "abc"}, []string{"a b", "b c", "ab c"}, "", "abc", []string{"abc"}},
		// Equal ranks merge leftmost first: aaaa -> aa aa, aaa -> aa a.
		{"leftmost", []string{"a", "aa"}, []string{"a a"}, "", "aaaa", []string{"aa", "aa"}},
		{"leftmost odd", []string{"a", "aa"}, []string{"a a"}, "", "aaa", []string{"aa", "a"}},
		// A merge can create a pair with a lower rank than pending ones.
		{"new pair", []string{"a", "b", "c", "d", "cd", "bcd", "ab"}, []string{"b cd", "c d", "a b"}, "", "abcd", []string{"a", "bcd"}},
		{"unknown dropped", []string{"a", "b"}, nil, "", "axb", []string{"a", "b"}},
		{"unk", []string{"<unk>", "a", "b"}, nil, `,"unk_token":"<unk>"`, "axyb", []string{"a", "<unk>", "<unk>", "b"}},
		{"fuse unk", []string{"<unk>", "a", "b"}, nil, `,"unk_token":"<unk>","fuse_unk":true`, "axyb", []string{"a", "<unk>", "b"}},
		{"byte fallback", []string{"<unk>", "a", "<0x78>", "<0xC3>", "<0xA9>"}, nil, `,"unk_token":"<unk>","byte_fallback":true`,
			"axéy", []string{"a", "<0x78>", "<0xC3>", "<0xA9>", "<unk>"}},
		{"prefix suffix", []string{"a", "##b", "##c</w>", "ab", "c</w>"}, []string{"a ##b"},
			`,"continuing_subword_prefix":"##","end_of_word_suffix":"</w>"`, "abc", []string{"ab", "##c</w>"}},
		{"single char with suffix", []string{"a", "c</w>"}, nil, `,"end_of_word_suffix":"</w>"`, "c", []string{"c</w>"}},
		{"merges", []string{"a", "b", "c", "ab", "abc"}, []string{"a b"}, "", "abc", []string{"ab", "c"}},
		{"ignore_merges", []string{"a", "b", "c", "ab", "abc"}, []string{"a b"}, `,"ignore_merges":true`, "abc", []string{"abc"}},
	}
	for _, c := range cases {
		tk := handTokenizer(t, c.vocab, c.merges, c.modelExtra, "")
		got := tokens(t, tk, tk.Encode(c.in))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestDecodeNoDecoder(t *testing.T) {
	tk := handTokenizer(t, []string{"a", "b", "ab"}, []string{"a b"}, "", "")
	got, err := tk.Decode([]int{2, 0, 1})
	if err != nil || got != "ab a b" {
		t.Errorf("Decode = %q, %v; want tokens joined by spaces", got, err)
	}
	if _, err := tk.Decode([]int{3}); err == nil {
		t.Error("Decode of an unknown id succeeded")
	}
	if _, err := tk.Decode([]int{-1}); err == nil {
		t.Error("Decode of a negative id succeeded")
	}
}

// TestBPECache checks that cached and uncached results agree, including for
// words too long to cache.
func TestBPECache(t *testing.T) {
	tk, err := Load(tinyPathInternal)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("the quick brown fox ", 30) + strings.Repeat("x", 300)
	first := tk.Encode(long)
	second := tk.Encode(long)
	if !slices.Equal(first, second) {
		t.Fatal("second encoding differs from the first")
	}
	fresh, _ := Load(tinyPathInternal)
	if !slices.Equal(fresh.Encode(long), first) {
		t.Fatal("fresh tokenizer disagrees")
	}
}

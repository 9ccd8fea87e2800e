package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// tinyWithAdded returns the tiny fixture with extra added tokens appended
// (ids after the existing ones).
func tinyWithAdded(t *testing.T, extra ...map[string]any) *Tokenizer {
	t.Helper()
	data, err := os.ReadFile(tinyPathInternal)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	list := doc["added_tokens"].([]any)
	vocab := doc["model"].(map[string]any)["vocab"].(map[string]any)
	next := 760
	for _, e := range extra {
		id, ok := vocab[e["content"].(string)]
		if !ok {
			id = next
			next++
		}
		full := map[string]any{"id": id, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false}
		for k, v := range e {
			full[k] = v
		}
		list = append(list, full)
	}
	doc["added_tokens"] = list
	out, _ := json.Marshal(doc)
	tk, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestAddedTokenFlags checks lstrip, rstrip, single_word and longest match
// on pieces worked out by hand from Hugging Face's rules.
func TestAddedTokenFlags(t *testing.T) {
	tk := tinyWithAdded(t,
		map[string]any{"content": "<mask>", "lstrip": true, "rstrip": true, "special": true},
		map[string]any{"content": "ab", "single_word": true}, // also a vocabulary token
		map[string]any{"content": "abc"},
		map[string]any{"content": "[X]", "rstrip": true, "normalized": true},
		map[string]any{"content": "zq", "single_word": true},
	)
	mask, _ := tk.TokenToID("<mask>")
	ab, _ := tk.TokenToID("ab")
	x, _ := tk.TokenToID("[X]")
	if mask != 760 || x != 762 {
		t.Fatalf("ids %d %d, want 760 762", mask, x)
	}
	cases := []struct {
		in   string
		want []string
	}{
		{"x <mask> y", []string{"x", " <mask> ", "y"}},
		{"x  <mask>y", []string{"x", "  <mask>", "y"}},
		{"x\u3000<mask>\ty", []string{"x", "\u3000<mask>\t", "y"}},
		{"<mask><mask>", []string{"<mask>", "<mask>"}},
		// lstrip of the second match cannot take the space the first
		// match's rstrip already took.
		{"<mask> <mask>", []string{"<mask> ", "<mask>"}},
		// "ab" only as a single word; "abc" is longer and wins at 3; the
		// rejected "ab" at 7 stays text.
		{"ab abc abd", []string{"ab", " ", "abc", " abd"}},
		{"-ab-", []string{"-", "ab", "-"}},
		{"éab", []string{"éab"}},
		{"_ab", []string{"_", "ab"}}, // pre-tokenizer pieces, not the added token
		{"ab1", []string{"ab", "1"}},
		{"ab", []string{"ab"}},
		{"[X]   z", []string{"[X]   ", "z"}},
	}
	for _, c := range cases {
		if got := tk.PreTokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("PreTokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	zq, _ := tk.TokenToID("zq")
	for s, want := range map[string]bool{"zq": true, "-zq-": true, "zq!": true, " zq ": true,
		"_zq": false, "zq1": false, "ézq": false, "zq́": false, "azq": false} {
		if got := slices.Contains(tk.Encode(s), zq); got != want {
			t.Errorf("Encode(%q) contains single-word token: %v, want %v", s, got, want)
		}
	}
	if got := tk.Encode("x <mask> y"); !slices.Contains(got, mask) {
		t.Errorf("Encode has no <mask>: %v", got)
	}
	if got, _ := tk.Decode([]int{mask, ab, x}); got != "<mask>ab[X]" {
		t.Errorf("Decode = %q", got)
	}
}

func TestIsWordChar(t *testing.T) {
	yes := []rune{'a', 'Z', '0', '_', 'é', '中', 'Ⅻ', '\u0301', '\u200d', '٣', 'ʰ', 'Ⓐ'}
	no := []rune{' ', '-', '!', '\'', '½', '🙂', '\u00a0', '\u200b'}
	for _, r := range yes {
		if !isWordChar(r) {
			t.Errorf("isWordChar(%U) = false", r)
		}
	}
	for _, r := range no {
		if isWordChar(r) {
			t.Errorf("isWordChar(%U) = true", r)
		}
	}
}

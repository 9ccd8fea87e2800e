package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestCompilePatternErrors(t *testing.T) {
	bad := []struct{ pat, msg string }{
		{`a(?=b)`, "lookaround"},
		{`(?<!a)b`, "lookaround"},
		{`(?>ab)`, "atomic"},
		{`^a`, "anchor"},
		{`a$`, "anchor"},
		{`\bword`, `\b`},
		{`\w+`, `\w`},
		{`\d+`, `\d`},
		{`(a)\1`, "backreference"},
		{`[[:alpha:]]`, "nested"},
		{`[a-z&&[^aeiou]]`, "intersection"},
		{`[\S]`, `\S inside`},
		{`(?i)a|\s+(?!\S)`, "inline flag"},
		{`(ab`, "unbalanced"},
		{`ab)`, "unbalanced"},
		{`\p{NoSuchClass}`, "invalid"},
		{`a++`, "invalid"},
	}
	for _, c := range bad {
		_, err := compilePattern(c.pat)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("compilePattern(%q) error = %v, want one mentioning %q", c.pat, err, c.msg)
		}
	}
	good := []string{GPT2Pattern, `\s+`, `[^\s\p{L}]+`, `(?i:'s|'t)|\p{N}{1,3}`, `\u00e9+`, llama3Pattern, `x*`, `[\]a]`}
	for _, p := range good {
		if _, err := compilePattern(p); err != nil {
			t.Errorf("compilePattern(%q): %v", p, err)
		}
	}
}

// TestRegexMatches checks match lists worked out by hand, including the
// empty-match rule of the Oniguruma binding and \s as White_Space.
func TestRegexMatches(t *testing.T) {
	cases := []struct {
		pat, in string
		want    []string
	}{
		{`\s+`, "a \u00a0b\u3000", []string{" \u00a0", "\u3000"}},
		{`[^\s]+`, "ab\u2003cd", []string{"ab", "cd"}},
		{`\s+(?!\S)|\s+`, "a   b  ", []string{"  ", " ", "  "}},
		{`\p{N}{1,3}`, "12345", []string{"123", "45"}},
		{`(?i:'s)|x`, "A'S x'sX", []string{"'S", "x", "'s"}}, // X is outside the (?i) group
		// x* matches empty at 0; after the non-empty "x" at 1 the empty
		// match at 2 is dropped; then empty matches at 3.
		{`x*`, "axb", []string{"", "x", ""}},
		{`\u00e9`, "café", []string{"é"}},
	}
	for _, c := range cases {
		m, err := compilePattern(c.pat)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		var got []string
		for _, sp := range findAll(m, c.in) {
			got = append(got, c.in[sp.start:sp.end])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("matches of %q in %q = %q, want %q", c.pat, c.in, got, c.want)
		}
	}
}

// TestSplitBehaviors checks each SplitDelimiterBehavior on "a, b,,c" split
// at "," (pieces worked out by hand from Hugging Face's definitions).
func TestSplitBehaviors(t *testing.T) {
	cases := []struct {
		beh    behavior
		invert bool
		want   []string
	}{
		{behRemoved, false, []string{"a", " b", "c"}},
		{behIsolated, false, []string{"a", ",", " b", ",", ",", "c"}},
		{behMergedWithPrevious, false, []string{"a,", " b,", ",", "c"}},
		{behMergedWithNext, false, []string{"a", ", b", ",", ",c"}},
		{behContiguous, false, []string{"a", ",", " b", ",,", "c"}},
		{behRemoved, true, []string{",", ",", ","}},
		{behMergedWithPrevious, true, []string{"a", ", b", ",", ",c"}},
	}
	in := "a, b,,c"
	for _, c := range cases {
		st := splitStep{m: literalMatcher{","}, behavior: c.beh, invert: c.invert}
		var got []string
		for _, p := range st.apply([]piece{{in, false}}, nil) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("behavior %d invert %v: %q, want %q", c.beh, c.invert, got, c.want)
		}
	}
}

// TestSplitMapped checks that a Split after ByteLevel works on the mapped
// text and cuts the raw bytes at the corresponding places.
func TestSplitMapped(t *testing.T) {
	st := splitStep{m: literalMatcher{"Ġ"}, behavior: behMergedWithNext}
	got := st.apply([]piece{{"中 a b", true}}, nil)
	want := []piece{{"中", true}, {" a", true}, {" b", true}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func splitGPT2(s string) []string {
	var out []string
	start := 0
	for _, e := range gpt2Split(s, nil) {
		out = append(out, s[start:e])
		start = e
	}
	return out
}

// TestGPT2Split checks pieces of the GPT-2 pattern worked out by hand from
// the regular expression.
func TestGPT2Split(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"I'm they'll", []string{"I", "'m", " they", "'ll"}},
		{"we've you're she'd it's can't", []string{"we", "'ve", " you", "'re", " she", "'d", " it", "'s", " can", "'t"}},
		{"STOP'S 'LL", []string{"STOP", "'", "S", " '", "LL"}}, // contractions are lower case only
		{"'''s", []string{"'''", "s"}},                         // "'" starts a punctuation run
		{"!'s", []string{"!'", "s"}},
		{"  multiple   spaces", []string{" ", " multiple", "  ", " spaces"}},
		{"tab\tand\nnewline\n\n", []string{"tab", "\t", "and", "\n", "newline", "\n\n"}},
		{"a  \n b", []string{"a", "  \n", " b"}},
		{"a \tb", []string{"a", " ", "\t", "b"}},
		{"x\n\ny", []string{"x", "\n", "\n", "y"}},
		{"end   ", []string{"end", "   "}},
		{"12345 3.14", []string{"12345", " 3", ".", "14"}},
		{"1,000", []string{"1", ",", "000"}},
		{"abc123def", []string{"abc", "123", "def"}},
		{"naïve café Ελληνικά 中文 🙂", []string{"naïve", " café", " Ελληνικά", " 中文", " 🙂"}},
		{"Hello,  world!", []string{"Hello", ",", " ", " world", "!"}},
		{"x\u00a0y", []string{"x", "\u00a0", "y"}},        // NBSP is \s but not the optional ' '
		{"x \u3000y", []string{"x", " ", "\u3000", "y"}},  // ideographic space
		{"e\u0301t\u00e9", []string{"e", "\u0301", "té"}}, // a combining mark is neither L nor N
		{"½²③ Ⅻ", []string{"½²③", " Ⅻ"}},                  // No and Nl are \p{N}
		{"٣٤٥ ١", []string{"٣٤٥", " ١"}},
		{"👍🏽!!", []string{"👍🏽!!"}},                 // So, Sk and Po are all "other"
		{"a\u200bb", []string{"a", "\u200b", "b"}}, // ZWSP is Cf, not White_Space
		{" ", []string{" "}},
		{" \n", []string{" \n"}},
		{"\u2028x", []string{"\u2028", "x"}},
		{"a\xffb", []string{"a", "\xff", "b"}}, // invalid byte: an "other" character
	}
	for _, c := range cases {
		if got := splitGPT2(c.in); !slices.Equal(got, c.want) {
			t.Errorf("gpt2Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		r    rune
		want charClass
	}{
		{'a', clsLetter}, {'Z', clsLetter}, {'é', clsLetter}, {'中', clsLetter}, {'ʰ', clsLetter}, {'ǅ', clsLetter},
		{'7', clsNumber}, {'½', clsNumber}, {'Ⅻ', clsNumber}, {'٣', clsNumber},
		{' ', clsSpace}, {'\t', clsSpace}, {'\v', clsSpace}, {'\u0085', clsSpace}, {'\u00a0', clsSpace},
		{'\u1680', clsSpace}, {'\u2000', clsSpace}, {'\u200a', clsSpace}, {'\u2028', clsSpace},
		{'\u202f', clsSpace}, {'\u205f', clsSpace}, {'\u3000', clsSpace},
		{'\u200b', clsOther}, {'\u180e', clsOther}, {'\ufeff', clsOther}, {'\u0301', clsOther},
		{'_', clsOther}, {'\'', clsOther}, {'🙂', clsOther}, {0, clsOther}, {'\uFFFD', clsOther},
	}
	for _, c := range cases {
		if got := classify(c.r); got != c.want {
			t.Errorf("classify(%U) = %d, want %d", c.r, got, c.want)
		}
	}
}

// TestGPT2SplitCovers checks on random texts that the pieces cover the
// input and that the generic regex engine, given the pattern in a form
// the fast path does not recognize, cuts the same pieces.
func TestGPT2SplitCovers(t *testing.T) {
	generic, err := compilePattern("(?:" + GPT2Pattern[:strings.Index(GPT2Pattern, `|\s+(?!\S)`)] + `)|\s+(?!\S)|\s+`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := generic.(*regexMatcher); !ok {
		t.Fatalf("generic matcher is %T", generic)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		s := randomText(r, 12, true)
		pieces := splitGPT2(s)
		if strings.Join(pieces, "") != s {
			t.Fatalf("pieces %q do not cover %q", pieces, s)
		}
		var viaRegex []string
		for _, sp := range findAll(generic, s) {
			viaRegex = append(viaRegex, s[sp.start:sp.end])
		}
		if !slices.Equal(pieces, viaRegex) {
			t.Fatalf("text %q:\n scanner %q\n regex   %q", s, pieces, viaRegex)
		}
	}
}

package tokenizer

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestNFCHand(t *testing.T) {
	n := nfc{}
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain ASCII", "plain ASCII"},
		{"e\u0301", "é"},
		{"cafe\u0301 nai\u0308ve", "café naïve"},
		{"\u212b", "Å"},                  // singleton: ANGSTROM SIGN -> Å
		{"A\u030a", "Å"},                 // composes
		{"a\u0323\u0301", "ạ\u0301"},     // dot below (220) binds first
		{"a\u0301\u0323", "ạ\u0301"},     // reordered, then composed
		{"\u1e0b\u0323", "\u1e0d\u0307"}, // ḋ + dot below -> ḍ + dot above
		{"\u0958", "\u0915\u093c"},       // composition exclusion stays decomposed
		{"\u0344", "\u0308\u0301"},       // non-starter decomposition
		{"\u1100\u1161\u11a8", "\uac01"}, // Hangul L V T -> 각
		{"\uac00\u11a8", "\uac01"},       // LV + T
		{"\u0301e", "\u0301e"},           // leading non-starter does not compose
		{"e\u0301\u0301", "é\u0301"},     // second acute is blocked by the first
		{"\u00c5\u0301", "\u01fa"},       // Å + acute -> Ǻ
		{"中文 🙂", "中文 🙂"},
		{"a\xffe\u0301", "a\xffé"}, // invalid bytes are kept as separators
	}
	for _, c := range cases {
		if got := n.normalize(c.in); got != c.want {
			t.Errorf("NFC(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestNFCConformance runs the NFC columns of the Unicode conformance file
// NormalizationTest.txt (Debian package unicode-data): for every line,
// c2 == NFC(c1) == NFC(c2) == NFC(c3) and c4 == NFC(c4) == NFC(c5). Lines
// with characters newer than the tables (see nfcUnicodeVersion) are
// skipped.
func TestNFCConformance(t *testing.T) {
	f, err := os.Open("/usr/share/unicode/NormalizationTest.txt.bz2")
	if err != nil {
		t.Skipf("NormalizationTest.txt not installed (apt-get install unicode-data): %v", err)
	}
	defer f.Close()
	newer, err := charsNewerThan("/usr/share/unicode/DerivedAge.txt", nfcUnicodeVersion)
	if err != nil {
		t.Skipf("DerivedAge.txt: %v", err)
	}
	sc := bufio.NewScanner(bzip2.NewReader(f))
	n := nfc{}
	lines, bad, skipped := 0, 0, 0
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line == "" || line[0] == '@' {
			continue
		}
		cols := strings.Split(line, ";")
		if len(cols) < 5 {
			continue
		}
		var c [5]string
		skip := false
		for i := 0; i < 5; i++ {
			for _, h := range strings.Fields(cols[i]) {
				v, err := strconv.ParseUint(h, 16, 32)
				if err != nil {
					t.Fatalf("bad line %q", line)
				}
				c[i] += string(rune(v))
				skip = skip || newer[rune(v)]
			}
		}
		if skip {
			skipped++
			continue
		}
		lines++
		checks := [][2]string{{c[0], c[1]}, {c[1], c[1]}, {c[2], c[1]}, {c[3], c[3]}, {c[4], c[3]}}
		for _, ck := range checks {
			if got := n.normalize(ck[0]); got != ck[1] {
				bad++
				if bad <= 10 {
					t.Errorf("NFC(%+q) = %+q, want %+q", ck[0], got, ck[1])
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines < 10000 {
		t.Fatalf("only %d test lines read", lines)
	}
	t.Logf("%d conformance lines checked, %d skipped (characters newer than Unicode %s), %d failures", lines, skipped, nfcUnicodeVersion, bad)
}

// charsNewerThan reads DerivedAge.txt and returns the code points assigned
// after Unicode version v ("major.minor").
func charsNewerThan(path, v string) (map[rune]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	version := func(s string) float64 {
		f, _ := strconv.ParseFloat(s, 64) // "10.0" > "9.0" as numbers
		return f
	}
	max := version(v)
	out := map[rune]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		rng, age, ok := strings.Cut(line, ";")
		if !ok || version(strings.TrimSpace(age)) <= max {
			continue
		}
		lo, hi, found := strings.Cut(strings.TrimSpace(rng), "..")
		if !found {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 16, 32)
		z, err2 := strconv.ParseUint(hi, 16, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad line %q", line)
		}
		for r := rune(a); r <= rune(z); r++ {
			out[r] = true
		}
	}
	return out, nil
}

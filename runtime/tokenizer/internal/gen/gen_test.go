package gen

import (
	"strings"
	"testing"
)

func TestByteToRune(t *testing.T) {
	m := ByteToRune()
	// Values from the GPT-2 table: space is 'Ġ', newline 'Ċ', tab 'ĉ',
	// 0x7F is U+0121 'ġ', 0xAD (soft hyphen) is the last one, U+0143 'Ń'.
	cases := map[byte]rune{' ': 'Ġ', '\n': 'Ċ', '\t': 'ĉ', 'A': 'A', 0x7F: 'ġ', 0xAD: 'Ń', 0x00: 'Ā', 0xA0: 'ł', 0xFF: 'ÿ'}
	for b, r := range cases {
		if m[b] != r {
			t.Errorf("byte %#x -> %q, want %q", b, m[b], r)
		}
	}
}

func TestWords(t *testing.T) {
	got := words("I'm  a b12 ok!!\n")
	want := []string{"I", "'", "m", "  ", "a", " b", "12", " ok", "!!", "\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("words = %q, want %q", got, want)
	}
}

func TestTrain(t *testing.T) {
	// "ab" occurs 3 times, then "abc" twice: the first merge is (a, b),
	// the second (ab, c).
	m := Train("abc abc ab", 2)
	if len(m.Merges) != 2 || m.Merges[0] != [2]string{"a", "b"} || m.Merges[1] != [2]string{"ab", "c"} {
		t.Fatalf("merges = %q", m.Merges)
	}
	if got := m.Vocab[256:]; len(got) != 2 || got[0] != "ab" || got[1] != "abc" {
		t.Errorf("new tokens = %q", got)
	}
}

func TestTinyJSONDeterministic(t *testing.T) {
	a, err := TinyJSON()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := TinyJSON()
	if string(a) != string(b) {
		t.Fatal("TinyJSON is not deterministic")
	}
	if len(a) > 200<<10 {
		t.Fatalf("fixture is %d bytes, want < 200 KiB", len(a))
	}
}

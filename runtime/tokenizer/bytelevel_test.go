package tokenizer

import (
	"testing"
	"unicode/utf8"
)

func TestByteToRune(t *testing.T) {
	// Entries of GPT-2's bytes_to_unicode table, written out by hand.
	cases := []struct {
		b byte
		r rune
	}{
		{0x00, 'Ā'}, {0x09, 'ĉ'}, {0x0A, 'Ċ'}, {0x20, 'Ġ'}, {'!', '!'}, {'A', 'A'}, {'~', '~'},
		{0x7F, 'ġ'}, {0x80, 'Ģ'}, {0xA0, 'ł'}, {0xA1, '¡'}, {0xAC, '¬'}, {0xAD, 'Ń'}, {0xAE, '®'}, {0xFF, 'ÿ'},
	}
	for _, c := range cases {
		if got := byteToRune[c.b]; got != c.r {
			t.Errorf("byteToRune[%#x] = %q, want %q", c.b, got, c.r)
		}
	}
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] {
			t.Fatalf("rune %q used twice", r)
		}
		seen[r] = true
		if runeToByte[r] != int16(b) {
			t.Fatalf("runeToByte[%q] = %d, want %d", r, runeToByte[r], b)
		}
	}
	if got := byteLevelString("a b\n\xe4\xb8\xad"); got != "aĠbĊä¸Ń" {
		t.Errorf("byteLevelString = %q", got)
	}
}

func TestByteLevelDecodeToken(t *testing.T) {
	cases := []struct{ tok, want string }{
		{"Ġthe", " the"},
		{"ä¸Ń", "中"},
		{"<|endoftext|>", "<|endoftext|>"},
		{"    ", "    "},   // ' ' is not a byte-level character: kept as is
		{"aĠb é", "aĠb é"}, // one foreign character keeps the whole token
		{"Ċ", "\n"},
		{"", ""},
	}
	for _, c := range cases {
		if got := string(byteLevelDecodeToken(nil, c.tok)); got != c.want {
			t.Errorf("byteLevelDecodeToken(%q) = %q, want %q", c.tok, got, c.want)
		}
	}
}

func TestLossyUTF8(t *testing.T) {
	const R = "\uFFFD"
	// Expected values follow the "maximal subpart" rule of Rust's
	// String::from_utf8_lossy (Unicode 3.9, Table 3-7), worked out by hand.
	cases := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"中", "中"},
		{"\xe4\xb8", R},        // truncated 3-byte sequence: one subpart
		{"\xe4\xb8a", R + "a"}, // ... followed by ASCII
		{"\xe4\xb8\xe4\xb8\xad", R + "中"},
		{"\xc0\x80", R + R},         // C0 never starts a sequence
		{"\xc1\xbf", R + R},         // neither does C1
		{"\xed\xa0\x80", R + R + R}, // surrogate: ED only takes 80..9F
		{"\xed\x9f\xbf", "\ud7ff"},
		{"\xe0\x80\x80", R + R + R}, // overlong: E0 needs A0..BF
		{"\xe0\xa0", R},
		{"\xf0\x90\x80", R}, // truncated 4-byte sequence
		{"\xf0\x90\x80A", R + "A"},
		{"\xf0\x80\x80\x80", R + R + R + R}, // F0 needs 90..BF
		{"\xf4\x90\x80\x80", R + R + R + R}, // above U+10FFFF
		{"\xf4\x8f\xbf\xbf", "\U0010FFFF"},
		{"\xf5\x80", R + R},
		{"\xff", R},
		{"\x80\x80", R + R}, // lone continuation bytes
		{"a\xc3", "a" + R},
		{"\xc3\xa9\xc3", "é" + R},
	}
	for _, c := range cases {
		got := lossyUTF8([]byte(c.in))
		if got != c.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("lossyUTF8(%q) is not valid UTF-8", c.in)
		}
	}
}

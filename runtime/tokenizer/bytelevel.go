package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// byteToRune is GPT-2's bytes_to_unicode table: every byte value is given a
// printable code point so that byte strings can be stored as ordinary text.
//
// Reference construction (openai/gpt-2 encoder.py, also used by Hugging Face
// ByteLevel):
//
//	bs = [0x21..0x7E] + [0xA1..0xAC] + [0xAE..0xFF]   // map to themselves
//	n = 0
//	for b in 0..255: if b not in bs: map b -> 256+n; n++
//
// So 0x00..0x20 become U+0100..U+0120 (space is 'Ġ' U+0120), 0x7F..0xA0
// become U+0121..U+0142 and 0xAD becomes U+0143.
var byteToRune [256]rune

// runeToByte inverts byteToRune; entries not produced by byteToRune are -1.
var runeToByte [0x144]int16

// byteToString holds string(byteToRune[b]) for every byte.
var byteToString [256]string

func init() {
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
		runeToByte[byteToRune[b]] = int16(b)
		byteToString[b] = string(byteToRune[b])
	}
}

// byteLevelString maps every byte of raw to its byte-level code point, the
// form in which byte-level BPE vocabularies store tokens.
func byteLevelString(raw string) string {
	var sb strings.Builder
	sb.Grow(2 * len(raw))
	for i := 0; i < len(raw); i++ {
		sb.WriteRune(byteToRune[raw[i]])
	}
	return sb.String()
}

// byteLevelDecodeToken appends the bytes that token stands for under the
// Hugging Face ByteLevel decoder rule: if every character of the token is a
// byte-level code point, the corresponding bytes; otherwise the token's own
// UTF-8 bytes unchanged (this is how added tokens such as "<|endoftext|>" or
// runs of spaces come back as themselves).
func byteLevelDecodeToken(dst []byte, token string) []byte {
	start := len(dst)
	for _, r := range token {
		if r < 0 || int(r) >= len(runeToByte) || runeToByte[r] < 0 {
			return append(dst[:start], token...)
		}
		dst = append(dst, byte(runeToByte[r]))
	}
	return dst
}

// lossyUTF8 converts b to a string, replacing invalid sequences exactly as
// Rust's String::from_utf8_lossy (used by the Hugging Face ByteLevel
// decoder) does: each maximal subpart of an ill-formed sequence becomes one
// U+FFFD. A maximal subpart is the longest prefix of a well-formed UTF-8
// sequence (Unicode Table 3-7), or a single byte if no such prefix of length
// at least one exists. For example "\xE4\xB8" is one U+FFFD, "\xED\xA0\x80"
// (a surrogate) is three, "\xF0\x90\x80A" is U+FFFD followed by "A".
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		need := 0
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c == 0xED:
			need, hi = 2, 0x9F
		case c >= 0xE1 && c <= 0xEF:
			need = 2
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		default: // 0x80..0xC1 and 0xF5..0xFF never start a sequence
			sb.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) {
				ok = false
				break
			}
			d := b[j]
			if k == 0 && (d < lo || d > hi) || k > 0 && (d < 0x80 || d > 0xBF) {
				ok = false
				break
			}
			j++
		}
		if ok {
			sb.Write(b[i:j])
		} else {
			sb.WriteRune(utf8.RuneError)
		}
		i = j
	}
	return sb.String()
}

package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// GPT2Pattern is the pre-tokenization regular expression of GPT-2, used
// verbatim by the Hugging Face ByteLevel pre-tokenizer (use_regex: true)
// and by GPT-NeoX. Go's regexp cannot express the (?!\S) lookahead, so the
// package implements it with a hand-written scanner (see gpt2Split); a Split
// pre-tokenizer whose pattern equals this string uses the same scanner.
const GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// charClass partitions code points the way the GPT-2 pattern sees them.
type charClass uint8

const (
	clsOther  charClass = iota // [^\s\p{L}\p{N}]
	clsLetter                  // \p{L}: general category L (Lu, Ll, Lt, Lm, Lo)
	clsNumber                  // \p{N}: general category N (Nd, Nl, No)
	clsSpace                   // \s: Unicode White_Space property
)

var asciiClass [128]charClass

func init() {
	for c := 0; c < 128; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			asciiClass[c] = clsLetter
		case c >= '0' && c <= '9':
			asciiClass[c] = clsNumber
		case c == ' ', c >= '\t' && c <= '\r':
			asciiClass[c] = clsSpace
		default:
			asciiClass[c] = clsOther
		}
	}
}

// classify returns the GPT-2 class of r. \s is the Unicode White_Space
// property, which is exactly what unicode.IsSpace reports; \p{L} and \p{N}
// are the general categories L and N. No code point is in two classes.
func classify(r rune) charClass {
	if r < 128 && r >= 0 {
		return asciiClass[r]
	}
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// decodeAt decodes the code point at s[i:]. Invalid UTF-8 yields
// (utf8.RuneError, 1), which classifies as "other".
func decodeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// contractionLen reports how many bytes after an apostrophe complete one of
// the contractions 's 't 're 've 'm 'll 'd (case-sensitive), or 0.
func contractionLen(rest string) int {
	if len(rest) == 0 {
		return 0
	}
	switch rest[0] {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(rest) > 1 && rest[1] == 'e' {
			return 2
		}
	case 'l':
		if len(rest) > 1 && rest[1] == 'l' {
			return 2
		}
	}
	return 0
}

// scanClass returns the end of the maximal run of class c starting at i.
func scanClass(s string, i int, c charClass) int {
	for i < len(s) {
		r, w := decodeAt(s, i)
		if classify(r) != c {
			break
		}
		i += w
	}
	return i
}

// gpt2Split appends to ends the end offsets of the pieces into which the
// GPT-2 pattern (GPT2Pattern) cuts s. The pattern's matches cover the whole
// input, so consecutive ends delimit every piece.
func gpt2Split(s string, ends []int) []int {
	for i := 0; i < len(s); {
		i = gpt2Next(s, i)
		ends = append(ends, i)
	}
	return ends
}

// gpt2Next returns the end of the GPT-2 pattern match that starts at i
// (i < len(s)), following the leftmost-first alternation of the Oniguruma
// engine used by Hugging Face. The alternatives are tried in order:
//  1. 's 't 're 've 'm 'll 'd
//  2. ' ?\p{L}+', 3. ' ?\p{N}+', 4. ' ?[^\s\p{L}\p{N}]+': an optional single
//     space (U+0020 only) followed by a maximal run of one class;
//  5. '\s+(?!\S)': a whitespace run that reaches the end of the input, or,
//     when the run is followed by a non-space, the run minus its last
//     character (backtracking one character makes the lookahead succeed),
//     which leaves that last character to start the next piece;
//  6. '\s+': a single whitespace character followed by a non-space.
//
// A match always exists, so the pieces cover the input without gaps.
func gpt2Next(s string, i int) int {
	r, w := decodeAt(s, i)
	if r == '\'' {
		if n := contractionLen(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	c := classify(r)
	if r == ' ' && i+1 < len(s) {
		r2, w2 := decodeAt(s, i+1)
		if c2 := classify(r2); c2 != clsSpace {
			return scanClass(s, i+1+w2, c2)
		}
	}
	if c != clsSpace {
		return scanClass(s, i+w, c)
	}
	if e, ok := wsLookahead(s, i); ok {
		return e
	}
	return i + w
}

// isWordChar reports whether r matches \w of the Rust regex crate, which
// Hugging Face uses to decide single_word matches of added tokens:
// Alphabetic (L, Nl, Other_Alphabetic), M, Nd, Pc and Join_Control.
func isWordChar(r rune) bool {
	if r < 128 && r >= 0 {
		return r == '_' || asciiClass[r] == clsLetter || asciiClass[r] == clsNumber
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) ||
		unicode.In(r, unicode.Nl, unicode.Other_Alphabetic, unicode.Pc, unicode.Join_Control)
}

package tokenizer

import (
	"math/rand/v2"
	"strings"
)

// Fragment pools for random test texts. They cover the character classes
// the pre-tokenizer distinguishes: letters of several scripts (with
// combining marks), numbers of several kinds, punctuation and symbols,
// the Unicode White_Space characters, controls, emoji and special tokens.
var (
	genWords = []string{
		"the", "The", "quick", "fox", "dog", "lazy", "I", "a", "x", "hello", "world", "jumps",
		"don't", "I'm", "they'll", "we've", "it's", "she'd", "you're", "O'Neil", "rock'n'roll",
		"IT'S", "WE'LL", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "''", "'x",
		"naïve", "café", "Straße", "ñandú", "Łódź", "e\u0301", "n\u0303o", "coöperative",
		"Ελληνικά", "αβγ", "Καλημέρα", "привет", "мир", "中文", "日本語", "こんにちは", "カタカナ",
		"한국어", "안녕", "مرحبا", "שלום", "สวัสดี", "नमस्ते", "ﬁ", "Ǆ", "ǅ", "ʰ", "ⁿ",
	}
	genNumbers = []string{
		"0", "7", "42", "12345", "3.14", "1,000,000", "2024", "0x1F", "1e10", "-5", "+7",
		"٣٤٥", "१२३", "Ⅻ", "ⅷ", "½", "²", "③", "𝟙𝟚",
	}
	genPunct = []string{
		".", ",", "!", "?", "...", "!!!", "--", "—", "–", "«", "»", "“", "”", "(", ")", "[", "]",
		"{", "}", "#", "$", "%", "&", "*", "@", "^", "_", "`", "~", "|", "\\", "/", ":", ";",
		"<", ">", "=", "+", "-", "€", "¥", "©", "°", "§", "¶", "•", "…", "<|", "|>", "<|end",
		"\u00ad", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b", "\x7f", "\u2060", "\U000E0041",
	}
	genSpaces = []string{
		" ", " ", " ", "  ", "   ", "    ", "     ", "        ", "         ", "\t", "\t\t", "\n", "\n\n",
		"\r\n", " \n", "\n ", " \t ", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2003",
		"\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", " \u00a0", "\u3000 ",
	}
	genEmoji = []string{
		"🙂", "😀", "🎉", "👍", "👍🏽", "❤️", "🚀", "🌍", "👨‍👩‍👧", "🇫🇷", "🙂🙂", "☃", "✓", "∑", "∞", "≠",
	}
	genSpecial = []string{"<|endoftext|>", "<|padding|>"}
)

// randomText builds a text of 1 to maxFrags fragments drawn from the pools
// (special tokens only when withSpecial), joined directly or by a space.
func randomText(r *rand.Rand, maxFrags int, withSpecial bool) string {
	var sb strings.Builder
	n := 1 + r.IntN(maxFrags)
	for i := 0; i < n; i++ {
		var pool []string
		switch k := r.IntN(20); {
		case k < 7:
			pool = genWords
		case k < 10:
			pool = genNumbers
		case k < 13:
			pool = genPunct
		case k < 17:
			pool = genSpaces
		case k < 19 || !withSpecial:
			pool = genEmoji
		default:
			pool = genSpecial
		}
		sb.WriteString(pool[r.IntN(len(pool))])
		if r.IntN(3) == 0 {
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}

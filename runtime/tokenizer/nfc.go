package tokenizer

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// cccRange gives the canonical combining class of code points lo..hi.
type cccRange struct {
	lo, hi rune
	class  uint8
}

// decompEntry is a one-level canonical decomposition r -> a b (b == 0 for
// a singleton); composes is true for primary composites, which NFC
// recomposes.
type decompEntry struct {
	r, a, b  rune
	composes bool
}

// nfc is the NFC normalizer (Unicode Standard Annex #15): canonical
// decomposition, canonical ordering of combining marks, then canonical
// composition. Tables come from the Unicode Character Database
// (nfc_tables.go); Hangul syllables are handled algorithmically.
type nfc struct{}

func init() { newNFC = func() normalizer { return nfc{} } }

var (
	nfcDecompMap map[rune]decompEntry
	nfcCompose   map[uint64]rune
	// nfcMaybe marks code points that may change under NFC: those with a
	// decomposition, a non-zero combining class, or that can be the second
	// element of a composition. Text without them is already NFC.
	nfcMaybe map[rune]bool
)

const (
	hangulSBase, hangulLBase, hangulVBase, hangulTBase = 0xAC00, 0x1100, 0x1161, 0x11A7
	hangulLCount, hangulVCount, hangulTCount           = 19, 21, 28
	hangulNCount                                       = hangulVCount * hangulTCount
	hangulSCount                                       = hangulLCount * hangulNCount
)

func init() {
	nfcDecompMap = make(map[rune]decompEntry, len(nfcDecomp))
	nfcCompose = make(map[uint64]rune, len(nfcDecomp))
	nfcMaybe = make(map[rune]bool, 2*len(nfcDecomp))
	for _, d := range nfcDecomp {
		nfcDecompMap[d.r] = d
		nfcMaybe[d.r] = true
		if d.composes {
			nfcCompose[uint64(d.a)<<32|uint64(d.b)] = d.r
			nfcMaybe[d.b] = true
		}
	}
	for _, c := range nfcCCC {
		for r := c.lo; r <= c.hi; r++ {
			nfcMaybe[r] = true
		}
	}
	for r := rune(hangulVBase); r < hangulVBase+hangulVCount; r++ {
		nfcMaybe[r] = true
	}
	for r := rune(hangulTBase + 1); r < hangulTBase+hangulTCount; r++ {
		nfcMaybe[r] = true
	}
}

// combiningClass returns the canonical combining class of r.
func combiningClass(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	i := sort.Search(len(nfcCCC), func(i int) bool { return nfcCCC[i].hi >= r })
	if i < len(nfcCCC) && nfcCCC[i].lo <= r {
		return nfcCCC[i].class
	}
	return 0
}

// decompose appends the full canonical decomposition of r.
func decompose(dst []rune, r rune) []rune {
	if s := r - hangulSBase; s >= 0 && s < hangulSCount {
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	d, ok := nfcDecompMap[r]
	if !ok {
		return append(dst, r)
	}
	dst = decompose(dst, d.a)
	if d.b != 0 {
		dst = decompose(dst, d.b)
	}
	return dst
}

// compose returns the primary composite of a and b, if any.
func compose(a, b rune) (rune, bool) {
	if l, v := a-hangulLBase, b-hangulVBase; l >= 0 && l < hangulLCount && v >= 0 && v < hangulVCount {
		return hangulSBase + (l*hangulVCount+v)*hangulTCount, true
	}
	if s, t := a-hangulSBase, b-hangulTBase; s >= 0 && s < hangulSCount && s%hangulTCount == 0 && t > 0 && t < hangulTCount {
		return a + t, true
	}
	c, ok := nfcCompose[uint64(a)<<32|uint64(b)]
	return c, ok
}

func (nfc) normalize(s string) string {
	quick := true
	for i := 0; i < len(s); {
		if s[i] < 0xCC { // every code point below U+0300 is stable
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if nfcMaybe[r] {
			quick = false
			break
		}
		i += w
	}
	if quick {
		return s
	}
	// Invalid UTF-8 bytes are kept as they are, as separators.
	var sb strings.Builder
	sb.Grow(len(s))
	start := 0
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			sb.WriteString(nfcString(s[start:i]))
			sb.WriteByte(s[i])
			start = i + 1
		}
		i += w
	}
	sb.WriteString(nfcString(s[start:]))
	return sb.String()
}

// nfcString normalizes valid UTF-8 text.
func nfcString(s string) string {
	var d []rune
	for _, r := range s {
		d = decompose(d, r)
	}
	// Canonical ordering: stable sort of each run of non-starters by class.
	for i := 0; i < len(d); {
		if combiningClass(d[i]) == 0 {
			i++
			continue
		}
		j := i
		for j < len(d) && combiningClass(d[j]) != 0 {
			j++
		}
		run := d[i:j]
		sort.SliceStable(run, func(a, b int) bool { return combiningClass(run[a]) < combiningClass(run[b]) })
		i = j
	}
	// Canonical composition: a character combines with the last starter
	// unless a character in between has class 0 or a class >= its own.
	if len(d) == 0 {
		return ""
	}
	out := d[:1]
	starter := 0
	lastClass := int(combiningClass(d[0]))
	if lastClass != 0 {
		lastClass = 256 // a leading non-starter blocks everything after it
		starter = -1
	}
	for _, c := range d[1:] {
		cc := int(combiningClass(c))
		if starter >= 0 && (lastClass < cc || lastClass == 0) {
			if comp, ok := compose(out[starter], c); ok {
				out[starter] = comp
				continue
			}
		}
		if cc == 0 {
			starter = len(out)
		}
		lastClass = cc
		out = append(out, c)
	}
	return string(out)
}

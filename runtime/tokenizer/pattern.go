package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
)

// span is a byte range [start, end) of a string.
type span struct{ start, end int }

// matcher finds successive non-overlapping matches of a Split pattern.
type matcher interface {
	// next returns the leftmost match starting at or after from.
	next(s string, from int) (start, end int, ok bool)
}

// findAll lists the matches of m in s with the iteration rule of the
// Oniguruma binding used by Hugging Face (rust-onig FindMatches): after a
// match the search resumes at its end; after an empty match it resumes one
// character further, and an empty match that directly follows a non-empty
// match is dropped.
func findAll(m matcher, s string) []span {
	var out []span
	lastEnd, skipNextEmpty := 0, false
	for lastEnd <= len(s) {
		st, en, ok := m.next(s, lastEnd)
		if !ok {
			break
		}
		lastEnd = en
		if st == en {
			if en < len(s) {
				_, w := decodeAt(s, en)
				lastEnd += w
			} else {
				lastEnd++
			}
			if skipNextEmpty {
				skipNextEmpty = false
				continue
			}
		} else {
			skipNextEmpty = true
		}
		out = append(out, span{st, en})
	}
	return out
}

// gpt2Matcher is GPT2Pattern, implemented by gpt2Next.
type gpt2Matcher struct{}

func (gpt2Matcher) next(s string, from int) (int, int, bool) {
	if from >= len(s) {
		return 0, 0, false
	}
	return from, gpt2Next(s, from), true
}

// literalMatcher matches a fixed string (Split with a String pattern).
type literalMatcher struct{ lit string }

func (m literalMatcher) next(s string, from int) (int, int, bool) {
	k := strings.Index(s[from:], m.lit)
	if k < 0 {
		return 0, 0, false
	}
	return from + k, from + k + len(m.lit), true
}

// regexMatcher matches a translated Oniguruma pattern. When the pattern has
// no \s+(?!\S) alternative, whole is the complete pattern and is searched
// directly. Otherwise the top-level alternatives are grouped into segments
// that are tried, in pattern order, anchored at each position: this keeps
// the leftmost-first preference of a backtracking engine, which Go's
// regexp also implements within each segment.
type regexMatcher struct {
	whole *regexp.Regexp
	segs  []regexSeg
}

type regexSeg struct {
	re   *regexp.Regexp // anchored with ^; nil for the lookahead rule
	wsLA bool           // the \s+(?!\S) alternative
}

func (m *regexMatcher) next(s string, from int) (int, int, bool) {
	if m.whole != nil {
		loc := m.whole.FindStringIndex(s[from:])
		if loc == nil {
			return 0, 0, false
		}
		return from + loc[0], from + loc[1], true
	}
	for p := from; p <= len(s); {
		for _, sg := range m.segs {
			if sg.wsLA {
				if e, ok := wsLookahead(s, p); ok {
					return p, e, true
				}
				continue
			}
			if loc := sg.re.FindStringIndex(s[p:]); loc != nil {
				return p, p + loc[1], true
			}
		}
		if p == len(s) {
			break
		}
		_, w := decodeAt(s, p)
		p += w
	}
	return 0, 0, false
}

// wsLookahead matches \s+(?!\S) anchored at p: the whitespace run starting
// at p if it reaches the end of s, else the run minus its last character if
// that leaves at least one character.
func wsLookahead(s string, p int) (int, bool) {
	j, last, n := p, p, 0
	for j < len(s) {
		r, w := decodeAt(s, j)
		if classify(r) != clsSpace {
			break
		}
		last = j
		j += w
		n++
	}
	switch {
	case n == 0:
		return 0, false
	case j == len(s):
		return j, true
	case n >= 2:
		return last, true
	}
	return 0, false
}

// Oniguruma's \s in Unicode mode is the White_Space property; Go's \s is
// ASCII only, so \s is rewritten to this explicit set.
const wsSetBody = `\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

// compilePattern builds a matcher for a Split Regex pattern written for
// Oniguruma. The GPT-2 pattern uses the hand-written scanner. Other patterns
// are translated to Go syntax (\s -> White_Space set, \S -> its complement,
// \uHHHH -> \x{HHHH}); an alternative that is exactly \s+(?!\S) is handled
// natively. Constructs whose meaning differs or that Go lacks (other
// lookaround, backreferences, atomic groups, anchors, \b, \w, \d, \h,
// POSIX brackets, class intersection) are rejected with an error.
func compilePattern(pat string) (matcher, error) {
	if pat == GPT2Pattern {
		return gpt2Matcher{}, nil
	}
	alts, err := splitAlternatives(pat)
	if err != nil {
		return nil, err
	}
	special := false
	for _, a := range alts {
		if a == `\s+(?!\S)` {
			special = true
		}
	}
	translated := make([]string, len(alts))
	for i, a := range alts {
		if special && a == `\s+(?!\S)` {
			continue
		}
		t, err := translateAlt(a)
		if err != nil {
			return nil, err
		}
		if special && hasBareFlagGroup(t) {
			return nil, fmt.Errorf("pattern %q: a top-level inline flag group such as (?i) cannot be combined with \\s+(?!\\S)", pat)
		}
		translated[i] = t
	}
	if !special {
		re, err := regexp.Compile(strings.Join(translated, "|"))
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", pat, err)
		}
		return &regexMatcher{whole: re}, nil
	}
	m := &regexMatcher{}
	var group []string
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		re, err := regexp.Compile(`^(?:` + strings.Join(group, "|") + `)`)
		if err != nil {
			return fmt.Errorf("pattern %q: %v", pat, err)
		}
		m.segs = append(m.segs, regexSeg{re: re})
		group = nil
		return nil
	}
	for i, a := range alts {
		if a == `\s+(?!\S)` {
			if err := flush(); err != nil {
				return nil, err
			}
			m.segs = append(m.segs, regexSeg{wsLA: true})
			continue
		}
		group = append(group, translated[i])
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return m, nil
}

// hasBareFlagGroup reports whether alternative a contains, outside any
// group, an inline flag setting such as (?i) whose scope would reach into
// the following alternatives.
func hasBareFlagGroup(a string) bool {
	depth := 0
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case '\\':
			i++
		case '(':
			if depth == 0 && strings.HasPrefix(a[i:], "(?") {
				j := i + 2
				for j < len(a) && (a[j] >= 'a' && a[j] <= 'z' || a[j] == '-') {
					j++
				}
				if j > i+2 && j < len(a) && a[j] == ')' {
					return true
				}
			}
			depth++
		case ')':
			depth--
		}
	}
	return false
}

// splitAlternatives cuts pat at its top-level '|' characters.
func splitAlternatives(pat string) ([]string, error) {
	var alts []string
	depth, inClass, start := 0, false, 0
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(pat) && pat[i+1] == '^' {
				i++
			}
			if i+1 < len(pat) && pat[i+1] == ']' {
				i++
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("pattern %q: unbalanced ')'", pat)
			}
		case c == '|' && depth == 0:
			alts = append(alts, pat[start:i])
			start = i + 1
		}
	}
	if depth != 0 || inClass {
		return nil, fmt.Errorf("pattern %q: unbalanced group or class", pat)
	}
	return append(alts, pat[start:]), nil
}

// translateAlt rewrites one alternative from Oniguruma to Go syntax.
func translateAlt(a string) (string, error) {
	var sb strings.Builder
	inClass := false
	bad := func(what string) (string, error) {
		return "", fmt.Errorf("pattern alternative %q: %s is not supported", a, what)
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c == '\\' {
			if i+1 >= len(a) {
				return bad("a trailing backslash")
			}
			i++
			e := a[i]
			switch {
			case e == 's':
				if inClass {
					sb.WriteString(wsSetBody)
				} else {
					sb.WriteString("[" + wsSetBody + "]")
				}
			case e == 'S':
				if inClass {
					return bad(`\S inside a character class`)
				}
				sb.WriteString("[^" + wsSetBody + "]")
			case e == 'u':
				if i+4 >= len(a) {
					return bad(`a short \u escape`)
				}
				sb.WriteString(`\x{` + a[i+1:i+5] + `}`)
				i += 4
			case e == 'b' && inClass:
				sb.WriteString(`\x08`)
			case e == 'p' || e == 'P' || e == 'x' || e == 't' || e == 'n' || e == 'r' || e == 'f' || e == 'v' || e == 'a':
				sb.WriteByte('\\')
				sb.WriteByte(e)
			case e >= '0' && e <= '9':
				return bad("a backreference or octal escape")
			case e >= 'a' && e <= 'z' || e >= 'A' && e <= 'Z':
				return bad(`the escape \` + string(e))
			default:
				sb.WriteByte('\\')
				sb.WriteByte(e)
			}
			continue
		}
		if inClass {
			switch {
			case c == ']':
				inClass = false
			case c == '[':
				return bad("a nested character class or POSIX bracket")
			case c == '&' && i+1 < len(a) && a[i+1] == '&':
				return bad("class intersection &&")
			}
			sb.WriteByte(c)
			continue
		}
		switch c {
		case '[':
			inClass = true
			sb.WriteByte(c)
			if i+1 < len(a) && a[i+1] == '^' {
				sb.WriteByte('^')
				i++
			}
			if i+1 < len(a) && a[i+1] == ']' {
				sb.WriteString(`\]`)
				i++
			}
		case '^', '$':
			return bad("an anchor")
		case '(':
			if strings.HasPrefix(a[i:], "(?=") || strings.HasPrefix(a[i:], "(?!") ||
				strings.HasPrefix(a[i:], "(?<=") || strings.HasPrefix(a[i:], "(?<!") {
				return bad("lookaround (other than a whole \\s+(?!\\S) alternative)")
			}
			if strings.HasPrefix(a[i:], "(?>") || strings.HasPrefix(a[i:], "(?~") || strings.HasPrefix(a[i:], "(?#") {
				return bad("an atomic, absent or comment group")
			}
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), nil
}

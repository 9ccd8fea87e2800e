package tokenizer

import "unicode/utf8"

// AddedToken is an entry of tokenizer.json's added_tokens: a token matched
// in the raw input before pre-tokenization (Hugging Face AddedToken).
type AddedToken struct {
	ID      int    // token id
	Content string // literal text matched in the input
	// SingleWord: only match when not preceded or followed by a word
	// character (Rust regex \w).
	SingleWord bool
	Lstrip     bool // the match absorbs whitespace on its left
	Rstrip     bool // the match absorbs whitespace on its right
	// Normalized: matched against the normalized input instead of the
	// original one.
	Normalized bool
	Special    bool // special tokens can be skipped when decoding
}

// trieNode is a byte trie node for added-token contents.
type trieNode struct {
	next map[byte]int32
	tok  int32 // index into addedMatcher.tokens, -1 if none ends here
}

// addedMatcher finds added tokens in text with the leftmost-longest rule of
// the Aho-Corasick automaton Hugging Face uses: the match starting earliest
// wins, among those the longest, and scanning resumes after it.
type addedMatcher struct {
	nodes  []trieNode
	first  [256]bool
	tokens []*AddedToken
}

func newAddedMatcher(tokens []*AddedToken) *addedMatcher {
	if len(tokens) == 0 {
		return nil
	}
	m := &addedMatcher{nodes: []trieNode{{tok: -1}}, tokens: tokens}
	for ti, t := range tokens {
		n := int32(0)
		for i := 0; i < len(t.Content); i++ {
			b := t.Content[i]
			if i == 0 {
				m.first[b] = true
			}
			nx, ok := m.nodes[n].next[b]
			if !ok {
				if m.nodes[n].next == nil {
					m.nodes[n].next = make(map[byte]int32, 1)
				}
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, trieNode{tok: -1})
				m.nodes[n].next[b] = nx
			}
			n = nx
		}
		m.nodes[n].tok = int32(ti)
	}
	return m
}

// rawMatch is a leftmost-longest occurrence of tokens[tok] at [start, end).
type rawMatch struct {
	start, end int
	tok        int32
}

func (m *addedMatcher) scan(s string) []rawMatch {
	var out []rawMatch
	for i := 0; i < len(s); {
		if !m.first[s[i]] {
			i++
			continue
		}
		n, best, bestEnd := int32(0), int32(-1), 0
		for j := i; j < len(s); j++ {
			nx, ok := m.nodes[n].next[s[j]]
			if !ok {
				break
			}
			n = nx
			if m.nodes[n].tok >= 0 {
				best, bestEnd = m.nodes[n].tok, j+1
			}
		}
		if best < 0 {
			i++
			continue
		}
		out = append(out, rawMatch{i, bestEnd, best})
		i = bestEnd
	}
	return out
}

// split cuts s into pieces, each either plain text (tok < 0) or an added
// token, following Hugging Face AddedVocabulary::find_matches: matches of
// special tokens are ignored when specialAsText; single_word matches next to
// word characters are ignored; lstrip extends a match over the whitespace
// before it (not into the previous match) and rstrip over the whitespace
// after it. Empty pieces are dropped.
func (m *addedMatcher) split(s string, specialAsText bool, emit func(text string, tok *AddedToken)) {
	if m == nil || len(s) == 0 {
		if len(s) > 0 {
			emit(s, nil)
		}
		return
	}
	startOffset := 0
	for _, mt := range m.scan(s) {
		t := m.tokens[mt.tok]
		start, stop := mt.start, mt.end
		if specialAsText && t.Special {
			continue
		}
		if t.SingleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.Lstrip {
			start = max(trailingSpaceStart(s[:start]), startOffset)
		}
		if t.Rstrip {
			stop += leadingSpaceEnd(s[stop:])
		}
		if startOffset < start {
			emit(s[startOffset:start], nil)
		}
		// Hugging Face slices the input here even when an rstrip of the
		// previous match overlaps this one; keep the same (rare) result.
		if start < stop {
			emit(s[start:stop], t)
		}
		startOffset = stop
	}
	if startOffset < len(s) {
		emit(s[startOffset:], nil)
	}
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return len(s) > 0 && isWordChar(r) && !(r == utf8.RuneError)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return len(s) > 0 && isWordChar(r) && !(r == utf8.RuneError)
}

// trailingSpaceStart returns where the trailing White_Space run of s
// starts (len(s) if none): the start of Rust regex \s*$.
func trailingSpaceStart(s string) int {
	i := len(s)
	for i > 0 {
		r, w := utf8.DecodeLastRuneInString(s[:i])
		if classify(r) != clsSpace || r == utf8.RuneError {
			break
		}
		i -= w
	}
	return i
}

// leadingSpaceEnd returns the length of the leading White_Space run of s:
// the end of Rust regex ^\s*.
func leadingSpaceEnd(s string) int {
	i := 0
	for i < len(s) {
		r, w := decodeAt(s, i)
		if classify(r) != clsSpace {
			break
		}
		i += w
	}
	return i
}

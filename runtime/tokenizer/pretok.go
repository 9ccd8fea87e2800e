package tokenizer

import "strings"

// piece is a part of the input on its way to the BPE model. s holds the
// original bytes; when mapped, the model (and any later Split) sees the
// byte-level form byteLevelString(s). Byte-level mapping turns every byte
// into one character, so any cut of the mapped form is a cut of s.
type piece struct {
	s      string
	mapped bool
}

// preStep is one pre-tokenizer of the pipeline.
type preStep interface {
	apply(in []piece, out []piece) []piece
}

// byteLevelStep is the Hugging Face ByteLevel pre-tokenizer: optionally
// prepend a space to a piece that does not start with one, optionally cut
// it with the GPT-2 pattern, then map every piece to byte-level characters.
type byteLevelStep struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevelStep) apply(in []piece, out []piece) []piece {
	var ends []int
	for _, p := range in {
		s := p.s
		if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		if !b.useRegex {
			out = append(out, piece{s, true})
			continue
		}
		ends = gpt2Split(s, ends[:0])
		start := 0
		for _, e := range ends {
			out = append(out, piece{s[start:e], true})
			start = e
		}
	}
	return out
}

// splitStep is the Hugging Face Split pre-tokenizer.
type splitStep struct {
	m        matcher
	behavior behavior
	invert   bool
}

func (st splitStep) apply(in []piece, out []piece) []piece {
	for _, p := range in {
		text := p.s
		if p.mapped {
			text = byteLevelString(p.s)
		}
		cover := coverMatches(findAll(st.m, text), len(text), st.invert)
		spans := applyBehavior(cover, st.behavior)
		if !p.mapped {
			for _, sp := range spans {
				out = append(out, piece{text[sp.start:sp.end], false})
			}
			continue
		}
		// Convert offsets in the mapped text back to raw byte offsets:
		// the k-th character of the mapped text is raw byte k.
		raw := make([]int, 0, len(p.s)+1)
		for i := range text {
			raw = append(raw, i)
		}
		raw = append(raw, len(text))
		rawIndex := func(off int) int {
			lo, hi := 0, len(raw)-1
			for lo < hi {
				mid := (lo + hi) / 2
				if raw[mid] < off {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			return lo
		}
		for _, sp := range spans {
			out = append(out, piece{p.s[rawIndex(sp.start):rawIndex(sp.end)], true})
		}
	}
	return out
}

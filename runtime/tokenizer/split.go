package tokenizer

// behavior is how a Split pre-tokenizer treats the matched delimiters,
// mirroring Hugging Face's SplitDelimiterBehavior.
type behavior uint8

const (
	behRemoved behavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

var behaviorNames = map[string]behavior{
	"Removed":            behRemoved,
	"Isolated":           behIsolated,
	"MergedWithPrevious": behMergedWithPrevious,
	"MergedWithNext":     behMergedWithNext,
	"Contiguous":         behContiguous,
}

// flagged is a piece of the input with whether it is a match.
type flagged struct {
	span
	match bool
}

// coverMatches turns the match list into a full cover of [0, n) with
// non-match gaps in between (Hugging Face Pattern::find_matches); invert
// flips the flags. An empty input yields one empty non-match.
func coverMatches(matches []span, n int, invert bool) []flagged {
	if n == 0 {
		return []flagged{{span{0, 0}, invert}}
	}
	out := make([]flagged, 0, 2*len(matches)+1)
	prev := 0
	for _, m := range matches {
		if prev != m.start {
			out = append(out, flagged{span{prev, m.start}, invert})
		}
		out = append(out, flagged{m, !invert})
		prev = m.end
	}
	if prev != n {
		out = append(out, flagged{span{prev, n}, invert})
	}
	return out
}

// applyBehavior computes the kept pieces from a cover, exactly as Hugging
// Face NormalizedString::split does; empty pieces are dropped.
func applyBehavior(cover []flagged, b behavior) []span {
	type kept struct {
		span
		remove bool
	}
	var acc []kept
	switch b {
	case behIsolated:
		for _, f := range cover {
			acc = append(acc, kept{f.span, false})
		}
	case behRemoved:
		for _, f := range cover {
			acc = append(acc, kept{f.span, f.match})
		}
	case behContiguous:
		prevMatch := false
		for _, f := range cover {
			if f.match == prevMatch && len(acc) > 0 {
				acc[len(acc)-1].end = f.end
			} else {
				acc = append(acc, kept{f.span, false})
			}
			prevMatch = f.match
		}
	case behMergedWithPrevious:
		prevMatch := false
		for _, f := range cover {
			if f.match && !prevMatch && len(acc) > 0 {
				acc[len(acc)-1].end = f.end
			} else {
				acc = append(acc, kept{f.span, false})
			}
			prevMatch = f.match
		}
	case behMergedWithNext:
		prevMatch := false
		for i := len(cover) - 1; i >= 0; i-- {
			f := cover[i]
			if f.match && !prevMatch && len(acc) > 0 {
				acc[len(acc)-1].start = f.start
			} else {
				acc = append(acc, kept{f.span, false})
			}
			prevMatch = f.match
		}
		for i, j := 0, len(acc)-1; i < j; i, j = i+1, j-1 {
			acc[i], acc[j] = acc[j], acc[i]
		}
	}
	out := make([]span, 0, len(acc))
	for _, k := range acc {
		if !k.remove && k.end > k.start {
			out = append(out, k.span)
		}
	}
	return out
}

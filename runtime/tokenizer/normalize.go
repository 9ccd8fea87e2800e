package tokenizer

// normalizer rewrites text before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

// normSequence applies normalizers in order.
type normSequence []normalizer

func (n normSequence) normalize(s string) string {
	for _, x := range n {
		s = x.normalize(s)
	}
	return s
}

package tokenizer

// postProcessor adds special tokens around an encoded single sequence.
type postProcessor interface {
	process(ids []int) []int
}

// templatePiece is one element of a TemplateProcessing "single" template:
// either the input sequence or the ids of a special token.
type templatePiece struct {
	seq bool
	ids []int
}

// templateProcessor implements TemplateProcessing (and, with a fixed
// template, RobertaProcessing and BertProcessing) for single sequences:
// the output is the template with the sequence substituted.
type templateProcessor struct {
	single []templatePiece
}

func (p *templateProcessor) process(ids []int) []int {
	out := make([]int, 0, len(ids)+4)
	for _, tp := range p.single {
		if tp.seq {
			out = append(out, ids...)
		} else {
			out = append(out, tp.ids...)
		}
	}
	return out
}

// bosEOS returns the first id of the special tokens before and after the
// sequence in the template (-1 when there are none).
func (p *templateProcessor) bosEOS() (bos, eos int) {
	bos, eos = -1, -1
	seen := false
	for _, tp := range p.single {
		switch {
		case tp.seq:
			seen = true
		case len(tp.ids) == 0:
		case !seen && bos < 0:
			bos = tp.ids[0]
		case seen && eos < 0:
			eos = tp.ids[0]
		}
	}
	return bos, eos
}

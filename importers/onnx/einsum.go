package onnx

import (
	"sort"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() { register(12, convEinsum, "Einsum") }

// convEinsum lowers Einsum to Transpose, Reshape, ReduceSum and MatMul,
// two operands at a time, left to right. For operands A and B:
//
//	letters only in one operand and not in the output are summed out;
//	batch    = in A, in B and in the output,
//	contract = in A and in B, not in the output,
//	A viewed as [batch..., a-only, contract], B as [batch..., contract, b-only];
//	MatMul, then the result is viewed and transposed into the output order.
//
// "..." stands for the leading dims the letters leave; ellipses of
// different operands must have the same rank. A letter repeated within one
// operand takes the diagonal (static dims).
func convEinsum(n *node) []*val {
	eq := strings.ReplaceAll(n.str("equation", ""), " ", "")
	if !n.ok() {
		return nil
	}
	lhs, out, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(n.in) || len(terms) == 0 {
		n.failf("equation %q has %d operands, the node %d", clip(eq), len(terms), len(n.in))
		return nil
	}
	ell := -1 // rank of the ellipsis
	ops := make([]einsumOperand, len(terms))
	for i, t := range terms {
		x := n.need(i)
		if !n.ok() {
			return nil
		}
		labels, err := expandEllipsis(t, x.rank(), &ell)
		if err != "" {
			n.failf("operand %d: %s", i, err)
			return nil
		}
		ops[i] = n.diagonal(einsumOperand{x: x, labels: labels})
	}
	var outLabels []rune
	if explicit {
		var err string
		if outLabels, err = expandEllipsis(out, -1, &ell); err != "" {
			n.failf("output: %s", err)
			return nil
		}
	} else {
		count := map[rune]int{}
		for _, o := range ops {
			for _, l := range o.labels {
				count[l]++
			}
		}
		for l := range ellipsisRunes(max(ell, 0)) {
			outLabels = append(outLabels, l)
		}
		var single []rune
		for l, c := range count {
			if c == 1 && !isEllipsisRune(l) {
				single = append(single, l)
			}
		}
		sort.Slice(single, func(i, j int) bool { return single[i] < single[j] })
		outLabels = append(outLabels, single...)
	}
	// Letters still needed after operand i: those of later operands and the output.
	acc := ops[0]
	for i := 1; i < len(ops); i++ {
		keep := map[rune]bool{}
		for _, l := range outLabels {
			keep[l] = true
		}
		for _, o := range ops[i+1:] {
			for _, l := range o.labels {
				keep[l] = true
			}
		}
		acc = n.einsumPair(acc, ops[i], keep)
		if !n.ok() {
			return nil
		}
	}
	keep := map[rune]bool{}
	for _, l := range outLabels {
		keep[l] = true
	}
	acc = n.sumOut(acc, keep, nil)
	return []*val{n.permuteTo(acc, outLabels)}
}

type einsumOperand struct {
	x      *val
	labels []rune
}

// ellipsisRunes yields the stand-in labels of an ellipsis of rank r:
// private-use code points, which equations cannot contain.
func ellipsisRunes(r int) func(func(rune) bool) {
	return func(yield func(rune) bool) {
		for i := 0; i < r; i++ {
			if !yield(rune(0xE000 + i)) {
				return
			}
		}
	}
}

func isEllipsisRune(l rune) bool { return l >= 0xE000 && l < 0xF000 }

// expandEllipsis turns a term into labels, "..." becoming the stand-ins of
// the dims the letters leave (rank < 0: the output, whose ellipsis rank
// comes from the operands).
func expandEllipsis(term string, rank int, ell *int) ([]rune, string) {
	before, after, has := strings.Cut(term, "...")
	var labels []rune
	letters := 0
	for _, part := range []string{before, after} {
		for _, c := range part {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return nil, "bad character " + string(c)
			}
			letters++
		}
	}
	e := 0
	switch {
	case has && rank >= 0:
		e = rank - letters
		if e < 0 {
			return nil, "more letters than dims"
		}
		if *ell >= 0 && *ell != e {
			return nil, "ellipses of different ranks"
		}
		*ell = e
	case has:
		e = max(*ell, 0)
	case rank >= 0 && letters != rank:
		return nil, "letters do not match the rank"
	}
	labels = append(labels, []rune(before)...)
	for l := range ellipsisRunes(e) {
		labels = append(labels, l)
	}
	labels = append(labels, []rune(after)...)
	return labels, ""
}

// sumOut sums the dims of o whose labels are neither kept nor in other.
func (n *node) sumOut(o einsumOperand, keep map[rune]bool, other map[rune]bool) einsumOperand {
	var axes []int64
	var left []rune
	for i, l := range o.labels {
		if keep[l] || other[l] {
			left = append(left, l)
		} else {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) == 0 {
		return o
	}
	return einsumOperand{x: n.op(ir.OpReduceSum, ir.Attrs{"axes": axes, "keepdims": false}, o.x), labels: left}
}

// permuteTo transposes o into the order of labels.
func (n *node) permuteTo(o einsumOperand, labels []rune) *val {
	pos := map[rune]int{}
	for i, l := range o.labels {
		pos[l] = i
	}
	if len(labels) != len(o.labels) {
		n.failf("output letters do not match the operands")
		return placeholder()
	}
	perm := make([]int64, len(labels))
	for i, l := range labels {
		p, ok := pos[l]
		if !ok {
			n.failf("output letter %q is not in any operand", l)
			return placeholder()
		}
		perm[i] = int64(p)
	}
	return n.transpose(o.x, perm)
}

// einsumPair contracts two operands (see convEinsum).
func (n *node) einsumPair(a, b einsumOperand, keep map[rune]bool) einsumOperand {
	inA, inB := map[rune]bool{}, map[rune]bool{}
	for _, l := range a.labels {
		inA[l] = true
	}
	for _, l := range b.labels {
		inB[l] = true
	}
	a = n.sumOut(a, keep, inB)
	b = n.sumOut(b, keep, inA)
	var batch, contract, aOnly, bOnly []rune
	for _, l := range a.labels {
		switch {
		case inB[l] && keep[l]:
			batch = append(batch, l)
		case inB[l]:
			contract = append(contract, l)
		default:
			aOnly = append(aOnly, l)
		}
	}
	for _, l := range b.labels {
		if !inA[l] {
			bOnly = append(bOnly, l)
		}
	}
	dim := func(o einsumOperand, l rune) ir.Dim {
		for i, m := range o.labels {
			if m == l {
				return o.x.shape()[i]
			}
		}
		return ir.StaticDim(1)
	}
	prod := func(o einsumOperand, ls []rune) ir.Dim {
		p := ir.StaticDim(1)
		for _, l := range ls {
			var ok bool
			if p, ok = ir.MulDims(p, dim(o, l)); !ok {
				n.unsupported("Einsum over symbolic dims")
			}
		}
		return p
	}
	var batchA, batchB ir.Shape
	for _, l := range batch {
		batchA = append(batchA, dim(a, l))
		batchB = append(batchB, dim(b, l))
	}
	for _, l := range contract {
		if da, db := dim(a, l), dim(b, l); da != db && n.ok() {
			n.failf("index %q has sizes %v and %v", l, da, db)
		}
	}
	at := n.permuteTo(a, append(append(append([]rune{}, batch...), aOnly...), contract...))
	bt := n.permuteTo(b, append(append(append([]rune{}, batch...), contract...), bOnly...))
	am := n.reshape(at, append(batchA.Clone(), prod(a, aOnly), prod(a, contract)))
	bm := n.reshape(bt, append(batchB.Clone(), prod(b, contract), prod(b, bOnly)))
	if n.ok() && (!am.dtype().IsFloat() || am.dtype() != bm.dtype()) {
		n.unsupported("Einsum of %v and %v operands", am.dtype(), bm.dtype())
	}
	y := n.op(ir.OpMatMul, nil, am, bm)
	if !n.ok() {
		return einsumOperand{x: placeholder()}
	}
	outBatch := y.shape()[:len(batch)]
	var shape ir.Shape
	shape = append(shape, outBatch...)
	for _, l := range aOnly {
		shape = append(shape, dim(a, l))
	}
	for _, l := range bOnly {
		shape = append(shape, dim(b, l))
	}
	labels := append(append(append([]rune{}, batch...), aOnly...), bOnly...)
	return einsumOperand{x: n.reshape(y, shape), labels: labels}
}

// diagonal removes repeated letters of an operand by taking diagonals: the
// second axis is moved next to the first, the pair is flattened to d·d
// elements and elements 0, d+1, 2(d+1), … are gathered.
func (n *node) diagonal(o einsumOperand) einsumOperand {
	for n.ok() {
		p, q := -1, -1
		for i := range o.labels {
			for j := i + 1; j < len(o.labels) && p < 0; j++ {
				if o.labels[i] == o.labels[j] {
					p, q = i, j
				}
			}
		}
		if p < 0 {
			return o
		}
		sh := o.x.shape()
		d := sh[p]
		if !d.IsStatic() || sh[q] != d {
			n.unsupported("a diagonal over dims %v and %v", d, sh[q])
			return o
		}
		var perm []int64
		var labels []rune
		for i := range o.labels {
			if i == q {
				continue
			}
			perm = append(perm, int64(i))
			labels = append(labels, o.labels[i])
			if i == p {
				perm = append(perm, int64(q))
			}
		}
		x := n.transpose(o.x, perm)
		merged := append(append(x.shape()[:p:p], ir.StaticDim(d.Off*d.Off)), x.shape()[p+2:]...)
		x = n.reshape(x, merged)
		if !n.alloc(d.Off, 8) {
			return o
		}
		idx := make([]int64, d.Off)
		for i := range idx {
			idx[i] = int64(i) * (d.Off + 1)
		}
		o = einsumOperand{x: n.op(ir.OpGather, ir.Attrs{"axis": int64(p)}, x, i64s(idx...)), labels: labels}
	}
	return o
}

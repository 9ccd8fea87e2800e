package passes

import (
	"fmt"
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// Axis labels let a matcher follow a tensor's axes through the layout ops
// exporters put around a pattern. A labelling gives each axis of a value
// a label (a small int naming a logical axis, such as "the batch") or -1
// for an axis of static size 1, which carries no data. Transposes,
// Reshapes that only add or drop dims of size 1 (and Gathers of index 0
// of a size-1 axis), Expands and broadcasting operands move labels from axis to axis without changing which data
// element a label tuple names, so two values reached through such ops
// from one source agree element by element on the labels they share.

// isUnit reports whether d is the static size 1.
func isUnit(d ir.Dim) bool { return d == ir.StaticDim(1) }

// identLabels labels each axis of s by its index (-1 for size-1 axes).
func identLabels(s ir.Shape) []int {
	l := make([]int, len(s))
	for i, d := range s {
		l[i] = i
		if isUnit(d) {
			l[i] = -1
		}
	}
	return l
}

// mapUnits carries labels of shape from onto shape to when the two have
// the same dims once the size-1 dims are dropped (a Reshape that only adds
// or removes unit dims); ok is false otherwise.
func mapUnits(from, to ir.Shape, labels []int) ([]int, bool) {
	var dims ir.Shape
	var lab []int
	for i, d := range from {
		if !isUnit(d) {
			dims, lab = append(dims, d), append(lab, labels[i])
		}
	}
	out := make([]int, len(to))
	k := 0
	for i, d := range to {
		out[i] = -1
		if isUnit(d) {
			continue
		}
		if k >= len(dims) || dims[k] != d {
			return nil, false
		}
		out[i] = lab[k]
		k++
	}
	return out, k == len(dims)
}

// bcastLabels labels an operand of shape in that broadcasts (NumPy
// rules, right-aligned) to a value of shape out labelled labels.
func bcastLabels(in, out ir.Shape, labels []int) []int {
	off := len(out) - len(in)
	l := make([]int, len(in))
	for j, d := range in {
		l[j] = -1
		if !isUnit(d) && j+off >= 0 {
			l[j] = labels[j+off]
		}
	}
	return l
}

// viewSource follows v back through Transpose, unit-only Reshapes and
// Expand to the value whose data they show, and returns it with its
// axes' labels.
func viewSource(v *ir.Value, labels []int) (*ir.Value, []int) {
	for {
		switch v.Op {
		case ir.OpTranspose:
			perm := v.IntsAttr("perm")
			if len(perm) != len(labels) {
				return v, labels
			}
			in := make([]int, len(perm))
			for i, p := range perm {
				if p < 0 || int(p) >= len(in) {
					return v, labels
				}
				in[p] = labels[i]
			}
			v, labels = v.Args[0], in
		case ir.OpReshape:
			in, ok := mapUnits(v.Type.Shape, v.Args[0].Type.Shape, labels)
			if !ok {
				return v, labels
			}
			v, labels = v.Args[0], in
		case ir.OpExpand:
			v, labels = v.Args[0], bcastLabels(v.Args[0].Type.Shape, v.Type.Shape, labels)
		case ir.OpGather:
			ax, ok := unitGather(v)
			if !ok {
				return v, labels
			}
			labels = slices.Insert(slices.Clone(labels), ax, -1)
			v = v.Args[0]
		default:
			return v, labels
		}
	}
}

// unitGather reports whether g gathers index 0 (or -1) of an axis of
// size 1, dropping it: a view. It returns the axis.
func unitGather(g *ir.Value) (int, bool) {
	x, idx := g.Args[0].Type.Shape, g.Args[1]
	ax := int(g.IntAttr("axis"))
	if ax < 0 {
		ax += x.Rank()
	}
	if ax < 0 || ax >= x.Rank() || !isUnit(x[ax]) || idx.Op != ir.OpConst || idx.Type.Shape.Rank() != 0 {
		return 0, false
	}
	i := idx.Attrs.Tensor("value").At(0)
	return ax, i == 0 || i == -1
}

// viewForward carries v's labels onto its user w when w is a view of v
// (a Transpose, a unit-only Reshape, a Gather dropping a size-1 axis).
func viewForward(v, w *ir.Value, labels []int) ([]int, bool) {
	if len(w.Args) == 0 || w.Args[0] != v {
		return nil, false
	}
	switch w.Op {
	case ir.OpTranspose:
		perm := w.IntsAttr("perm")
		if len(perm) != len(labels) {
			return nil, false
		}
		out := make([]int, len(perm))
		for i, p := range perm {
			if p < 0 || int(p) >= len(labels) {
				return nil, false
			}
			out[i] = labels[p]
		}
		return out, true
	case ir.OpReshape:
		return mapUnits(w.Args[0].Type.Shape, w.Type.Shape, labels)
	case ir.OpGather:
		if ax, ok := unitGather(w); ok && w.Args[1] != v {
			return slices.Delete(slices.Clone(labels), ax, ax+1), true
		}
	}
	return nil, false
}

// labelSet returns the labels other than -1, sorted.
func labelSet(labels []int) []int {
	var s []int
	for _, l := range labels {
		if l >= 0 {
			s = append(s, l)
		}
	}
	slices.Sort(s)
	return s
}

// sameLabels reports whether labels (ignoring -1) are exactly want
// (ignoring -1), each once.
func sameLabels(labels []int, want ...int) bool {
	return slices.Equal(labelSet(labels), labelSet(want))
}

// hasLabel reports whether l (≥ 0) is among labels.
func hasLabel(labels []int, l int) bool { return l >= 0 && slices.Contains(labels, l) }

// fullyLabelled reports whether every axis of s that is not of size 1
// has a label.
func fullyLabelled(s ir.Shape, labels []int) bool {
	for i, d := range s {
		if labels[i] < 0 && !isUnit(d) {
			return false
		}
	}
	return true
}

// lfactor is a leaf of a product tree with its axes' labels.
type lfactor struct {
	v      *ir.Value
	labels []int
}

// labelledProduct flattens the product tree rooted at v (labelled
// labels) into its leaves, looking through views (viewSource) and
// descending into the Muls for which descend says so. The Muls descended
// into are appended to interior.
func labelledProduct(v *ir.Value, labels []int, descend func(w *ir.Value, l []int) bool, interior *[]*ir.Value) []lfactor {
	w, wl := viewSource(v, labels)
	if w.Op != ir.OpMul || !descend(w, wl) {
		return []lfactor{{w, wl}}
	}
	*interior = append(*interior, w)
	var out []lfactor
	for _, a := range w.Args {
		out = append(out, labelledProduct(a, bcastLabels(a.Type.Shape, w.Type.Shape, wl), descend, interior)...)
	}
	return out
}

// relayout returns x (labelled from) transposed and reshaped into shape,
// labelled to: x's size-1 axes dropped, its labelled axes put in to's
// order, then viewed as shape. Both must carry the same labels, and x
// only size-1 axes unlabelled.
func (t *txn) relayout(x *ir.Value, from, to []int, shape ir.Shape) *ir.Value {
	if x == nil || t.err != nil {
		return nil
	}
	var order []int
	var dims ir.Shape
	for i, l := range from {
		switch {
		case l >= 0:
			order, dims = append(order, l), append(dims, x.Type.Shape[i])
		case !isUnit(x.Type.Shape[i]):
			t.err = fmt.Errorf("relayout: axis %d of %v has no label", i, x)
			return nil
		}
	}
	want := labelSet(to)
	if len(want) != len(order) || !slices.Equal(labelSet(order), want) {
		t.err = fmt.Errorf("relayout: %v has labels %v, want %v", x, from, to)
		return nil
	}
	perm := make([]int64, 0, len(order))
	identity := true
	for _, l := range to {
		if l < 0 {
			continue
		}
		p := slices.Index(order, l)
		identity = identity && p == len(perm)
		perm = append(perm, int64(p))
	}
	cur := x
	if !identity {
		if !dims.Equal(cur.Type.Shape) {
			cur = t.op(ir.OpReshape, ir.Attrs{"shape": dims}, cur)
		}
		cur = t.op(ir.OpTranspose, ir.Attrs{"perm": perm}, cur)
	}
	if cur != nil && !cur.Type.Shape.Equal(shape) {
		cur = t.view(cur, shape)
	}
	return cur
}

package passes

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// generalizeLength makes a function traced at a fixed sequence length n
// accept any length, after fuse-scan has proven the unrolled steps
// identical by replacing their chain with one SelectiveScan over n. Every
// static dim n of the function's arguments becomes the symbol L (or L2,
// L3, … when taken), the body's types are inferred again, and a Reshape
// or Expand whose shape no longer fits gets n replaced by L in its shape
// attribute. The rewrite is kept only when every type infers and no op
// depends on the length other than elementwise (including broadcasting
// against values without the length), along a batch axis of MatMul, the
// rows of a norm, the time axis of CausalConv1d and SelectiveScan, or
// through Reshape, Expand, Transpose and Extract: a Slice, Gather, Split,
// Concat or reduction over the length, a MatMul contracting it, or any
// other op seeing it undoes the whole rewrite and leaves f as it was.
// It reports whether f changed.
func generalizeLength(f *ir.Func, n int64) bool {
	if n < 2 {
		return false
	}
	type argDim struct {
		a  *ir.Value
		ax int
	}
	var cands []argDim
	for _, a := range f.Args {
		for ax, d := range a.Type.Shape {
			if d == ir.StaticDim(n) {
				cands = append(cands, argDim{a, ax})
			}
		}
	}
	if len(cands) == 0 {
		return false
	}
	l := ir.SymDim(freshSymbol(f, "L"))
	setArgs := func(set []argDim, d ir.Dim) {
		for _, c := range set {
			s := c.a.Type.Shape.Clone()
			s[c.ax] = d
			c.a.Type = ir.TensorType(c.a.Type.DType, s)
		}
	}
	// try rewrites the function with the length in set; when that works
	// it returns a function that undoes it.
	try := func(set []argDim) (undo func(), ok bool) {
		setArgs(set, l)
		restore, ok := reinferLength(f, n, l)
		if !ok {
			setArgs(set, ir.StaticDim(n))
			return nil, false
		}
		return func() { restore(); setArgs(set, ir.StaticDim(n)) }, true
	}
	if _, ok := try(cands); ok {
		return true
	}
	// Some dim n of an argument is not the length (a state size or a
	// batch that happens to equal it): add candidates while the rewrite
	// keeps working, first all those at one axis position together (the
	// length is usually at the same axis of every sequence), then one by
	// one.
	var units [][]argDim
	maxRank := 0
	for _, a := range f.Args {
		maxRank = max(maxRank, a.Type.Shape.Rank())
	}
	for ax := 0; ax < maxRank; ax++ {
		var g []argDim
		for _, c := range cands {
			if c.ax == ax {
				g = append(g, c)
			}
		}
		if len(g) > 1 {
			units = append(units, g)
		}
	}
	for _, c := range cands {
		units = append(units, []argDim{c})
	}
	var kept []argDim
	for _, unit := range units {
		set := slices.Clone(kept)
		for _, c := range unit {
			if !slices.Contains(set, c) {
				set = append(set, c)
			}
		}
		if len(set) == len(kept) {
			continue
		}
		if undo, ok := try(set); ok {
			kept = set
			undo()
		}
	}
	if len(kept) == 0 {
		return false
	}
	_, ok := try(kept)
	return ok
}

// reinferLength infers the body's types again after arguments changed
// (see generalizeLength) and returns a function that restores the old
// types and attributes; on failure it restores them itself and returns
// false.
func reinferLength(f *ir.Func, n int64, l ir.Dim) (func(), bool) {
	type saved struct {
		v     *ir.Value
		t     ir.Type
		attrs ir.Attrs
	}
	var undo []saved
	restore := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i].v.Type, undo[i].v.Attrs = undo[i].t, undo[i].attrs
		}
	}
	for _, v := range f.Body {
		if v.Op.Info().Has(ir.Source) {
			continue
		}
		undo = append(undo, saved{v, v.Type, v.Attrs})
		t, err := ir.InferType(v)
		if (v.Op == ir.OpReshape || v.Op == ir.OpExpand) && (err != nil || hasSym(v.Args[0].Type.Shape, l.S) && !hasSym(t.Shape, l.S)) {
			if s, ok := substDim(v.Attrs.Shape("shape"), n, l); ok {
				v.Attrs = v.Attrs.Clone()
				v.Attrs["shape"] = s
				t, err = ir.InferType(v)
			}
		}
		if err == nil {
			v.Type = t
		}
		if err != nil || !lengthFree(v, l.S) {
			restore()
			return nil, false
		}
	}
	return restore, true
}

// substDim returns s with its dims n replaced by l, and whether any was.
func substDim(s ir.Shape, n int64, l ir.Dim) (ir.Shape, bool) {
	out, changed := s.Clone(), false
	for i, d := range out {
		if d == ir.StaticDim(n) {
			out[i], changed = l, true
		}
	}
	return out, changed
}

// freshSymbol returns base, or base followed by a number, whichever the
// function's argument shapes do not use.
func freshSymbol(f *ir.Func, base string) string {
	used := map[string]bool{}
	for _, a := range f.Args {
		for _, d := range a.Type.Shape {
			for _, s := range strings.Split(d.S, "*") {
				used[s] = true
			}
		}
	}
	name := base
	for i := 2; used[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	return name
}

// hasSym reports whether a dim of s involves symbol sym.
func hasSym(s ir.Shape, sym string) bool {
	return slices.ContainsFunc(s, func(d ir.Dim) bool { return dimHas(d, sym) })
}

func dimHas(d ir.Dim, sym string) bool {
	return d.S != "" && slices.Contains(strings.Split(d.S, "*"), sym)
}

// lengthFree reports whether v computes the same thing for every length
// sym may take (see generalizeLength).
func lengthFree(v *ir.Value, sym string) bool {
	seen := hasSym(v.Type.Shape, sym) || slices.ContainsFunc(v.Type.Elems, func(t ir.Type) bool { return hasSym(t.Shape, sym) })
	for _, a := range v.Args {
		seen = seen || a != nil && hasSym(a.Type.Shape, sym)
	}
	if !seen {
		return true
	}
	axisFree := func(x *ir.Value, axes ...int) bool {
		s := x.Type.Shape
		for _, ax := range axes {
			if ax < 0 {
				ax += s.Rank()
			}
			if ax < 0 || ax >= s.Rank() || dimHas(s[ax], sym) {
				return false
			}
		}
		return true
	}
	if v.Op.Info().Has(ir.Elementwise) {
		return true
	}
	switch v.Op {
	case ir.OpReshape, ir.OpExpand, ir.OpTranspose, ir.OpExtract, ir.OpCast:
		return true
	case ir.OpMatMul, ir.OpLoRAMatMul:
		k := v.Args[1].Type.Shape.Rank() - 2
		if v.BoolAttr("transpose_b") {
			k++
		}
		return axisFree(v.Args[0], -1) && axisFree(v.Args[1], k)
	case ir.OpRMSNorm, ir.OpAddRMSNorm:
		return axisFree(v.Args[0], -1)
	case ir.OpGather:
		return axisFree(v.Args[0], int(v.IntAttr("axis")))
	case ir.OpSplit, ir.OpSoftmax:
		return axisFree(v.Args[0], int(v.Attrs.Int("axis", 0)))
	case ir.OpConcat:
		for _, a := range v.Args {
			if !axisFree(a, int(v.Attrs.Int("axis", 0))) {
				return false
			}
		}
		return true
	case ir.OpReduceSum, ir.OpReduceMean, ir.OpReduceMax:
		return axisFree(v.Args[0], normAxes(v, v.Args[0].Type.Shape.Rank())...) && normAxes(v, v.Args[0].Type.Shape.Rank()) != nil
	case ir.OpCausalConv1d:
		return axisFree(v.Args[0], 0, 2) && (v.Arg(3) == nil || !hasSym(v.Arg(3).Type.Shape, sym))
	case ir.OpSelectiveScan:
		return axisFree(v.Args[0], 0, 2) && axisFree(v.Args[3], 0, -1) && axisFree(v.Args[4], 0, -1) &&
			(v.Arg(8) == nil || !hasSym(v.Arg(8).Type.Shape, sym))
	}
	return false
}

package ref

import (
	"fmt"
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// matmul64 is NumPy matmul on float64 data, with b transposed in its last
// two dims when transB:
//
//	a rank 1 [K] is read as [1, K] and b rank 1 [K] as [K, 1], the added
//	dim dropped from the result; batch dims (all but the last two)
//	broadcast; for every batch index p:
//	    y[p, m, n] = sum_{k=0..K-1} a[p, m, k] · b[p, k, n]   (b[p, n, k] if transB)
//
// summed in order of k. It returns the result and its shape.
func matmul64(a []float64, as []int64, b []float64, bs []int64, transB bool) ([]float64, []int64, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, nil, fmt.Errorf("scalar operand")
	}
	if transB && len(bs) < 2 {
		return nil, nil, fmt.Errorf("transpose_b needs b of rank ≥ 2, has %v", bs)
	}
	vecA, vecB := len(as) == 1, len(bs) == 1
	if vecA {
		as = []int64{1, as[0]}
	}
	if vecB {
		bs = []int64{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	kb, n := bs[len(bs)-2], bs[len(bs)-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, nil, fmt.Errorf("contraction dims differ: %v · %v", as, bs)
	}
	aBatch, bBatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := broadcastShapes(aBatch, bBatch)
	if err != nil {
		return nil, nil, err
	}
	outShape := append(slices.Clone(batch), m, n)
	if _, err := numElements(outShape); err != nil {
		return nil, nil, err
	}
	ba, bb := newBroadcaster(aBatch, batch), newBroadcaster(bBatch, batch)
	nb := product(batch)
	out := make([]float64, nb*m*n)
	for p := int64(0); p < nb; p++ {
		aOff, bOff := ba.index(p)*m*k, bb.index(p)*k*n
		for i := int64(0); i < m; i++ {
			for j := int64(0); j < n; j++ {
				sum := 0.0
				for l := int64(0); l < k; l++ {
					bIdx := bOff + l*n + j
					if transB {
						bIdx = bOff + j*k + l
					}
					sum += a[aOff+i*k+l] * b[bIdx]
				}
				out[(p*m+i)*n+j] = sum
			}
		}
	}
	// Drop the dims that the promotion of vectors added.
	final := slices.Clone(batch)
	if !vecA {
		final = append(final, m)
	}
	if !vecB {
		final = append(final, n)
	}
	return out, final, nil
}

// broadcastShapes is NumPy broadcasting of two static shapes.
func broadcastShapes(a, b []int64) ([]int64, error) {
	n := max(len(a), len(b))
	out := make([]int64, n)
	for i := range out {
		da, db := int64(1), int64(1)
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// evalMatMul computes MatMul (see matmul64) in float64 and rounds the
// result to a's dtype; b may be in a narrower float type. With round, a
// is rounded to that dtype first and the product before the final
// rounding; with split, the result's columns are returned in pieces.
func evalMatMul(c *call) ([]*ir.Tensor, error) {
	a, b := c.args[0], c.args[1]
	av := a.Float64s()
	rt, round := c.at.Attrs["round"].(ir.DType)
	if round {
		for i, x := range av {
			av[i] = roundTo(rt, x)
		}
	}
	y, shape, err := matmul64(av, a.Shape, b.Float64s(), b.Shape, c.at.BoolAttr("transpose_b"))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	if round {
		for i, x := range y {
			y[i] = roundTo(rt, x)
		}
	}
	if _, ok := c.at.Attrs["split"]; ok {
		return splitLast(c, y, shape, c.at.IntsAttr("split"))
	}
	return []*ir.Tensor{floatTensor(c.out[0].DType, shape, y)}, nil
}

// splitLast returns the column blocks of y (row-major, shape) of the
// given sizes along its last axis, one tensor each.
func splitLast(c *call, y []float64, shape []int64, sizes []int64) ([]*ir.Tensor, error) {
	n := shape[len(shape)-1]
	total := int64(0)
	for _, s := range sizes {
		total += s
	}
	if total != n || len(sizes) != len(c.out) {
		return nil, c.errorf("split %v does not divide %d columns into %d results", sizes, n, len(c.out))
	}
	rows := int64(len(y)) / max(n, 1)
	res := make([]*ir.Tensor, len(sizes))
	off := int64(0)
	for p, s := range sizes {
		part := make([]float64, 0, rows*s)
		for r := int64(0); r < rows; r++ {
			part = append(part, y[r*n+off:r*n+off+s]...)
		}
		ps := append([]int64(nil), shape...)
		ps[len(ps)-1] = s
		res[p] = floatTensor(c.out[p].DType, ps, part)
		off += s
	}
	return res, nil
}

// evalLoRAMatMul computes, in float64 with one rounding at the end,
//
//	y = x·W + scale·((x·A)·B)          (W [K,N], A [K,r], B [r,N])
//	y = x·Wᵀ + scale·((x·Aᵀ)·Bᵀ)       when transpose_b (W [N,K], A [r,K], B [N,r])
//
// each product as in matmul64 (x may have batch dims or be a vector).
func evalLoRAMatMul(c *call) ([]*ir.Tensor, error) {
	x, w, a, b := c.args[0], c.args[1], c.args[2], c.args[3]
	tb := c.at.BoolAttr("transpose_b")
	scale := c.at.FloatAttr("scale")
	xv := x.Float64s()
	base, shape, err := matmul64(xv, x.Shape, w.Float64s(), w.Shape, tb)
	if err != nil {
		return nil, c.errorf("x·W: %v", err)
	}
	xa, xaShape, err := matmul64(xv, x.Shape, a.Float64s(), a.Shape, tb)
	if err != nil {
		return nil, c.errorf("x·A: %v", err)
	}
	low, lowShape, err := matmul64(xa, xaShape, b.Float64s(), b.Shape, tb)
	if err != nil {
		return nil, c.errorf("(x·A)·B: %v", err)
	}
	if !slices.Equal(shape, lowShape) {
		return nil, c.errorf("low-rank path gives %v, base %v", lowShape, shape)
	}
	for i := range base {
		base[i] += scale * low[i]
	}
	return []*ir.Tensor{floatTensor(c.out[0].DType, shape, base)}, nil
}

package cpu

import "github.com/ssmc-dev/ssmc/ir"

// The two forms of MatMul the passes shape projections into: split
// (fuse-split: the pieces of the result written where they go) and round
// (fold-casts: the bf16/f16 rounding of the operand and the result that
// the folded Casts did).

// matmulSplitKernel computes MatMul(a, b){transpose_b, split = [n_0, …]}
// with b a matrix [N, K]: result p is
//
//	y_p[i, j] = sum_l a[i, l] · b[o_p + j, l]     (o_p = n_0 + … + n_(p-1))
//
// for every row i of a (batch dims included), by matmulNTSplit: one pass
// over b for all parts when decoding.
func matmulSplitKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	a, err := f32Operand(v, in, 0, "a")
	if err != nil {
		return err
	}
	b, err := operand(v, in, 1, "b")
	if err != nil {
		return err
	}
	w, ok := weightOf(b)
	if !ok || len(b.Shape) != 2 || !v.BoolAttr("transpose_b") {
		return kernelError(v, "split needs transpose_b and a float matrix b, b is %v", b)
	}
	sizes := v.IntsAttr("split")
	if len(sizes) != len(out) || len(sizes) > len(s.parts) {
		return kernelError(v, "split %v into %d results", sizes, len(out))
	}
	k, n := b.Shape[1], b.Shape[0]
	if len(a.Shape) == 0 || a.Shape[len(a.Shape)-1] != k {
		return kernelError(v, "cannot multiply %v by %vᵀ", a, b)
	}
	rows := prod(a.Shape[:len(a.Shape)-1])
	parts := s.parts[:len(sizes)]
	off := 0
	for p, sz := range sizes {
		y, err := f32Result(v, out, p)
		if err != nil {
			return err
		}
		if len(y.F32) != rows*int(sz) {
			return kernelError(v, "result %d is %v, want %d rows of %d", p, y, rows, sz)
		}
		parts[p] = splitPart{y: y.F32, off: off, n: int(sz)}
		off += int(sz)
	}
	if off != n {
		return kernelError(v, "split %v does not cover the %d rows of b", sizes, n)
	}
	switch rt, round := v.Attrs["round"].(ir.DType); {
	case round && rt == ir.BF16 && bf16GEMMOK(rows, w):
		// a rounded to bf16 times bf16 b: the bf16 dot-product GEMM
		// (which rounds a and the results itself).
		matmulNTBF16(parts, a.F32, rows, k, w)
	case round:
		matmulNTSplit(parts, roundedOperand(s, rt, a).F32, rows, k, w)
		roundResults(rt, out)
	default:
		matmulNTSplit(parts, a.F32, rows, k, w)
	}
	for p := range parts {
		parts[p] = splitPart{}
	}
	return nil
}

// roundedOperand returns a copy of a in s's scratch with every element
// rounded to dt (bf16 or f16) and back: the operand of MatMul{round}.
func roundedOperand(s *Scratch, dt ir.DType, a *Tensor) *Tensor {
	n := len(a.F32)
	if cap(s.rounded) < n {
		s.rounded = make([]float32, n)
	}
	r := &s.roundedT
	*r = Tensor{DType: ir.F32, Shape: a.Shape, F32: s.rounded[:n]}
	castF32(dt, r.F32, a.F32)
	return r
}

// roundResults rounds the f32 results of MatMul{round} to dt and back,
// in place.
func roundResults(dt ir.DType, out []*Tensor) {
	for _, y := range out {
		if y != nil {
			castF32(dt, y.F32, y.F32)
		}
	}
}

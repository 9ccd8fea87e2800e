package cpu

import (
	"encoding/binary"
	"math"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpMatMul, matmulKernel)
	register(ir.OpLoRAMatMul, loraKernel)
}

// weight reads the elements of an f32, bf16 or f16 matrix operand as
// float32, a row at a time, converting narrow formats on the fly.
type weight struct {
	dt  ir.DType
	f32 []float32
	raw []byte
}

// weightOf checks that t is a float tensor a matmul can read.
func weightOf(t *Tensor) (weight, bool) {
	switch t.DType {
	case ir.F32:
		return weight{dt: ir.F32, f32: t.F32}, true
	case ir.BF16, ir.F16:
		return weight{dt: t.DType, raw: t.Raw}, true
	}
	return weight{}, false
}

// slice returns elements [start, start+n) as a weight.
func (w weight) slice(start, n int) weight {
	if w.dt == ir.F32 {
		return weight{dt: w.dt, f32: w.f32[start : start+n]}
	}
	return weight{dt: w.dt, raw: w.raw[2*start : 2*(start+n)]}
}

// row returns elements [start, start+n) as float32: a subslice of the
// data for f32, else converted into buf (len ≥ n).
func (w weight) row(buf []float32, start, n int) []float32 {
	switch w.dt {
	case ir.F32:
		return w.f32[start : start+n]
	case ir.BF16:
		bf16Row(buf[:n], w.raw[2*start:2*(start+n)])
	default:
		f16Row(buf[:n], w.raw[2*start:2*(start+n)])
	}
	return buf[:n]
}

// bf16Row widens little-endian bf16 src into dst (len(src) = 2·len(dst)):
// each value's 16 bits become the high half of a float32. It reads four
// values per 8-byte load.
func bf16Row(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		u := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = math.Float32frombits(uint32(u) << 16)
		d[1] = math.Float32frombits(uint32(u) &^ 0xffff)
		d[2] = math.Float32frombits(uint32(u>>32) << 16)
		d[3] = math.Float32frombits(uint32(u>>32) &^ 0xffff)
	}
	for ; i < len(dst); i++ {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// f16Row widens little-endian IEEE binary16 src into dst (len(src) =
// 2·len(dst)), exactly. Four values are read per 8-byte load; when all
// four are normal (exponent neither 0 nor 31, tested on the four
// exponents at once) each is widened by moving its exponent and mantissa
// bits into place and rebiasing the exponent (15 to 127); otherwise
// (zeros, subnormals, infinities, NaN) f16ToF32 handles them one by one.
func f16Row(dst []float32, src []byte) {
	const (
		ones = 0x0001000100010001
		bit5 = 0x0020002000200020
		exp5 = 0x001f001f001f001f
	)
	src = src[:2*len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		u := binary.LittleEndian.Uint64(src[2*i:])
		e := u >> 10 & exp5 // the four exponents
		d := dst[i : i+4 : i+4]
		// e+31 reaches bit 5 unless e = 0; e+1 reaches it only when e = 31.
		if (e+exp5)&bit5 != bit5 || (e+ones)&bit5 != 0 {
			for j := range d {
				d[j] = f16ToF32(uint16(u >> (16 * j)))
			}
			continue
		}
		lo, hi := uint32(u), uint32(u>>32)
		d[0] = math.Float32frombits((lo&0x8000)<<16 | ((lo&0x7fff)<<13 + (127-15)<<23))
		d[1] = math.Float32frombits(lo&0x80000000 | ((lo>>16&0x7fff)<<13 + (127-15)<<23))
		d[2] = math.Float32frombits((hi&0x8000)<<16 | ((hi&0x7fff)<<13 + (127-15)<<23))
		d[3] = math.Float32frombits(hi&0x80000000 | ((hi>>16&0x7fff)<<13 + (127-15)<<23))
	}
	for ; i < len(dst); i++ {
		dst[i] = f16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// f16ToF32 widens one binary16 value exactly: normal values by moving
// bits and rebiasing the exponent, the rest through half.F16ToF32.
func f16ToF32(h uint16) float32 {
	if e := h & 0x7c00; e == 0 || e == 0x7c00 {
		return half.F16ToF32(h)
	}
	x := uint32(h)
	return math.Float32frombits((x&0x8000)<<16 | ((x&0x7fff)<<13 + (127-15)<<23))
}

// dotBF16 returns sum_i a[i]·w[i] with w read from little-endian bf16
// bytes (len(w) = 2·len(a)), widening on the fly, with eight partial sums.
func dotBF16(a []float32, w []byte) float32 {
	w = w[:2*len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x := a[i : i+8 : i+8]
		u := binary.LittleEndian.Uint64(w[2*i:])
		v := binary.LittleEndian.Uint64(w[2*i+8:])
		s0 += x[0] * math.Float32frombits(uint32(u)<<16)
		s1 += x[1] * math.Float32frombits(uint32(u)&^0xffff)
		s2 += x[2] * math.Float32frombits(uint32(u>>32)<<16)
		s3 += x[3] * math.Float32frombits(uint32(u>>32)&^0xffff)
		s4 += x[4] * math.Float32frombits(uint32(v)<<16)
		s5 += x[5] * math.Float32frombits(uint32(v)&^0xffff)
		s6 += x[6] * math.Float32frombits(uint32(v>>32)<<16)
		s7 += x[7] * math.Float32frombits(uint32(v>>32)&^0xffff)
	}
	for ; i < len(a); i++ {
		s0 += a[i] * math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*i:]))<<16)
	}
	return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))
}

// gemm computes y = beta·y + alpha·(a·b) for one matrix product, where a
// is [m, k] (rows k apart from offset ao), b is read from w at offset bo
// as [k, n] or, when transB, [n, k], and y is [m, n] contiguous. beta is 0
// (y is overwritten) or 1 (y is accumulated into). buf holds one row of b
// (max(k, n) floats) when b is not f32. The plain transB product (alpha
// 1, beta 0) goes to matmulNT; the rest (LoRA's scaled update, products
// without transB) run the loops below.
//
//	transB:  y[i,j] = beta·y[i,j] + alpha·sum_l a[i,l]·b[j,l]   (dot products of rows)
//	else:    y[i,j] = beta·y[i,j] + alpha·sum_l a[i,l]·b[l,j]   (i-k-j loop, rows of b scaled)
func gemm(y, a []float32, ao int, w weight, bo int, m, k, n int, transB bool, alpha, beta float32, buf []float32) {
	y = y[:m*n]
	if transB && alpha == 1 && beta == 0 {
		// The plain product: vector primitives on the worker pool.
		matmulNT(y, a[ao:ao+m*k], m, k, n, w.slice(bo, n*k))
		return
	}
	if transB {
		for j := 0; j < n; j++ {
			if w.dt == ir.BF16 && m < 4 {
				// Too few rows to reuse a widened row: widen in the dot.
				wr := w.raw[2*(bo+j*k) : 2*(bo+j*k+k)]
				for i := 0; i < m; i++ {
					d := dotBF16(a[ao+i*k:ao+i*k+k], wr)
					if beta == 0 {
						y[i*n+j] = alpha * d
					} else {
						y[i*n+j] += alpha * d
					}
				}
				continue
			}
			br := w.row(buf, bo+j*k, k)
			i := 0
			for ; i+4 <= m; i += 4 {
				o := ao + i*k
				d0, d1, d2, d3 := dot4(a[o:o+k], a[o+k:o+2*k], a[o+2*k:o+3*k], a[o+3*k:o+4*k], br)
				if beta == 0 {
					y[i*n+j], y[(i+1)*n+j], y[(i+2)*n+j], y[(i+3)*n+j] = alpha*d0, alpha*d1, alpha*d2, alpha*d3
				} else {
					y[i*n+j] += alpha * d0
					y[(i+1)*n+j] += alpha * d1
					y[(i+2)*n+j] += alpha * d2
					y[(i+3)*n+j] += alpha * d3
				}
			}
			for ; i < m; i++ {
				d := dot(a[ao+i*k:ao+i*k+k], br)
				if beta == 0 {
					y[i*n+j] = alpha * d
				} else {
					y[i*n+j] += alpha * d
				}
			}
		}
		return
	}
	if beta == 0 {
		clear(y)
	}
	for l := 0; l < k; l++ {
		br := w.row(buf, bo+l*n, n)
		for i := 0; i < m; i++ {
			axpy(y[i*n:i*n+n], alpha*a[ao+i*k+l], br)
		}
	}
}

// dot returns sum_i a[i]·b[i] in float32 with eight partial sums.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x, z := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += x[0] * z[0]
		s1 += x[1] * z[1]
		s2 += x[2] * z[2]
		s3 += x[3] * z[3]
		s4 += x[4] * z[4]
		s5 += x[5] * z[5]
		s6 += x[6] * z[6]
		s7 += x[7] * z[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))
}

// dot4 returns the dot products of four rows with b, reading b once,
// each with two partial sums.
func dot4(a0, a1, a2, a3, b []float32) (float32, float32, float32, float32) {
	n := len(b)
	a0, a1, a2, a3 = a0[:n], a1[:n], a2[:n], a3[:n]
	var s0, s1, s2, s3, t0, t1, t2, t3 float32
	i := 0
	for ; i+2 <= n; i += 2 {
		b0, b1 := b[i], b[i+1]
		s0 += a0[i] * b0
		t0 += a0[i+1] * b1
		s1 += a1[i] * b0
		t1 += a1[i+1] * b1
		s2 += a2[i] * b0
		t2 += a2[i+1] * b1
		s3 += a3[i] * b0
		t3 += a3[i+1] * b1
	}
	if i < n {
		b0 := b[i]
		s0 += a0[i] * b0
		s1 += a1[i] * b0
		s2 += a2[i] * b0
		s3 += a3[i] * b0
	}
	return s0 + t0, s1 + t1, s2 + t2, s3 + t3
}

// axpy computes y += alpha·x.
func axpy(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		yy, xx := y[i:i+4:i+4], x[i:i+4:i+4]
		yy[0] += alpha * xx[0]
		yy[1] += alpha * xx[1]
		yy[2] += alpha * xx[2]
		yy[3] += alpha * xx[3]
	}
	for ; i < len(y); i++ {
		y[i] += alpha * x[i]
	}
}

// mmDims are the sizes of a NumPy matmul: a [..., m, k] (or [k]) times b
// [..., k, n] (or [..., n, k] with transB, or [k]).
type mmDims struct {
	m, k, n      int
	vecA, vecB   bool
	aBatch, bBat []int
}

// matmulDims checks the operand shapes of a matmul and returns its sizes.
func matmulDims(as, bs []int, transB bool) (mmDims, bool) {
	var d mmDims
	if len(as) == 0 || len(bs) == 0 || (transB && len(bs) < 2) {
		return d, false
	}
	d.vecA, d.vecB = len(as) == 1, len(bs) == 1
	if d.vecA {
		d.m, d.k = 1, as[0]
	} else {
		d.m, d.k = as[len(as)-2], as[len(as)-1]
		d.aBatch = as[:len(as)-2]
	}
	kb := 0
	switch {
	case d.vecB:
		kb, d.n = bs[0], 1
	case transB:
		d.n, kb = bs[len(bs)-2], bs[len(bs)-1]
	default:
		kb, d.n = bs[len(bs)-2], bs[len(bs)-1]
	}
	if !d.vecB {
		d.bBat = bs[:len(bs)-2]
	}
	return d, kb == d.k
}

// checkOut reports whether y is the matmul's result shape:
// broadcast(aBatch, bBatch) ++ [m unless vecA] ++ [n unless vecB].
func (d *mmDims) checkOut(y []int) bool {
	nb := max(len(d.aBatch), len(d.bBat))
	r := nb
	if !d.vecA {
		r++
	}
	if !d.vecB {
		r++
	}
	if len(y) != r {
		return false
	}
	for i := 0; i < nb; i++ {
		da, db := 1, 1
		if j := i - nb + len(d.aBatch); j >= 0 {
			da = d.aBatch[j]
		}
		if j := i - nb + len(d.bBat); j >= 0 {
			db = d.bBat[j]
		}
		switch {
		case da == db || db == 1:
			if y[i] != da {
				return false
			}
		case da == 1:
			if y[i] != db {
				return false
			}
		default:
			return false
		}
	}
	if !d.vecA && y[nb] != d.m {
		return false
	}
	return d.vecB || y[r-1] == d.n
}

// matmulKernel computes MatMul with NumPy semantics in float32:
//
//	a [k] is read as [1, k] and b [k] as [k, 1], the added dim dropped;
//	batch dims (all but the last two) broadcast; for every batch index p:
//	    y[p, i, j] = sum_l a[p, i, l] · b[p, l, j]      (b[p, j, l] if transpose_b)
//
// a is f32; b is f32, bf16 or f16 (converted on the fly). With
// transpose_b (the Linear layout of every projection) the product runs on
// the worker pool with the vector primitives (matmulNT: GEMV for up to
// eight rows of a, packed GEMM beyond); otherwise an i-k-j loop adds
// scaled rows of b. A b without batch dims multiplies all rows of a at
// once.
func matmulKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	if v != nil && v.Attrs["split"] != nil {
		return matmulSplitKernel(s, v, in, out)
	}
	a, err := f32Operand(v, in, 0, "a")
	if err != nil {
		return err
	}
	b, err := operand(v, in, 1, "b")
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	w, ok := weightOf(b)
	if !ok {
		return kernelError(v, "operand b is %v, want f32, bf16 or f16", b)
	}
	transB := v.BoolAttr("transpose_b")
	d, ok := matmulDims(a.Shape, b.Shape, transB)
	if !ok || !d.checkOut(y.Shape) {
		return kernelError(v, "cannot multiply %v by %v (transpose_b %v) into %v", a, b, transB, y)
	}
	rt, round := v.Attrs["round"].(ir.DType)
	if rows := prod(a.Shape[:len(a.Shape)-1]); round && rt == ir.BF16 && transB && len(d.bBat) == 0 && bf16GEMMOK(rows, w) {
		// a rounded to bf16 times bf16 b: the bf16 dot-product GEMM
		// (which rounds a and y itself).
		parts := s.parts[:1]
		parts[0] = splitPart{y: y.F32, n: d.n}
		matmulNTBF16(parts, a.F32, rows, d.k, w)
		parts[0] = splitPart{}
		return nil
	}
	if round {
		a = roundedOperand(s, rt, a)
		defer roundResults(rt, out)
	}
	var buf []float32
	if w.dt != ir.F32 {
		buf = s.F32(max(d.k, d.n))
	}
	if len(d.bBat) == 0 {
		// One matrix b: every row of a (batch dims included) at once.
		rows := prod(a.Shape[:len(a.Shape)-1])
		gemm(y.F32, a.F32, 0, w, 0, rows, d.k, d.n, transB, 1, 0, buf)
		return nil
	}
	// Broadcast batch dims: walk the batch index space, tracking the
	// matrix index of a (operand 0) and b (operand 1).
	nb := len(y.Shape) - 1 // b has batch dims, so it is not a vector
	if !d.vecA {
		nb--
	}
	batch := y.Shape[:nb]
	var it walk
	it.init(s.Ints(walkInts(nb)), batch, 2)
	broadcastStrides(&it, 0, d.aBatch, batch)
	broadcastStrides(&it, 1, d.bBat, batch)
	it.prepare()
	mk, kn, mn := d.m*d.k, d.k*d.n, d.m*d.n
	p := 0
	for r := 0; r < it.rows; r++ {
		for i := 0; i < it.n; i++ {
			ao, bo := (it.off[0]+i*it.inner[0])*mk, (it.off[1]+i*it.inner[1])*kn
			gemm(y.F32[p*mn:], a.F32, ao, w, bo, d.m, d.k, d.n, transB, 1, 0, buf)
			p++
		}
		it.next()
	}
	return nil
}

// loraKernel computes LoRAMatMul in float32:
//
//	y = x·W + scale·((x·A)·B)        W [K,N], A [K,r], B [r,N]
//	y = x·Wᵀ + scale·((x·Aᵀ)·Bᵀ)     transpose_b: W [N,K], A [r,K], B [N,r]
//
// x is [..., K] (or [K]); every row of x goes through gemm: y = x·W, then
// t = x·A into scratch, then y += scale·(t·B). W, A and B may be f32, bf16
// or f16.
func loraKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	var ws [3]weight
	var shapes [3][]int
	for i, name := range [3]string{"W", "A", "B"} {
		t, err := operand(v, in, i+1, name)
		if err != nil {
			return err
		}
		var ok bool
		if ws[i], ok = weightOf(t); !ok || len(t.Shape) != 2 {
			return kernelError(v, "operand %s is %v, want an f32, bf16 or f16 matrix", name, t)
		}
		shapes[i] = t.Shape
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	tb := v.BoolAttr("transpose_b")
	if len(x.Shape) == 0 {
		return kernelError(v, "x is a scalar")
	}
	k := x.Shape[len(x.Shape)-1]
	// Sizes from each matrix: rows/cols as stored.
	wk, wn := shapes[0][0], shapes[0][1]
	ak, ar := shapes[1][0], shapes[1][1]
	br, bn := shapes[2][0], shapes[2][1]
	if tb {
		wk, wn, ak, ar, br, bn = wn, wk, ar, ak, bn, br
	}
	n := wn
	ok := wk == k && ak == k && br == ar && bn == n && len(y.Shape) == len(x.Shape) &&
		sameShape(y.Shape[:len(y.Shape)-1], x.Shape[:len(x.Shape)-1]) && y.Shape[len(y.Shape)-1] == n
	if !ok {
		return kernelError(v, "shapes x %v, W %v, A %v, B %v (transpose_b %v) do not give %v", x, shapes[0], shapes[1], shapes[2], tb, y)
	}
	rows := prod(x.Shape[:len(x.Shape)-1])
	r := ar
	tmp := s.F32(rows*r + max(k, n, r))
	t, buf := tmp[:rows*r], tmp[rows*r:]
	gemm(y.F32, x.F32, 0, ws[0], 0, rows, k, n, tb, 1, 0, buf)
	gemm(t, x.F32, 0, ws[1], 0, rows, k, r, tb, 1, 0, buf)
	gemm(y.F32, t, 0, ws[2], 0, rows, r, n, tb, float32(v.FloatAttr("scale")), 1, buf)
	return nil
}

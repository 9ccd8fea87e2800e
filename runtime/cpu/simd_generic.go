package cpu

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// genericImpl is the pure-Go implementation of the vector primitives:
// the fallback on CPUs without AVX2+FMA, on other architectures and under
// the noasm build tag, and the implementation the assembly is tested
// against.
var genericImpl = vecImpl{
	name:    "go",
	gemvF32: gemvF32Go,
	gemvBF16: func(y []float32, ldy int, x []float32, m, k int, w []byte, rows int) {
		gemvNarrowGo(true, y, ldy, x, m, k, w, rows)
	},
	gemvF16: func(y []float32, ldy int, x []float32, m, k int, w []byte, rows int) {
		gemvNarrowGo(false, y, ldy, x, m, k, w, rows)
	},
	mr:          4,
	nr:          4,
	gemmKernel:  gemmKernelGo,
	packRows8:   packRows8Go,
	exp:         expGo,
	silu:        siluGo,
	softplus:    softplusGo,
	addSoftplus: addSoftplusGo,
	gate:        gateGo,
	fma:         fmaGo,
	scaleMul:    scaleMulGo,
	dot:         dot,
	scan16:      scan16Go,
	roundBF16:   roundBF16Go,
}

// roundBF16Go is roundBF16: each value rounded to bf16 (nearest even, NaN
// quieted) and widened back.
func roundBF16Go(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = math.Float32frombits(bf16Bits(v))
	}
}

// gemvF32Go is gemvF32: one dot product (eight partial sums) per output.
func gemvF32Go(y []float32, ldy int, x []float32, m, k int, w []float32, rows int) {
	for j := 0; j < rows; j++ {
		wr := w[j*k : j*k+k]
		for i := 0; i < m; i++ {
			y[i*ldy+j] = dot(x[i*k:i*k+k], wr)
		}
	}
}

// gemvNarrowGo is gemvBF16 (bf16) or gemvF16: each weight row is widened 256
// values at a time into a stack buffer shared by the m dot products.
func gemvNarrowGo(bf16 bool, y []float32, ldy int, x []float32, m, k int, w []byte, rows int) {
	var buf [256]float32
	var acc [8]float32
	for j := 0; j < rows; j++ {
		acc = [8]float32{}
		for l0 := 0; l0 < k; l0 += len(buf) {
			n := min(len(buf), k-l0)
			o := j*k + l0
			if bf16 {
				bf16Row(buf[:n], w[2*o:2*(o+n)])
			} else {
				f16Row(buf[:n], w[2*o:2*(o+n)])
			}
			for i := 0; i < m; i++ {
				acc[i] += dot(x[i*k+l0:i*k+l0+n], buf[:n])
			}
		}
		for i := 0; i < m; i++ {
			y[i*ldy+j] = acc[i]
		}
	}
}

// gemmKernelGo is gemmKernel with a 4×4 tile held in sixteen scalars.
func gemmKernelGo(kc int, a []float32, lda int, b []float32, c []float32, ldc int, acc bool) {
	a0, a1, a2, a3 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	b = b[:4*kc]
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for l := 0; l < kc; l++ {
		bb := b[4*l : 4*l+4 : 4*l+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		x := a0[l]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		x = a1[l]
		c10 += x * b0
		c11 += x * b1
		c12 += x * b2
		c13 += x * b3
		x = a2[l]
		c20 += x * b0
		c21 += x * b1
		c22 += x * b2
		c23 += x * b3
		x = a3[l]
		c30 += x * b0
		c31 += x * b1
		c32 += x * b2
		c33 += x * b3
	}
	rows := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i, r := range rows {
		cr := c[i*ldc : i*ldc+4 : i*ldc+4]
		if acc {
			cr[0] += r[0]
			cr[1] += r[1]
			cr[2] += r[2]
			cr[3] += r[3]
		} else {
			cr[0], cr[1], cr[2], cr[3] = r[0], r[1], r[2], r[3]
		}
	}
}

// packRows8Go is packRows8 a row at a time (narrow rows widened 256
// values at a time into a stack buffer).
func packRows8Go(dst []float32, ldd int, w weight, o, k, kb int) {
	packRowsGo(dst, ldd, w, o, k, 8, 0, kb)
}

// packRowsGo packs rows [0, rows) of w at columns [l0, l1) as packRows8.
func packRowsGo(dst []float32, ldd int, w weight, o, k, rows, l0, l1 int) {
	var buf [256]float32
	for j := 0; j < rows; j++ {
		for c0 := l0; c0 < l1; c0 += len(buf) {
			c1 := min(l1, c0+len(buf))
			s := o + j*k + c0
			var row []float32
			switch w.dt {
			case ir.F32:
				row = w.f32[s : s+c1-c0]
			case ir.BF16:
				row = buf[:c1-c0]
				bf16Row(row, w.raw[2*s:2*(s+c1-c0)])
			default:
				row = buf[:c1-c0]
				f16Row(row, w.raw[2*s:2*(s+c1-c0)])
			}
			for l, v := range row {
				dst[(c0+l)*ldd+j] = v
			}
		}
	}
}

func expGo(y, x []float32) {
	x = x[:len(y)]
	for i, a := range x {
		y[i] = a
	}
	expInPlace(y)
}

func siluGo(y, x []float32) {
	x = x[:len(y)]
	for i, a := range x {
		y[i] = silu32(a)
	}
}

func softplusGo(y, x []float32) {
	x = x[:len(y)]
	for i, a := range x {
		y[i] = softplus32(a)
	}
}

func addSoftplusGo(y, x, b []float32) {
	x, b = x[:len(y)], b[:len(y)]
	for i, a := range x {
		y[i] = softplus32(a + b[i])
	}
}

func gateGo(y, u, d, z []float32) {
	u, d, z = u[:len(y)], d[:len(y)], z[:len(y)]
	for i, a := range y {
		y[i] = (a + d[i]*u[i]) * silu32(z[i])
	}
}

func fmaGo(y, a, b []float32) {
	a, b = a[:len(y)], b[:len(y)]
	for i := range y {
		y[i] += a[i] * b[i]
	}
}

func scaleMulGo(y, x, w []float32, s float32) {
	x, w = x[:len(y)], w[:len(y)]
	for i, a := range x {
		y[i] = a * s * w[i]
	}
}

func scan16Go(h0, h, a []float32, nch, l int, y, u []float32, sy int, b, c []float32, sbc int) {
	var e [16]float32
	for ch := 0; ch < nch; ch++ {
		hc, ac := (*[16]float32)(h[16*ch:]), (*[16]float32)(a[16*ch:])
		*hc = *(*[16]float32)(h0[16*ch:])
		for t := 0; t < l; t++ {
			dt := y[t*sy+ch]
			dtu := dt * u[t*sy+ch]
			bt, ct := (*[16]float32)(b[t*sbc:]), (*[16]float32)(c[t*sbc:])
			for n := range e {
				e[n] = dt * ac[n]
			}
			expInPlace(e[:])
			var acc float32
			for n, hv := range hc {
				hv = e[n]*hv + dtu*bt[n]
				hc[n] = hv
				acc += hv * ct[n]
			}
			y[t*sy+ch] = acc
		}
	}
}

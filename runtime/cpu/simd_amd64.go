//go:build !noasm

package cpu

import (
	"encoding/binary"
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/ssmc-dev/ssmc/ir"
)

// The assembly implementations: AVX2+FMA (with F16C) and AVX-512 (F and
// BW, VL), added in that order so the best one the CPU supports is in use.
func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		addImpl(asmImpl(false))
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL {
			addImpl(asmImpl(true))
		}
	}
}

// asmImpl wraps the AVX-512 (z) or AVX2 routines. The routines take
// whole vectors only: the wrappers run the remainder of a length through
// a zero-padded stack buffer (elementwise ops, so that every element gets
// the same arithmetic, wherever it sits), or in Go where Go computes the
// same (scaleMul) or the order of a sum is free anyway (dot products).
func asmImpl(z bool) *vecImpl {
	lanes, name, mr, nr := 8, "avx2", 6, 16
	if z {
		lanes, name, mr, nr = 16, "avx512", 12, 32
	}
	a := asmSet{z: z, lanes: lanes}
	var bf16GEMM func(kp int, ap []uint32, lda int, b []uint32, c []float32, ldc int, acc bool)
	if z && cpu.X86.HasAVX512BF16 {
		bf16GEMM = func(kp int, ap []uint32, lda int, b []uint32, c []float32, ldc int, acc bool) {
			_, _, _ = ap[11*lda+kp-1], b[kp*32-1], c[11*ldc+31]
			gemmBF16KernelAVX512(kp, &ap[0], lda, &b[0], &c[0], ldc, acc)
		}
	}
	pass := 0
	if z {
		pass = 4 // x in registers (tools/asmgen gemvXReg)
	}
	return &vecImpl{
		gemmBF16: bf16GEMM,
		gemvPass: pass,
		name:     name,
		gemvF32: func(y []float32, ldy int, x []float32, m, k int, w []float32, rows int) {
			if k == 0 || m == 0 || rows == 0 {
				a.gemvZero(y, ldy, m, rows)
				return
			}
			_ = w[rows*k-1]
			a.gemv(0, y, ldy, x, m, k, (*byte)(unsafe.Pointer(&w[0])), rows)
			if kv := k &^ (lanes - 1); kv < k {
				for j := 0; j < rows; j++ {
					for i := 0; i < m; i++ {
						y[i*ldy+j] += dot(x[i*k+kv:i*k+k], w[j*k+kv:j*k+k])
					}
				}
			}
		},
		gemvBF16: func(y []float32, ldy int, x []float32, m, k int, w []byte, rows int) {
			a.gemvNarrow(1, y, ldy, x, m, k, w, rows)
		},
		gemvF16: func(y []float32, ldy int, x []float32, m, k int, w []byte, rows int) {
			a.gemvNarrow(2, y, ldy, x, m, k, w, rows)
		},
		mr: mr,
		nr: nr,
		gemmKernel: func(kc int, ap []float32, lda int, b []float32, c []float32, ldc int, acc bool) {
			_, _, _ = ap[(mr-1)*lda+kc-1], b[kc*nr-1], c[(mr-1)*ldc+nr-1]
			gemmKernelAsm(z, kc, &ap[0], lda, &b[0], &c[0], ldc, acc)
		},
		packRows8:   packRows8Asm,
		exp:         a.exp,
		silu:        a.silu,
		softplus:    a.softplus,
		addSoftplus: a.addSoftplus,
		gate:        a.gate,
		fma:         a.fma,
		scaleMul:    a.scaleMul,
		dot:         a.dot,
		scan16:      a.scan16,
		roundBF16:   a.roundBF16,
	}
}

// packRows8Asm is packRows8 by the AVX2 transposes, eight columns at a
// time; the last kb%8 columns in Go.
func packRows8Asm(dst []float32, ldd int, w weight, o, k, kb int) {
	kb8 := kb &^ 7
	if kb8 > 0 {
		_ = dst[(kb8-1)*ldd+7]
		switch w.dt {
		case ir.F32:
			_ = w.f32[o+7*k+kb8-1]
			packT8Asm(0, &dst[0], ldd, (*byte)(unsafe.Pointer(&w.f32[o])), 4*k, kb8)
		case ir.BF16, ir.F16:
			_ = w.raw[2*(o+7*k+kb8)-1]
			dt := 1
			if w.dt == ir.F16 {
				dt = 2
			}
			packT8Asm(dt, &dst[0], ldd, &w.raw[2*o], 2*k, kb8)
		}
	}
	if kb8 < kb {
		packRowsGo(dst, ldd, w, o, k, 8, kb8, kb)
	}
}

// asmSet holds the ISA choice for the wrapper methods.
type asmSet struct {
	z     bool
	lanes int
}

// gemvZero writes the zero dot products of an empty k.
func (a asmSet) gemvZero(y []float32, ldy, m, rows int) {
	for i := 0; i < m; i++ {
		clear(y[i*ldy : i*ldy+rows])
	}
}

// gemv checks the operands and runs the routine for the whole vectors
// of k, m rows of x at a time (m ≤ 8).
func (a asmSet) gemv(dt int, y []float32, ldy int, x []float32, m, k int, w *byte, rows int) {
	_, _ = x[m*k-1], y[(m-1)*ldy+rows-1]
	gemvAsm(a.z, dt, m, &y[0], ldy, &x[0], w, k, k&^(a.lanes-1), rows)
}

// gemvNarrow is gemv for bf16 (dt 1) or f16 (dt 2) weights.
func (a asmSet) gemvNarrow(dt int, y []float32, ldy int, x []float32, m, k int, w []byte, rows int) {
	if k == 0 || m == 0 || rows == 0 {
		a.gemvZero(y, ldy, m, rows)
		return
	}
	_ = w[2*rows*k-1]
	a.gemv(dt, y, ldy, x, m, k, &w[0], rows)
	kv := k &^ (a.lanes - 1)
	if kv == k {
		return
	}
	for j := 0; j < rows; j++ {
		for i := 0; i < m; i++ {
			var s float32
			for l := kv; l < k; l++ {
				h := binary.LittleEndian.Uint16(w[2*(j*k+l):])
				wv := math.Float32frombits(uint32(h) << 16)
				if dt == 2 {
					wv = f16ToF32(h)
				}
				s += x[i*k+l] * wv
			}
			y[i*ldy+j] += s
		}
	}
}

// split returns the length of the whole-vector part of n elements.
func (a asmSet) split(n int) int { return n &^ (a.lanes - 1) }

func (a asmSet) exp(y, x []float32) {
	n := len(y)
	x = x[:n]
	if v := a.split(n); v > 0 {
		expVAsm(a.z, &y[0], &x[0], v)
	}
	if v := a.split(n); v < n {
		var t [16]float32
		copy(t[:], x[v:])
		expVAsm(a.z, &t[0], &t[0], a.lanes)
		copy(y[v:], t[:])
	}
}

func (a asmSet) roundBF16(y, x []float32) {
	n := len(y)
	x = x[:n]
	if v := a.split(n); v > 0 {
		roundBF16VAsm(a.z, &y[0], &x[0], v)
	}
	if v := a.split(n); v < n {
		var t [16]float32
		copy(t[:], x[v:])
		roundBF16VAsm(a.z, &t[0], &t[0], a.lanes)
		copy(y[v:], t[:])
	}
}

func (a asmSet) silu(y, x []float32) {
	n := len(y)
	x = x[:n]
	if v := a.split(n); v > 0 {
		siluVAsm(a.z, &y[0], &x[0], v)
	}
	if v := a.split(n); v < n {
		var t [16]float32
		copy(t[:], x[v:])
		siluVAsm(a.z, &t[0], &t[0], a.lanes)
		copy(y[v:], t[:])
	}
}

func (a asmSet) softplus(y, x []float32) {
	n := len(y)
	x = x[:n]
	if v := a.split(n); v > 0 {
		softplusVAsm(a.z, &y[0], &x[0], v)
	}
	if v := a.split(n); v < n {
		var t [16]float32
		copy(t[:], x[v:])
		softplusVAsm(a.z, &t[0], &t[0], a.lanes)
		copy(y[v:], t[:])
	}
}

func (a asmSet) addSoftplus(y, x, b []float32) {
	n := len(y)
	x, b = x[:n], b[:n]
	if v := a.split(n); v > 0 {
		addSoftplusVAsm(a.z, &y[0], &x[0], &b[0], v)
	}
	if v := a.split(n); v < n {
		var t, tb [16]float32
		copy(t[:], x[v:])
		copy(tb[:], b[v:])
		addSoftplusVAsm(a.z, &t[0], &t[0], &tb[0], a.lanes)
		copy(y[v:], t[:])
	}
}

func (a asmSet) gate(y, u, d, z []float32) {
	n := len(y)
	u, d, z = u[:n], d[:n], z[:n]
	if v := a.split(n); v > 0 {
		gateVAsm(a.z, &y[0], &u[0], &d[0], &z[0], v)
	}
	if v := a.split(n); v < n {
		var ty, tu, td, tz [16]float32
		copy(ty[:], y[v:])
		copy(tu[:], u[v:])
		copy(td[:], d[v:])
		copy(tz[:], z[v:])
		gateVAsm(a.z, &ty[0], &tu[0], &td[0], &tz[0], a.lanes)
		copy(y[v:], ty[:])
	}
}

func (a asmSet) fma(y, x, w []float32) {
	n := len(y)
	x, w = x[:n], w[:n]
	v := a.split(n)
	if v > 0 {
		fmaVAsm(a.z, &y[0], &x[0], &w[0], v)
	}
	if v < n { // through the vector routine too: fused, like the rest
		var ty, tx, tw [16]float32
		copy(ty[:], y[v:])
		copy(tx[:], x[v:])
		copy(tw[:], w[v:])
		fmaVAsm(a.z, &ty[0], &tx[0], &tw[0], a.lanes)
		copy(y[v:], ty[:])
	}
}

func (a asmSet) scaleMul(y, x, w []float32, s float32) {
	n := len(y)
	x, w = x[:n], w[:n]
	v := a.split(n)
	if v > 0 {
		scaleMulVAsm(a.z, &y[0], &x[0], &w[0], s, v)
	}
	for i := v; i < n; i++ {
		y[i] = x[i] * s * w[i] // two roundings, as the vector routine
	}
}

func (a asmSet) dot(x, w []float32) float32 {
	n := len(x)
	w = w[:n]
	v := a.split(n)
	var s float32
	if v > 0 {
		s = dotVAsm(a.z, &x[0], &w[0], v)
	}
	for i := v; i < n; i++ {
		s += x[i] * w[i]
	}
	return s
}

func (a asmSet) scan16(h0, h, av []float32, nch, l int, y, u []float32, sy int, b, c []float32, sbc int) {
	if nch == 0 {
		return
	}
	_, _, _ = h0[16*nch-1], h[16*nch-1], av[16*nch-1]
	if l == 0 {
		copy(h[:16*nch], h0)
		return
	}
	_, _ = y[(l-1)*sy+nch-1], u[(l-1)*sy+nch-1]
	_, _ = b[(l-1)*sbc+15], c[(l-1)*sbc+15]
	scan16Asm(a.z, &h0[0], &h[0], &av[0], nch, l, &y[0], &u[0], sy, &b[0], &c[0], sbc)
}

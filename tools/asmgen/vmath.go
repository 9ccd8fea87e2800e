package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// emitExp replaces each lane x of v by e^x:
//
//	x = min(max(x, -104), 88.8)            (NaN stays NaN)
//	k = round(x·log2e);  r = (x - k·ln2hi) - k·ln2lo     |r| ≤ ln2/2
//	e^r ≈ 1 + r + r²/2 + ... + r⁷/5040     (Horner; truncation < 6e-9)
//	e^x = e^r · 2^k
//
// AVX-512 scales with VSCALEFPS; AVX2 multiplies by 2^(k>>1) and
// 2^(k-(k>>1)), each a normal float for k in [-150, 128], so results
// that are subnormal, zero or infinite come out right too.
func emitExp(s isa, v VecVirtual) {
	t := s.vec()
	VMOVUPS(c("expLo"), t)
	VMAXPS(v, t, v) // v = max(t, v): the second source, v, when NaN
	VMOVUPS(c("expHi"), t)
	VMINPS(v, t, v)
	k := s.vec()
	VMULPS(c("log2e"), v, k)
	if s.z {
		VRNDSCALEPS(U8(0), k, k)
	} else {
		VROUNDPS(U8(0), k, k)
	}
	VFNMADD231PS(c("ln2hi"), k, v)
	VFNMADD231PS(c("ln2lo"), k, v)
	p := s.vec()
	VMOVUPS(c("c7"), p)
	for _, cn := range []string{"c6", "c5", "c4", "c3", "c2", "one", "one"} {
		VFMADD213PS(c(cn), v, p) // p = v·p + cn
	}
	if s.z {
		VSCALEFPS(k, p, v)
		return
	}
	VCVTPS2DQ(k, k)
	VPSRAD(U8(1), k, t)
	VPSUBD(t, k, k)
	VPADDD(c("i127"), t, t)
	VPSLLD(U8(23), t, t)
	VPADDD(c("i127"), k, k)
	VPSLLD(U8(23), k, k)
	VMULPS(t, p, p)
	VMULPS(k, p, v)
}

// emitRecip sets r to 1/d for d in [1, 3] (or NaN): the hardware
// estimate (VRCP14PS, 14 bits; VRCPPS, 12 bits) refined by one Newton
// step, r = r0 + r0·(1 - d·r0), which squares the relative error (2^-28,
// 2^-24) before rounding: within about 2 ulp, at a fraction of VDIVPS's
// cost (a zmm division issues only every few cycles on Zen 4).
func emitRecip(s isa, d, r VecVirtual) {
	if s.z {
		VRCP14PS(d, r)
	} else {
		VRCPPS(d, r)
	}
	t := s.vec()
	VMOVUPS(c("one"), t)
	VFNMADD231PS(r, d, t) // t = 1 - d·r
	VFMADD231PS(t, r, r)  // r += r·t
}

// emitSiLU sets d to x·sigmoid(x); x is kept. With e = e^-|x| in (0, 1]
// and r = 1/(1 + e) (emitRecip: the divisor stays in [1, 2], so no
// overflow for any x), sigmoid(x) = r for x ≥ 0 and e·r for x < 0.
func emitSiLU(s isa, x, d VecVirtual) {
	e := s.vec()
	VANDPS(c("abs"), x, e)
	VXORPS(c("sign"), e, e)
	emitExp(s, e)
	den := s.vec()
	VADDPS(c("one"), e, den)
	r := s.vec()
	emitRecip(s, den, r)
	if s.z {
		neg, zero := K(), s.vec()
		VXORPS(zero, zero, zero)
		VCMPPS(U8(1), zero, x, neg) // x < 0 (false for NaN)
		VMULPS(e, r, neg, r)        // r = e·r where x < 0
	} else {
		er := s.vec()
		VMULPS(e, r, er)
		VBLENDVPS(x, er, r, r) // r = sign(x) ? e·r : r
	}
	VMULPS(r, x, d)
}

// emitSoftplus sets d to log(1 + e^x) = max(x, 0) + log1p(u), u =
// e^-|x|, with log1p(u) = 2·atanh(s) = s·(2 + z·(2/3 + z·(2/5 + ... +
// z·2/15))), s = u/(2+u) ≤ 1/3 (by emitRecip), z = s² (the rest of the
// series is below 2e-9 relative); x is kept.
func emitSoftplus(s isa, x, d VecVirtual) {
	u := s.vec()
	VANDPS(c("abs"), x, u)
	VXORPS(c("sign"), u, u)
	emitExp(s, u)
	t := s.vec()
	VADDPS(c("two"), u, t)
	r := s.vec()
	emitRecip(s, t, r)
	VMULPS(r, u, u) // s = u/(2+u)
	z := s.vec()
	VMULPS(u, u, z)
	p := s.vec()
	VMOVUPS(c("s15"), p)
	for _, cn := range []string{"s13", "s11", "s9", "s7", "s5", "s3", "two"} {
		VFMADD213PS(c(cn), z, p)
	}
	VMULPS(p, u, u)
	VXORPS(t, t, t)
	VMAXPS(x, t, t) // max(0, x), x when NaN
	VADDPS(u, t, d)
}

// vecLoop emits a loop over n/lanes whole vectors (n in a register,
// destroyed), calling body with the byte offset register advanced by one
// vector per iteration.
func vecLoop(s isa, l *labels, n Register, body func(off Register)) {
	off := GP64()
	XORQ(off, off)
	SHRQ(U8(s.lanesShift()), n)
	top, done := l.next("loop"), l.next("done")
	JZ(LabelRef(done))
	Label(top)
	body(off)
	ADDQ(U32(s.bytes()), off)
	DECQ(n)
	JNZ(LabelRef(top))
	Label(done)
}

// at is the memory operand base + off.
func at(base, off Register) Mem { return Mem{Base: base, Index: off, Scale: 1} }

// elementwise emits the elementwise kernels of s.
func elementwise(s isa) {
	unary := func(name, doc string, f func(x, d VecVirtual)) {
		TEXT(name+s.name, NOSPLIT, "func(y, x *float32, n int)")
		Pragma("noescape")
		Doc(name+s.name+" sets y[i] = "+doc+" for i < n, n a multiple of the vector width.", "y may equal x.")
		var l labels
		y, x, n := Load(Param("y"), GP64()), Load(Param("x"), GP64()), Load(Param("n"), GP64())
		vecLoop(s, &l, n, func(off Register) {
			v, d := s.vec(), s.vec()
			VMOVUPS(at(x, off), v)
			f(v, d)
			VMOVUPS(d, at(y, off))
		})
		vzeroRet()
	}
	unary("expV", "e^x[i]", func(x, d VecVirtual) { emitExp(s, x); VMOVUPS(x, d) })
	unary("siluV", "x[i]·sigmoid(x[i])", func(x, d VecVirtual) { emitSiLU(s, x, d) })
	unary("softplusV", "log(1+e^x[i])", func(x, d VecVirtual) { emitSoftplus(s, x, d) })
	unary("roundBF16V", "x[i] rounded to bf16 (nearest even; NaN quieted)", func(x, d VecVirtual) { emitRoundBF16(s, x, d) })

	{
		TEXT("addSoftplusV"+s.name, NOSPLIT, "func(y, x, b *float32, n int)")
		Pragma("noescape")
		Doc("addSoftplusV" + s.name + " sets y[i] = softplus(x[i] + b[i]) for i < n, n a multiple of the vector width.")
		var l labels
		y, x, b, n := Load(Param("y"), GP64()), Load(Param("x"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		vecLoop(s, &l, n, func(off Register) {
			v, d := s.vec(), s.vec()
			VMOVUPS(at(x, off), v)
			VADDPS(at(b, off), v, v)
			emitSoftplus(s, v, d)
			VMOVUPS(d, at(y, off))
		})
		vzeroRet()
	}
	{
		TEXT("gateV"+s.name, NOSPLIT, "func(y, u, d, z *float32, n int)")
		Pragma("noescape")
		Doc("gateV" + s.name + " sets y[i] = (y[i] + d[i]·u[i])·silu(z[i]) for i < n, n a multiple of the vector width.")
		var l labels
		y, u, d, z := Load(Param("y"), GP64()), Load(Param("u"), GP64()), Load(Param("d"), GP64()), Load(Param("z"), GP64())
		n := Load(Param("n"), GP64())
		vecLoop(s, &l, n, func(off Register) {
			acc, zv, g := s.vec(), s.vec(), s.vec()
			VMOVUPS(at(d, off), acc)
			VMULPS(at(u, off), acc, acc)
			VADDPS(at(y, off), acc, acc)
			VMOVUPS(at(z, off), zv)
			emitSiLU(s, zv, g)
			VMULPS(g, acc, acc)
			VMOVUPS(acc, at(y, off))
		})
		vzeroRet()
	}
	{
		TEXT("fmaV"+s.name, NOSPLIT, "func(y, a, b *float32, n int)")
		Pragma("noescape")
		Doc("fmaV" + s.name + " sets y[i] += a[i]·b[i] for i < n, n a multiple of the vector width.")
		var l labels
		y, a, b, n := Load(Param("y"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		vecLoop(s, &l, n, func(off Register) {
			v, w := s.vec(), s.vec()
			VMOVUPS(at(y, off), v)
			VMOVUPS(at(a, off), w)
			VFMADD231PS(at(b, off), w, v)
			VMOVUPS(v, at(y, off))
		})
		vzeroRet()
	}
	{
		TEXT("scaleMulV"+s.name, NOSPLIT, "func(y, x, w *float32, s float32, n int)")
		Pragma("noescape")
		Doc("scaleMulV" + s.name + " sets y[i] = (x[i]·s)·w[i] for i < n, n a multiple of the vector width.")
		var l labels
		y, x, w := Load(Param("y"), GP64()), Load(Param("x"), GP64()), Load(Param("w"), GP64())
		sc := s.vec()
		sx := Load(Param("s"), XMM())
		VBROADCASTSS(sx, sc)
		n := Load(Param("n"), GP64())
		vecLoop(s, &l, n, func(off Register) {
			v := s.vec()
			VMULPS(at(x, off), sc, v)
			VMULPS(at(w, off), v, v)
			VMOVUPS(v, at(y, off))
		})
		vzeroRet()
	}
}

// dotKernel emits dotV: sum_i a[i]·b[i] with four vector accumulators.
func dotKernel(s isa) {
	TEXT("dotV"+s.name, NOSPLIT, "func(a, b *float32, n int) float32")
	Pragma("noescape")
	Doc("dotV" + s.name + " returns sum_i a[i]·b[i] for i < n, n a multiple of the vector width.")
	a, b, n := Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = s.vec()
		VXORPS(acc[i], acc[i], acc[i])
	}
	SHRQ(U8(s.lanesShift()), n)
	m := GP64()
	MOVQ(n, m)
	SHRQ(U8(2), m)
	JZ(LabelRef("one"))
	Label("four")
	for i := range acc {
		v := s.vec()
		VMOVUPS(Mem{Base: a, Disp: i * s.bytes()}, v)
		VFMADD231PS(Mem{Base: b, Disp: i * s.bytes()}, v, acc[i])
	}
	ADDQ(U32(4*s.bytes()), a)
	ADDQ(U32(4*s.bytes()), b)
	DECQ(m)
	JNZ(LabelRef("four"))
	Label("one")
	ANDQ(U32(3), n)
	JZ(LabelRef("sum"))
	Label("oneloop")
	v := s.vec()
	VMOVUPS(Mem{Base: a}, v)
	VFMADD231PS(Mem{Base: b}, v, acc[0])
	ADDQ(U32(s.bytes()), a)
	ADDQ(U32(s.bytes()), b)
	DECQ(n)
	JNZ(LabelRef("oneloop"))
	Label("sum")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := hsum(s, acc[0])
	Store(r, ReturnIndex(0))
	vzeroRet()
}

// emitRoundBF16 sets d to x rounded to bf16 and widened back, lane by
// lane, as half.F32ToBF16 does: with u the bits of x,
//
//	d = (u + 0x7fff + (u>>16 & 1)) & 0xffff0000      (nearest, ties to even)
//	d = (u | 0x00400000) & 0xffff0000                (x NaN: stays a NaN)
//
// the NaN lanes picked by an unordered compare (a mask register on
// AVX-512, a blend on AVX2).
func emitRoundBF16(s isa, x, d VecVirtual) {
	t, r, q := s.vec(), s.vec(), s.vec()
	and := func(a, b, d Op) {
		if s.z {
			VPANDD(a, b, d)
		} else {
			VPAND(a, b, d)
		}
	}
	or := func(a, b, d Op) {
		if s.z {
			VPORD(a, b, d)
		} else {
			VPOR(a, b, d)
		}
	}
	VPSRLD(U8(16), x, t)
	and(c("i1"), t, t)
	VPADDD(c("bf16Half"), x, r)
	VPADDD(t, r, r)
	and(c("hi16"), r, r)
	or(c("qnan"), x, q)
	and(c("hi16"), q, q)
	if s.z {
		VCMPPS(U8(3), x, x, K1)
		VPBLENDMD(q, r, K1, d)
		return
	}
	m := s.vec()
	VCMPPS(U8(3), x, x, m)
	VBLENDVPS(m, q, r, d)
}

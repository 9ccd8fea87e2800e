package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// scan16 emits scan16<isa>(h0, h, a, nch, l, y, u, sy, b, c, sbc): the
// selective-scan recurrence with N = 16 for nch channels over l steps.
// Channel ch loads its 16 states from h0[16ch:16ch+16] and keeps them in
// one zmm (two ymm) for all steps:
//
//	dt = y[t·sy + ch];  dtu = dt·u[t·sy + ch]
//	h  = exp(dt·a[16ch:16ch+16])·h + dtu·b[t·sbc:t·sbc+16]
//	y[t·sy + ch] = sum_n h[n]·c[t·sbc + n]
//
// and stores h back to h[16ch:16ch+16] after the last step. Channels run
// four at a time (two with AVX2), then one at a time.
func scan16(s isa) {
	name := "scan16" + s.name
	TEXT(name, NOSPLIT, "func(h0, h, a *float32, nch, l int, y, u *float32, sy int, b, c *float32, sbc int)")
	Pragma("noescape")
	Doc(name + " runs the selective-scan recurrence with 16 states per channel (see scan16 in simd.go).")
	h0p, hp, ap := Load(Param("h0"), GP64()), Load(Param("h"), GP64()), Load(Param("a"), GP64())
	nch := Load(Param("nch"), GP64())
	sy, sbc := Load(Param("sy"), GP64()), Load(Param("sbc"), GP64())
	SHLQ(U8(2), sy)
	SHLQ(U8(2), sbc)
	yc, uc := Load(Param("y"), GP64()), Load(Param("u"), GP64())
	var idx VecVirtual
	if s.z {
		idx = ZMM()
		VMOVUPS(c("idx4"), idx)
	}
	var l labels
	// group runs g channels side by side: their recurrences are
	// independent, so the out-of-order core overlaps their exp chains,
	// and their sums over n share one reduction.
	group := func(g int) {
		parts := 16 / s.lanes
		hv, av := make([][]VecVirtual, g), make([][]VecVirtual, g)
		for i := 0; i < g; i++ {
			hv[i], av[i] = make([]VecVirtual, parts), make([]VecVirtual, parts)
			for q := 0; q < parts; q++ {
				hv[i][q], av[i][q] = s.vec(), s.vec()
				VMOVUPS(Mem{Base: h0p, Disp: 64*i + q*s.bytes()}, hv[i][q])
				VMOVUPS(Mem{Base: ap, Disp: 64*i + q*s.bytes()}, av[i][q])
			}
		}
		yt, ut := GP64(), GP64()
		MOVQ(yc, yt)
		MOVQ(uc, ut)
		bt, ct := Load(Param("b"), GP64()), Load(Param("c"), GP64())
		tn := Load(Param("l"), GP64())
		steps, store := l.next("steps"), l.next("store")
		TESTQ(tn, tn)
		JZ(LabelRef(store))
		Label(steps)
		prod := make([]VecVirtual, g)
		for i := 0; i < g; i++ {
			dt, dtu := s.vec(), s.vec()
			VBROADCASTSS(Mem{Base: yt, Disp: 4 * i}, dt)
			ux := XMM()
			VMOVSS(Mem{Base: ut, Disp: 4 * i}, ux)
			VMULSS(Mem{Base: yt, Disp: 4 * i}, ux, ux)
			VBROADCASTSS(ux, dtu)
			prod[i] = s.vec()
			for q := 0; q < parts; q++ {
				e := s.vec()
				VMULPS(av[i][q], dt, e)
				emitExp(s, e)
				VMULPS(e, hv[i][q], hv[i][q])
				VFMADD231PS(Mem{Base: bt, Disp: q * s.bytes()}, dtu, hv[i][q])
				if q == 0 {
					VMULPS(Mem{Base: ct}, hv[i][q], prod[i])
				} else {
					VFMADD231PS(Mem{Base: ct, Disp: q * s.bytes()}, hv[i][q], prod[i])
				}
			}
		}
		sums := reduceGroup(s, prod, idx)
		switch g {
		case 1:
			VMOVSS(sums, Mem{Base: yt})
		case 2:
			VMOVLPS(sums, Mem{Base: yt})
		default:
			VMOVUPS(sums, Mem{Base: yt})
		}
		ADDQ(sy, yt)
		ADDQ(sy, ut)
		ADDQ(sbc, bt)
		ADDQ(sbc, ct)
		DECQ(tn)
		JNZ(LabelRef(steps))
		Label(store)
		for i := 0; i < g; i++ {
			for q := 0; q < parts; q++ {
				VMOVUPS(hv[i][q], Mem{Base: hp, Disp: 64*i + q*s.bytes()})
			}
		}
		for _, r := range []Register{h0p, hp, ap} {
			ADDQ(U32(64*g), r)
		}
		ADDQ(U32(4*g), yc)
		ADDQ(U32(4*g), uc)
		SUBQ(U32(g), nch)
	}
	g := 2
	if s.z {
		g = 4
	}
	Label("groups")
	CMPQ(nch, U32(g))
	JL(LabelRef("singles"))
	group(g)
	JMP(LabelRef("groups"))
	Label("singles")
	TESTQ(nch, nch)
	JZ(LabelRef("done"))
	group(1)
	JMP(LabelRef("singles"))
	Label("done")
	vzeroRet()
}

// reduceGroup sums the lanes of each of the 1, 2 (AVX2) or 4 (AVX-512)
// product vectors and returns an xmm register holding the sums in lanes
// 0..g-1. For four zmm: pairs of 256-bit halves, then of 128-bit
// quarters, are added across the vectors (two VSHUFF32X4 and an add per
// pair), leaving each channel's four partial sums in its own quarter;
// two in-lane shuffles and adds finish each quarter, and VPERMPS (idx:
// lanes 0, 4, 8, 12) gathers the four sums. For two ymm: two VHADDPS and
// the 128-bit halves added.
func reduceGroup(s isa, p []VecVirtual, idx VecVirtual) Register {
	switch len(p) {
	case 1:
		return hsum(s, p[0])
	case 2:
		t := YMM()
		VHADDPS(p[1], p[0], t)
		VHADDPS(t, t, t)
		x := XMM()
		VEXTRACTF128(U8(1), t, x)
		VADDPS(t.AsX(), x, x)
		return x
	}
	pair := func(a, b VecVirtual, lo, hi uint8) VecVirtual {
		x, y := ZMM(), ZMM()
		VSHUFF32X4(U8(lo), b, a, x)
		VSHUFF32X4(U8(hi), b, a, y)
		VADDPS(y, x, x)
		return x
	}
	a01 := pair(p[0], p[1], 0x44, 0xEE) // [p0 q0+q2, p0 q1+q3, p1 q0+q2, p1 q1+q3]
	a23 := pair(p[2], p[3], 0x44, 0xEE)
	b := pair(a01, a23, 0x88, 0xDD) // quarter i: channel i's four partial sums
	t := ZMM()
	VPERMILPS(U8(0x4E), b, t)
	VADDPS(t, b, b)
	VPERMILPS(U8(0xB1), b, t)
	VADDPS(t, b, b)
	VPERMPS(b, idx, t)
	return t.AsX()
}

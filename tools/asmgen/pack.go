package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// pack8 emits packT8<dt>(dst, ldd, src, lds, kb): the transpose of eight
// weight rows (lds bytes apart, f32, bf16 or f16) into the GEMM's packed
// panel layout, widened to f32:
//
//	dst[l·ldd + j] = src[j][l]     j < 8, l < kb (a multiple of 8)
//
// eight columns at a time: eight ymm rows, the 8×8 transpose (unpack,
// shuffle, 128-bit permute), eight ymm stores. AVX2 instructions, so
// both instruction sets use it.
func pack8(dt string) {
	name := "packT8" + dt
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *byte, lds int, kb int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets dst[l·ldd + j] = row j of src at column l for j < 8, l < kb (kb a multiple of 8; %s rows lds bytes apart).", name, dt))
	esize := 4
	if dt != "F32" {
		esize = 2
	}
	dst, src := Load(Param("dst"), GP64()), Load(Param("src"), GP64())
	ldd, lds := Load(Param("ldd"), GP64()), Load(Param("lds"), GP64())
	SHLQ(U8(2), ldd)
	n := Load(Param("kb"), GP64())
	SHRQ(U8(3), n)
	JZ(LabelRef("done"))
	s3, s6 := GP64(), GP64()
	LEAQ(Mem{Base: src, Index: lds, Scale: 2}, s3)
	ADDQ(lds, s3) // row 3
	LEAQ(Mem{Base: s3, Index: lds, Scale: 2}, s6)
	ADDQ(lds, s6) // row 6
	rowMem := func(j int) Mem {
		switch j {
		case 0:
			return Mem{Base: src}
		case 1:
			return Mem{Base: src, Index: lds, Scale: 1}
		case 2:
			return Mem{Base: src, Index: lds, Scale: 2}
		case 3:
			return Mem{Base: s3}
		case 4:
			return Mem{Base: src, Index: lds, Scale: 4}
		case 5:
			return Mem{Base: s3, Index: lds, Scale: 2}
		case 6:
			return Mem{Base: s6}
		}
		return Mem{Base: s6, Index: lds, Scale: 1}
	}
	Label("loop")
	r := make([]VecVirtual, 8)
	for j := range r {
		r[j] = YMM()
		switch dt {
		case "F32":
			VMOVUPS(rowMem(j), r[j])
		case "BF16":
			VPMOVZXWD(rowMem(j), r[j])
			VPSLLD(U8(16), r[j], r[j])
		default:
			VCVTPH2PS(rowMem(j), r[j])
		}
	}
	// t[2i], t[2i+1]: rows 2i and 2i+1 interleaved (low and high pairs).
	t := make([]VecVirtual, 8)
	for i := 0; i < 4; i++ {
		t[2*i], t[2*i+1] = YMM(), YMM()
		VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])
		VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1])
	}
	// u[c] (c < 4): column c (low 128 bits) and c+4 (high) of rows 0-3;
	// u[4+c]: the same of rows 4-7.
	u := make([]VecVirtual, 8)
	for half := 0; half < 2; half++ {
		a, b := t[4*half], t[4*half+2]     // rows 4h..4h+3, pairs (0,1) and (2,3), low
		ah, bh := t[4*half+1], t[4*half+3] // high
		base := 4 * half
		u[base], u[base+1], u[base+2], u[base+3] = YMM(), YMM(), YMM(), YMM()
		VSHUFPS(U8(0x44), b, a, u[base])
		VSHUFPS(U8(0xEE), b, a, u[base+1])
		VSHUFPS(U8(0x44), bh, ah, u[base+2])
		VSHUFPS(U8(0xEE), bh, ah, u[base+3])
	}
	d := GP64()
	MOVQ(dst, d)
	for c := 0; c < 8; c++ {
		o := YMM()
		imm := 0x20
		if c >= 4 {
			imm = 0x31
		}
		VPERM2F128(U8(imm), u[4+c%4], u[c%4], o)
		VMOVUPS(o, Mem{Base: d})
		if c < 7 {
			ADDQ(ldd, d)
		}
	}
	LEAQ(Mem{Base: d, Index: ldd, Scale: 1}, dst)
	for _, p := range []Register{src, s3, s6} {
		ADDQ(U32(8*esize), p)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	vzeroRet()
}

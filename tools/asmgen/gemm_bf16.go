package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The bf16 GEMM micro-kernel uses VDPBF16PS (AVX512_BF16), which Go's
// assembler does not know: it is emitted as BYTE directives, encoded
// here from the instruction's definition (EVEX.512.F3.0F38.W0 52 /r),
// with fixed registers (the register allocator cannot see inside BYTEs).

// vdpbf16ps emits VDPBF16PS zmm(dst), zmm(src1), zmm(src2) (Intel operand
// order): for each lane j,
//
//	dst.f32[j] += src1.bf16[2j]·src2.bf16[2j] + src1.bf16[2j+1]·src2.bf16[2j+1]
func vdpbf16ps(dst, src1, src2 int) {
	inv := func(x, bit int) byte { return byte(^(x>>bit)&1) & 1 }
	p0 := inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 0b10 // R X B R' 00 mm=0F38
	p1 := byte(0)<<7 | byte(^src1&0xf)<<3 | 1<<2 | 0b10                              // W=0 vvvv 1 pp=F3
	p2 := byte(0b10)<<5 | inv(src1, 4)<<3                                            // z=0 L'L=512 b=0 V' aaa=0
	modrm := byte(0b11)<<6 | byte(dst&7)<<3 | byte(src2&7)
	for _, b := range []byte{0x62, p0, p1, p2, 0x52, modrm} {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(b)}})
	}
}

// zmm returns the physical register Z<n>.
func zmm(n int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[n]
}

// gemmBF16Kernel emits gemmBF16KernelAVX512(kp, a, lda, b, c, ldc, acc),
// the 12×32 tile of a GEMM over bf16 pairs: a holds 12 rows of x as bf16
// pairs (row i at a + 4·lda·i, pair l = x[i,2l], x[i,2l+1]), b the packed
// panel of 32 columns of W as pairs (b[l·32 + j] = W[j,2l], W[j,2l+1]):
//
//	c[i·ldc + j] = (acc ? c[i·ldc + j] : 0) + Σ_{l<kp} Σ_{e<2} x[i,2l+e]·W[j,2l+e]
//
// with f32 accumulation: per pair, one VPBROADCASTD of a's pair per row
// and two VDPBF16PS (columns 0-15, 16-31) into 24 accumulators Z0-Z23;
// the panel's two vectors sit in Z24 and Z25, the broadcast in Z26.
func gemmBF16Kernel() {
	const mr, nr = 12, 32
	TEXT("gemmBF16KernelAVX512", NOSPLIT, "func(kp int, a *uint32, lda int, b *uint32, c *float32, ldc int, acc bool)")
	Pragma("noescape")
	Doc("gemmBF16KernelAVX512 computes the 12×32 tile c = (acc ? c : 0) + a·b of 12 rows of bf16 pairs a (rows lda pairs apart) and the packed bf16-pair panel b [kp, 32] with VDPBF16PS.")
	for i := 0; i < 2*mr; i++ {
		VXORPS(zmm(i), zmm(i), zmm(i))
	}
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(2), lda)
	bases := make([]GPVirtual, mr/3)
	bases[0] = GP64()
	Load(Param("a"), bases[0])
	for q := 1; q < len(bases); q++ {
		bases[q] = GP64()
		LEAQ(Mem{Base: bases[q-1], Index: lda, Scale: 2}, bases[q])
		ADDQ(lda, bases[q])
	}
	amem := func(i int) Mem {
		m := Mem{Base: bases[i/3]}
		if i%3 > 0 {
			m.Index, m.Scale = lda, uint8(i%3)
		}
		return m
	}
	bp := Load(Param("b"), GP64())
	kp := Load(Param("kp"), GP64())
	TESTQ(kp, kp)
	JZ(LabelRef("store"))
	Label("loop")
	VMOVUPS(Mem{Base: bp}, Z24)
	VMOVUPS(Mem{Base: bp, Disp: 64}, Z25)
	for i := 0; i < mr; i++ {
		VPBROADCASTD(amem(i), Z26)
		vdpbf16ps(2*i, 26, 24)
		vdpbf16ps(2*i+1, 26, 25)
	}
	for _, b := range bases {
		ADDQ(U32(4), b)
	}
	ADDQ(U32(4*nr), bp)
	DECQ(kp)
	JNZ(LabelRef("loop"))
	Label("store")
	regs := make([][]Op, mr)
	for i := range regs {
		regs[i] = []Op{zmm(2 * i), zmm(2*i + 1)}
	}
	storeTile(regs, 64)
}

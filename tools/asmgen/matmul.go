package main

import (
	"fmt"
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemvRows is how many weight rows a GEMV block reads at once for m rows
// of x. For one or two rows of x (decoding), one: the weights are then
// read as one sequential stream, which the hardware prefetchers follow
// best (interleaving four rows streamed bf16 weights a third slower on
// Zen 4). For more rows, where the multiply-adds bound the speed, as many
// as keep m·R accumulators plus R weight vectors within the vector
// registers (32 zmm, 16 ymm).
func gemvRows(s isa, m int) int {
	if m <= 2 {
		return 1
	}
	if s.z {
		switch {
		case m <= 3:
			return 4
		case gemvXReg(s, m):
			// m·R accumulators, R weight vectors and a loaded x vector
			// within the 32 zmm registers.
			return (31 - m) / (m + 1)
		}
		return 3
	}
	switch {
	case m == 3:
		return 4
	case m == 4:
		return 3
	case m <= 7:
		return 2
	}
	return 1
}

// gemv emits gemv<dt>M<m><isa>(y, ldy, x, w, k, kv, rows): for j < rows
// and i < m,
//
//	y[i·ldy + j] = sum_{l < kv} x[i·k + l] · w[j·k + l]
//
// with w f32, bf16 or f16 (k elements per row) and kv a multiple of the
// vector width. Blocks of R weight rows are read once, each vector
// widened to f32 and multiplied with the m rows of x (memory operands),
// into m·R accumulators summed across lanes at the end of the block.
func gemv(s isa, dt string, m int) {
	name := fmt.Sprintf("gemv%sM%d%s", dt, m, s.name)
	gemvGen(name, s, dt, m, gemvRows(s, m), gemvUnroll(s, m), 0)
}

// gemvXReg reports whether the GEMV for m rows of x loads each x vector
// into a register and reuses it for the block's weight rows, rather than
// reading it as a memory operand of every multiply-add: with many rows of
// x the loads, one per multiply-add, bound the speed (Zen 4 loads one zmm
// per cycle).
func gemvXReg(s isa, m int) bool { return s.z && m >= 4 }

// gemvUnroll is how many vectors of each weight row one loop iteration
// reads: two for one or two rows of x (independent sums, fewer loop
// instructions per byte), else one.
func gemvUnroll(s isa, m int) int {
	if m <= 2 {
		return 2
	}
	return 1
}

// gemvGen emits one GEMV routine reading R weight rows per block and u
// vectors of each per iteration (u·m·R accumulators), prefetching pf
// bytes ahead in every weight row when pf > 0.
func gemvGen(name string, s isa, dt string, m, R, u, pf int) {
	TEXT(name, NOSPLIT, "func(y *float32, ldy int, x *float32, w *byte, k int, kv int, rows int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes y[i·ldy+j] = sum_{l<kv} x[i·k+l]·w[j·k+l] for i < %d, j < rows (w %s).", name, m, dt))
	esize := 4
	if dt != "F32" {
		esize = 2
	}
	rows := Load(Param("rows"), GP64())
	wp := Load(Param("w"), GP64())
	yp := Load(Param("y"), GP64())
	k := Load(Param("k"), GP64())
	ldx, ldw := GP64(), GP64()
	MOVQ(k, ldx)
	SHLQ(U8(2), ldx)
	MOVQ(k, ldw)
	SHLQ(U8(esize/2), ldw)
	var ldx3 GPVirtual
	if m >= 7 {
		ldx3 = GP64()
		LEAQ(Mem{Base: ldx, Index: ldx, Scale: 2}, ldx3)
	}
	loadW := func(mem Mem, v VecVirtual) {
		switch dt {
		case "F32":
			VMOVUPS(mem, v)
		case "BF16":
			VPMOVZXWD(mem, v)
			VPSLLD(U8(16), v, v)
		default:
			VCVTPH2PS(mem, v)
		}
	}
	var l labels
	block := func(R, u int) {
		// acc[q][i][r]: sub-step q, row i of x, weight row r.
		acc := make([][][]VecVirtual, u)
		for q := range acc {
			acc[q] = make([][]VecVirtual, m)
			for i := range acc[q] {
				acc[q][i] = make([]VecVirtual, R)
				for r := range acc[q][i] {
					acc[q][i][r] = s.vec()
					VXORPS(acc[q][i][r], acc[q][i][r], acc[q][i][r])
				}
			}
		}
		x0 := Load(Param("x"), GP64())
		var x3 GPVirtual
		if m > 3 {
			x3 = GP64()
			LEAQ(Mem{Base: x0, Index: ldx, Scale: 2}, x3)
			ADDQ(ldx, x3)
		}
		xmem := func(i, disp int) Mem {
			var mm Mem
			switch i {
			case 0:
				mm = Mem{Base: x0}
			case 1:
				mm = Mem{Base: x0, Index: ldx, Scale: 1}
			case 2:
				mm = Mem{Base: x0, Index: ldx, Scale: 2}
			case 3:
				mm = Mem{Base: x3}
			case 4:
				mm = Mem{Base: x0, Index: ldx, Scale: 4}
			case 5:
				mm = Mem{Base: x3, Index: ldx, Scale: 2}
			case 6:
				mm = Mem{Base: x3, Index: ldx3, Scale: 1}
			default:
				mm = Mem{Base: x3, Index: ldx, Scale: 4}
			}
			mm.Disp = disp
			return mm
		}
		w0 := GP64()
		MOVQ(wp, w0)
		var w3 GPVirtual
		if R >= 4 {
			w3 = GP64()
			LEAQ(Mem{Base: w0, Index: ldw, Scale: 2}, w3)
			ADDQ(ldw, w3)
		}
		wmem := func(r, disp int) Mem {
			var mm Mem
			switch r {
			case 0:
				mm = Mem{Base: w0}
			case 1:
				mm = Mem{Base: w0, Index: ldw, Scale: 1}
			case 2:
				mm = Mem{Base: w0, Index: ldw, Scale: 2}
			case 3:
				mm = Mem{Base: w3}
			case 4:
				mm = Mem{Base: w0, Index: ldw, Scale: 4}
			case 5:
				mm = Mem{Base: w3, Index: ldw, Scale: 2}
			case 6:
				mm = Mem{Base: w3, Index: ldw, Scale: 4}
			default:
				panic("gemv: too many weight rows")
			}
			mm.Disp = disp
			return mm
		}
		wstep := s.lanes * esize // weight bytes per vector
		iter := func(u int) {
			for q := 0; q < u; q++ {
				wv := make([]VecVirtual, R)
				for r := range wv {
					wv[r] = s.vec()
					loadW(wmem(r, q*wstep), wv[r])
				}
				if pf > 0 && (q*wstep)%64 == 0 {
					for r := 0; r < R; r++ {
						PREFETCHT0(wmem(r, q*wstep+pf))
					}
				}
				for i := 0; i < m; i++ {
					if gemvXReg(s, m) {
						// x in a register, reused by the R weight rows:
						// one load per R multiply-adds, not one each.
						xv := s.vec()
						VMOVUPS(xmem(i, q*s.bytes()), xv)
						for r := 0; r < R; r++ {
							VFMADD231PS(xv, wv[r], acc[q][i][r])
						}
						continue
					}
					for r := 0; r < R; r++ {
						VFMADD231PS(xmem(i, q*s.bytes()), wv[r], acc[q][i][r])
					}
				}
			}
			ADDQ(U32(u*s.bytes()), x0)
			if m > 3 {
				ADDQ(U32(u*s.bytes()), x3)
			}
			ADDQ(U32(u*wstep), w0)
			if R >= 4 {
				ADDQ(U32(u*wstep), w3)
			}
		}
		cnt := Load(Param("kv"), GP64())
		SHRQ(U8(s.lanesShift()), cnt)
		red := l.next("reduce")
		if u > 1 {
			cu := GP64()
			MOVQ(cnt, cu)
			SHRQ(U8(bits.TrailingZeros(uint(u))), cu) // u is a power of two
			ANDQ(U32(u-1), cnt)
			one := l.next("one")
			top := l.next("loop")
			TESTQ(cu, cu)
			JZ(LabelRef(one))
			Label(top)
			iter(u)
			DECQ(cu)
			JNZ(LabelRef(top))
			Label(one)
		}
		TESTQ(cnt, cnt)
		JZ(LabelRef(red))
		top := l.next("loop")
		Label(top)
		iter(1)
		DECQ(cnt)
		JNZ(LabelRef(top))
		Label(red)
		for q := 1; q < u; q++ {
			for i := 0; i < m; i++ {
				for r := 0; r < R; r++ {
					VADDPS(acc[q][i][r], acc[0][i][r], acc[0][i][r])
				}
			}
		}
		yrow := GP64()
		MOVQ(yp, yrow)
		ldy := Load(Param("ldy"), GP64())
		SHLQ(U8(2), ldy)
		for i := 0; i < m; i++ {
			for r := 0; r < R; r++ {
				x := hsum(s, acc[0][i][r])
				VMOVSS(x, Mem{Base: yrow, Disp: 4 * r})
			}
			if i < m-1 {
				ADDQ(ldy, yrow)
			}
		}
		for r := 0; r < R; r++ {
			ADDQ(ldw, wp)
		}
		ADDQ(U32(4*R), yp)
	}
	Label("blocks")
	CMPQ(rows, U32(R))
	JL(LabelRef("tail"))
	block(R, u)
	SUBQ(U32(R), rows)
	JMP(LabelRef("blocks"))
	Label("tail")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	block(1, u)
	DECQ(rows)
	JMP(LabelRef("tail"))
	Label("done")
	vzeroRet()
}

// gemmTile is the micro-kernel's register tile: mr rows of x by nr
// columns (nr/lanes vectors).
func gemmTile(s isa) (mr, nr int) {
	if s.z {
		return 12, 32
	}
	return 6, 16
}

// gemmKernel emits gemmKernel<isa>(kc, a, lda, b, c, ldc, acc): for i <
// mr, j < nr,
//
//	c[i·ldc + j] = (acc ? c[i·ldc + j] : 0) + sum_{l<kc} a[i·lda + l] · b[l·nr + j]
//
// Each step of l loads the nr/lanes vectors of panel row l and
// broadcasts a[i, l] for each row i into mr·nr/lanes FMAs; the rows of a
// are addressed from bases three rows apart (base + lda·{0,1,2}). The
// loop is unrolled four times.
func gemmKernel(s isa) {
	mr, nr := gemmTile(s)
	nv := nr / s.lanes
	name := "gemmKernel" + s.name
	TEXT(name, NOSPLIT, "func(kc int, a *float32, lda int, b *float32, c *float32, ldc int, acc bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes the %d×%d tile c = (acc ? c : 0) + a·b of a [%d, kc] (rows lda apart) and the packed panel b [kc, %d].", name, mr, nr, mr, nr))
	acc := make([][]VecVirtual, mr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nv)
		for v := range acc[i] {
			acc[i][v] = s.vec()
			VXORPS(acc[i][v], acc[i][v], acc[i][v])
		}
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
	amem := func(i, disp int) Mem {
		m := Mem{Base: bases[i/3], Disp: disp}
		if i%3 > 0 {
			m.Index, m.Scale = lda, uint8(i%3)
		}
		return m
	}
	bp := Load(Param("b"), GP64())
	step := func(u int) {
		bv := make([]VecVirtual, nv)
		for v := range bv {
			bv[v] = s.vec()
			VMOVUPS(Mem{Base: bp, Disp: u*nr*4 + v*s.bytes()}, bv[v])
		}
		for i := 0; i < mr; i++ {
			t := s.vec()
			VBROADCASTSS(amem(i, 4*u), t)
			for v := 0; v < nv; v++ {
				VFMADD231PS(bv[v], t, acc[i][v])
			}
		}
	}
	kc := Load(Param("kc"), GP64())
	n4 := GP64()
	MOVQ(kc, n4)
	SHRQ(U8(2), n4)
	JZ(LabelRef("rest"))
	Label("loop4")
	for u := 0; u < 4; u++ {
		step(u)
	}
	for _, b := range bases {
		ADDQ(U32(16), b)
	}
	ADDQ(U32(4*nr*4), bp)
	DECQ(n4)
	JNZ(LabelRef("loop4"))
	Label("rest")
	ANDQ(U32(3), kc)
	JZ(LabelRef("store"))
	Label("loop1")
	step(0)
	for _, b := range bases {
		ADDQ(U32(4), b)
	}
	ADDQ(U32(nr*4), bp)
	DECQ(kc)
	JNZ(LabelRef("loop1"))
	Label("store")
	regs := make([][]Op, mr)
	for i := range acc {
		for _, r := range acc[i] {
			regs[i] = append(regs[i], r)
		}
	}
	storeTile(regs, s.bytes())
}

// storeTile emits the end of a GEMM micro-kernel: tile row i, held in
// regs[i] (vectors of vbytes bytes), is added to the row of c (parameter
// "c", rows "ldc" floats apart) when parameter "acc" is true, else
// stored over it; then the function returns.
func storeTile(regs [][]Op, vbytes int) {
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flag := Load(Param("acc"), GP8())
	TESTB(flag, flag)
	JZ(LabelRef("overwrite"))
	for _, row := range regs {
		for v, r := range row {
			VADDPS(Mem{Base: cp, Disp: v * vbytes}, r, r)
			VMOVUPS(r, Mem{Base: cp, Disp: v * vbytes})
		}
		ADDQ(ldc, cp)
	}
	vzeroRet()
	Label("overwrite")
	for _, row := range regs {
		for v, r := range row {
			VMOVUPS(r, Mem{Base: cp, Disp: v * vbytes})
		}
		ADDQ(ldc, cp)
	}
	vzeroRet()
}

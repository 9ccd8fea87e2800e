// Command asmgen generates the amd64 assembly kernels of runtime/cpu with
// avo: for each of AVX2+FMA (ymm, 8 lanes) and AVX-512 (zmm, 16 lanes),
//
//   - gemv{F32,BF16,F16}M{1..8}: dot products of m rows of x with rows of
//     a weight matrix read once (bf16 widened by a shift, f16 by F16C);
//   - gemmKernel: the register-blocked GEMM micro-kernel on packed panels,
//     and packT8{F32,BF16,F16} (AVX2 only), the transposes that pack them;
//   - exp, silu, softplus, addSoftplus, gate, fma, scaleMul, dot: vector
//     math on whole vectors (exp by range reduction and a degree-7
//     polynomial);
//   - scan16: the selective-scan recurrence with the 16 states of a
//     channel in one zmm (two ymm).
//
// runtime/cpu runs it through go generate:
//
//	go run -C ../../tools/asmgen . -out ../../runtime/cpu/simd_amd64.s \
//	    -stubs ../../runtime/cpu/simd_stubs_amd64.go -pkg cpu \
//	    -dispatch ../../runtime/cpu/simd_dispatch_amd64.go
//
// -dispatch also writes Go functions that call the routines directly by
// ISA. Every function processes whole vectors only; the Go wrappers in
// runtime/cpu/simd_amd64.go handle lengths that are not multiples of the
// vector width. The generated files carry the !noasm build constraint.
package main

import (
	"flag"
	"fmt"
	"log"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// isa is one instruction set the kernels are generated for.
type isa struct {
	name  string // suffix of the function names
	lanes int    // float32 lanes per vector
	z     bool   // AVX-512 (zmm) rather than AVX2 (ymm)
}

var (
	avx2   = isa{name: "AVX2", lanes: 8}
	avx512 = isa{name: "AVX512", lanes: 16, z: true}
)

// vec allocates a vector register of the ISA's width.
func (s isa) vec() VecVirtual {
	if s.z {
		return ZMM()
	}
	return YMM()
}

// bytes is the vector width in bytes.
func (s isa) bytes() int { return 4 * s.lanes }

// lanesShift is log2(lanes).
func (s isa) lanesShift() uint8 {
	if s.z {
		return 4
	}
	return 3
}

func main() {
	flag.Parse()
	if *dispatchOut != "" {
		if err := writeDispatch(*dispatchOut); err != nil {
			log.Fatal(err)
		}
	}
	ConstraintExpr("!noasm")
	consts()
	for _, dt := range []string{"F32", "BF16", "F16"} {
		pack8(dt)
	}
	for _, s := range []isa{avx2, avx512} {
		for _, dt := range []string{"F32", "BF16", "F16"} {
			for m := 1; m <= 8; m++ {
				gemv(s, dt, m)
			}
		}
		gemmKernel(s)
		elementwise(s)
		dotKernel(s)
		scan16(s)
	}
	gemmBF16Kernel()
	Generate()
}

// vzeroRet clears the upper vector state (the Go code that runs next
// uses SSE) and returns.
func vzeroRet() {
	VZEROUPPER()
	RET()
}

// hsum leaves the sum of the lanes of v in the low lane of the returned
// xmm register (v is clobbered).
func hsum(s isa, v VecVirtual) VecVirtual {
	y, lo := v.AsY(), v.AsX()
	if s.z {
		t := YMM()
		VEXTRACTF64X4(U8(1), v, t)
		VADDPS(y, t, t)
		y, lo = t, t.AsX()
	}
	x := XMM()
	if s.z {
		VEXTRACTF32X4(U8(1), y, x) // EVEX: y may be Y16-Y31
	} else {
		VEXTRACTF128(U8(1), y, x)
	}
	VADDPS(lo, x, x)
	t := XMM()
	VMOVHLPS(x, x, t)
	VADDPS(x, t, x)
	VMOVSHDUP(x, t)
	VADDSS(t, x, x)
	return x
}

// loopLabel returns unique label names within a function.
type labels struct{ n int }

func (l *labels) next(prefix string) string {
	l.n++
	return fmt.Sprintf("%s%d", prefix, l.n)
}

package cpu

import (
	"math"
	"unsafe"

	"github.com/ssmc-dev/ssmc/ir"
)

// The bf16 GEMM: y = x·wᵀ for a prompt (more than gemvRows rows) when
// both x and w hold bf16 values, with the CPU's bf16 dot products
// (VDPBF16PS: two products per f32 lane and instruction, twice the
// multiply-adds of an f32 FMA). MatMul{round = bf16} gives exactly that
// case: its operand a is rounded to bf16 first, so packing it to bf16
// loses nothing. Each f32 lane accumulates
//
//	y[i, j] = sum_l (x[i, 2l]·w[j, 2l] + x[i, 2l+1]·w[j, 2l+1])
//
// the products exact, the sums rounded to f32 (denormal inputs and
// results flush to zero) — a different summation order from the f32
// GEMM's, not a lower precision.
//
// Blocking as in gemmTask: x is packed once into rows of bf16 pairs
// (shared by the workers), w per block of columns and of kc pairs into
// panels of 32 columns [kc][32] pairs; chunks are blocks of columns (and
// of rows when the columns are too few), 12×32 tiles within.

// bf16GEMMOK reports whether matmulNTBF16 can take a product of m rows.
func bf16GEMMOK(m int, w weight) bool {
	return simd.gemmBF16 != nil && w.dt == ir.BF16 && m > gemvRows
}

// matmulNTBF16 computes x·wᵀ rounded as MatMul{round = bf16}: x [m, k]
// rounded to bf16 (nearest even) as it is packed, w [n, k] bf16, the
// results rounded to bf16 as their blocks complete, and stored in the
// parts as matmulNTSplit does (one part for a plain product); x is packed
// once for all parts. bf16GEMMOK must hold.
func matmulNTBF16(parts []splitPart, x []float32, m, k int, w weight) {
	t := gemmBF16Tasks.get()
	t.kp = (k + 1) / 2
	if cap(t.xp) < m*t.kp {
		t.xp = make([]uint32, m*t.kp)
	}
	t.xp = t.xp[:m*t.kp]
	rows := t.pack.rows
	for len(rows) < workers() {
		rows = append(rows, nil)
	}
	for i := range rows { // sized here, so that no worker allocates
		if cap(rows[i]) < k {
			rows[i] = make([]float32, k)
		}
	}
	t.pack = packPairsTask{dst: t.xp, x: x, m: m, k: k, chunks: min(workers(), max(m/64, 1)), rows: rows}
	parallel(&t.pack, t.pack.chunks)
	for _, p := range parts {
		if k == 0 {
			clear(p.y[:m*p.n])
			continue
		}
		t.plan(p.y, m, k, p.n, w.slice(p.off*k, p.n*k))
		parallel(t, t.mBlocks*t.nBlocks)
	}
	t.y, t.w, t.pack = nil, weight{}, packPairsTask{rows: t.pack.rows}
	gemmBF16Tasks.put(t)
}

var gemmBF16Tasks freeList[gemmBF16Task]

const (
	bf16MR, bf16NR = 12, 32
	bf16KC         = 128 // pairs of k per block (256 values)
)

// gemmBF16Task is matmulNTBF16 over blocks of mc rows × nc columns.
type gemmBF16Task struct {
	y                []float32
	m, k, n, kp      int
	w                weight
	mc, nc           int
	mBlocks, nBlocks int
	xp               []uint32 // x as rows of kp pairs
	pack             packPairsTask
	panels, edges    [][]uint32
	ctiles           [][]float32
}

func (t *gemmBF16Task) plan(y []float32, m, k, n int, w weight) {
	t.y, t.m, t.k, t.n, t.w = y, m, k, n, w
	p := workers()
	t.nc = min(256, roundUp((n+3*p-1)/(3*p), bf16NR))
	t.nBlocks = (n + t.nc - 1) / t.nc
	t.mBlocks = 1
	if t.nBlocks < 2*p {
		t.mBlocks = min((2*p+t.nBlocks-1)/t.nBlocks, max(m/(4*bf16MR), 1))
	}
	t.mc = roundUp((m+t.mBlocks-1)/t.mBlocks, bf16MR)
	t.mBlocks = (m + t.mc - 1) / t.mc
	for len(t.panels) < p {
		t.panels, t.edges, t.ctiles = append(t.panels, nil), append(t.edges, nil), append(t.ctiles, nil)
	}
	kc := min(t.kp, bf16KC)
	for i := 0; i < p; i++ { // sized here, so that no worker allocates
		if cap(t.panels[i]) < kc*roundUp(t.nc, bf16NR) {
			t.panels[i] = make([]uint32, kc*roundUp(t.nc, bf16NR))
		}
		if cap(t.edges[i]) < bf16MR*kc {
			t.edges[i] = make([]uint32, bf16MR*kc)
		}
		if cap(t.ctiles[i]) < bf16MR*bf16NR {
			t.ctiles[i] = make([]float32, bf16MR*bf16NR)
		}
	}
}

func (t *gemmBF16Task) run(worker, chunk int) {
	kern := simd.gemmBF16
	ib, jb := chunk/t.nBlocks, chunk%t.nBlocks
	i0, i1 := ib*t.mc, min(t.m, (ib+1)*t.mc)
	j0, j1 := jb*t.nc, min(t.n, (jb+1)*t.nc)
	n, kp := t.n, t.kp
	for p0 := 0; p0 < kp; p0 += bf16KC {
		kb := min(bf16KC, kp-p0)
		panels := t.panels[worker][:kb*roundUp(j1-j0, bf16NR)]
		packPairPanels(panels, t.w, t.k, j0, j1, p0, kb)
		for ir := i0; ir < i1; ir += bf16MR {
			rows := min(bf16MR, i1-ir)
			a, lda := t.xp[ir*kp+p0:], kp
			if rows < bf16MR {
				atile := t.edges[worker][:bf16MR*kb]
				clear(atile)
				for i := 0; i < rows; i++ {
					copy(atile[i*kb:i*kb+kb], t.xp[(ir+i)*kp+p0:])
				}
				a, lda = atile, kb
			}
			for jr := j0; jr < j1; jr += bf16NR {
				cols := min(bf16NR, j1-jr)
				panel := panels[(jr-j0)*kb : (jr-j0+bf16NR)*kb]
				if rows == bf16MR && cols == bf16NR {
					kern(kb, a, lda, panel, t.y[ir*n+jr:], n, p0 > 0)
					continue
				}
				ctile := t.ctiles[worker][:bf16MR*bf16NR]
				clear(ctile)
				if p0 > 0 {
					for i := 0; i < rows; i++ {
						copy(ctile[i*bf16NR:i*bf16NR+cols], t.y[(ir+i)*n+jr:])
					}
				}
				kern(kb, a, lda, panel, ctile, bf16NR, true)
				for i := 0; i < rows; i++ {
					copy(t.y[(ir+i)*n+jr:(ir+i)*n+jr+cols], ctile[i*bf16NR:])
				}
			}
		}
	}
	for i := i0; i < i1; i++ { // the block is complete: round it
		row := t.y[i*n+j0 : i*n+j1]
		simd.roundBF16(row, row)
	}
}

// bf16Bits returns the bits of f rounded to bf16 (nearest even; NaN stays
// NaN), as the high half of an f32.
func bf16Bits(f float32) uint32 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return u&0xffff0000 | 0x00400000
	}
	return (u + 0x7fff + (u>>16)&1) & 0xffff0000
}

// packPairsTask packs rows of x into bf16 pairs, rounding to nearest
// even: dst[i·kp + l] = bf16(x[i, 2l]) | bf16(x[i, 2l+1])<<16 (0 past k),
// chunk c taking chunkRange(c) of the rows.
type packPairsTask struct {
	dst    []uint32
	x      []float32
	m, k   int
	chunks int
	rows   [][]float32 // per worker: a row rounded by simd.roundBF16
}

func (t *packPairsTask) run(worker, chunk int) {
	i0, i1 := chunkRange(chunk, t.chunks, t.m, 1)
	k, kp := t.k, (t.k+1)/2
	r := t.rows[worker][:k]
	for i := i0; i < i1; i++ {
		simd.roundBF16(r, t.x[i*k:(i+1)*k])
		dst := t.dst[i*kp : (i+1)*kp]
		l := 0
		for ; 2*l+1 < k; l++ {
			dst[l] = math.Float32bits(r[2*l])>>16 | math.Float32bits(r[2*l+1])
		}
		if l < kp {
			dst[l] = math.Float32bits(r[2*l]) >> 16
		}
	}
}

// packPairPanels packs columns [j0, j1) of w (rows of k bf16 values) and
// pairs [p0, p0+kb) into panels of 32 columns:
//
//	dst[q·kb·32 + l·32 + jj] = w[j, 2(p0+l)] | w[j, 2(p0+l)+1]<<16   j = j0 + 32q + jj
//
// (0 for columns past j1 and values past k).
func packPairPanels(dst []uint32, w weight, k, j0, j1, p0, kb int) {
	raw := w.raw
	for jq := j0; jq < j1; jq += bf16NR {
		panel := dst[(jq-j0)*kb : (jq-j0+bf16NR)*kb]
		cols := min(bf16NR, j1-jq)
		for jj := 0; jj < bf16NR; jj++ {
			if jj >= cols {
				for l := 0; l < kb; l++ {
					panel[l*bf16NR+jj] = 0
				}
				continue
			}
			row := raw[2*(jq+jj)*k : 2*(jq+jj+1)*k]
			if k%2 == 0 && uintptr(unsafe.Pointer(&row[0]))%4 == 0 {
				// Whole pairs, aligned: read them as uint32s.
				pairs := unsafe.Slice((*uint32)(unsafe.Pointer(&row[0])), k/2)[p0 : p0+kb]
				for l, v := range pairs {
					panel[l*bf16NR+jj] = v
				}
				continue
			}
			for l := 0; l < kb; l++ {
				e := 2 * (p0 + l)
				if e+1 < k {
					panel[l*bf16NR+jj] = uint32(row[2*e]) | uint32(row[2*e+1])<<8 | uint32(row[2*e+2])<<16 | uint32(row[2*e+3])<<24
				} else {
					panel[l*bf16NR+jj] = uint32(row[2*e]) | uint32(row[2*e+1])<<8
				}
			}
		}
	}
}

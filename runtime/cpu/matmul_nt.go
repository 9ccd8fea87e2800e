package cpu

import (
	"github.com/ssmc-dev/ssmc/ir"
)

// matmulNT computes y = x·wᵀ for x [m, k] (contiguous rows), w [n, k] in
// f32, bf16 or f16, and y [m, n], on the worker pool:
//
//	y[i, j] = sum_l x[i, l] · w[j, l]
//
// Up to gemvRows rows of x (decoding: one row per sequence) go through
// the GEMV primitive, every weight row read once for all of them; the
// rows of w are split among the workers. More rows (a prompt) go through
// the GEMM: w is packed, converted to f32, into panels of nr columns
// ([kc][nr], per worker), and the mr×nr micro-kernel reads mr rows of x
// in place; work is split by blocks of columns (and of rows when there
// are few columns).
func matmulNT(y, x []float32, m, k, n int, w weight) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(y[:m*n])
		return
	}
	if m <= gemvRows {
		t := gemvTasks.get()
		*t = gemvTask{y: y, x: x, m: m, k: k, n: n, w: w}
		t.chunks = gemvChunks(n, k, m)
		parallel(t, t.chunks)
		*t = gemvTask{}
		gemvTasks.put(t)
		return
	}
	t := gemmTasks.get()
	t.plan(y, x, m, k, n, w)
	parallel(t, t.mBlocks*t.nBlocks)
	t.y, t.x, t.w = nil, nil, weight{}
	gemmTasks.put(t)
}

// gemvChunks splits n weight rows of k elements, each multiplied with m
// rows of x, among the workers: about 32K multiply-adds per chunk, so
// that the last chunk of a big matrix leaves the other workers idle only
// briefly, but at least 12K weight elements (48 KB in f32) per chunk, so
// that with several rows of x each worker still streams its weights in
// pieces long enough for the prefetchers, and at least four chunks per
// worker; below 256K multiply-adds one contiguous range per worker
// (short weight streams are slow to start); one chunk when the whole is
// too small to share.
func gemvChunks(n, k, m int) int {
	total := n * k * m
	if total < 8192 {
		return 1
	}
	p := workers()
	if total < 1<<18 {
		// Small (a few hundred KB of weights at most): one contiguous
		// range per worker, a single stream each.
		return max(min(p, n/4), 1)
	}
	c := max(min(total/32768, n*k/12288, 256*p), 4*p)
	return max(min(c, n/4), 1)
}

// gemvRows is the most rows of x the GEMV path takes (the primitives
// handle up to eight rows per pass over the weights).
const gemvRows = 8

var (
	gemvTasks freeList[gemvTask]
	gemmTasks freeList[gemmTask]
)

// gemvTask is matmulNT by GEMV; chunk c computes the columns
// chunkRange(c) (rows of w) for every row of x. With parts (matmulNTSplit)
// the columns go to the part holding them instead of y.
type gemvTask struct {
	y, x    []float32
	m, k, n int
	w       weight
	chunks  int
	parts   []splitPart
}

func (t *gemvTask) run(_, chunk int) {
	j0, j1 := chunkRange(chunk, t.chunks, t.n, 4)
	if j0 == j1 {
		return
	}
	if t.parts == nil {
		gemvCols(simd, t.y[j0:], t.n, t.x, t.m, t.k, t.w, j0, j1-j0)
		return
	}
	for _, p := range t.parts {
		lo, hi := max(j0, p.off), min(j1, p.off+p.n)
		if lo < hi {
			gemvCols(simd, p.y[lo-p.off:], p.n, t.x, t.m, t.k, t.w, lo, hi-lo)
		}
	}
}

// splitPart is one result of matmulNTSplit: columns [off, off+n) of
// x·wᵀ, stored as y [m, n].
type splitPart struct {
	y      []float32
	off, n int
}

// matmulNTSplit computes x·wᵀ as matmulNT does but stores its columns
// in the parts: part p gets columns [off_p, off_p+n_p), rows n_p apart.
// Decoding (GEMV) reads the weights in one pass on the pool for all
// parts; a prompt (GEMM) multiplies by each part's rows of w in turn.
func matmulNTSplit(parts []splitPart, x []float32, m, k int, w weight) {
	n := 0
	for _, p := range parts {
		n += p.n
	}
	if m == 0 || n == 0 {
		return
	}
	if m > gemvRows || k == 0 {
		for _, p := range parts {
			matmulNT(p.y, x, m, k, p.n, w.slice(p.off*k, p.n*k))
		}
		return
	}
	t := gemvTasks.get()
	*t = gemvTask{x: x, m: m, k: k, n: n, w: w, parts: parts}
	t.chunks = gemvChunks(n, k, m)
	parallel(t, t.chunks)
	*t = gemvTask{}
	gemvTasks.put(t)
}

// gemvCols computes y[i·ldy + j] = x_i · w_{j0+j} for i < m (any m), j
// < rows with the primitives of impl, eight rows of x at a time.
//
// An implementation whose primitives run best on fewer rows of x
// (gemvPass) gets the rows of x in groups of gemvPass, each group over a
// block of weight rows small enough (gemvBlockBytes) to stay in the L2
// cache for the next group: the weights still come from memory once,
// and each pass keeps its rows of x in the L1 cache beside the weight
// stream.
func gemvCols(impl *vecImpl, y []float32, ldy int, x []float32, m, k int, w weight, j0, rows int) {
	pass := gemvRows
	if impl.gemvPass > 0 && m > impl.gemvPass {
		pass = impl.gemvPass
	}
	block := rows
	if pass < m {
		block = max(gemvBlockBytes/max(k*w.dt.Size(), 1), 1)
	}
	for jb := 0; jb < rows; jb += block {
		nb := min(block, rows-jb)
		for i := 0; i < m; i += pass {
			mm := min(pass, m-i)
			yy, xx := y[i*ldy+jb:], x[i*k:(i+mm)*k]
			lo, hi := (j0+jb)*k, (j0+jb+nb)*k
			switch w.dt {
			case ir.F32:
				impl.gemvF32(yy, ldy, xx, mm, k, w.f32[lo:hi], nb)
			case ir.BF16:
				impl.gemvBF16(yy, ldy, xx, mm, k, w.raw[2*lo:2*hi], nb)
			default:
				impl.gemvF16(yy, ldy, xx, mm, k, w.raw[2*lo:2*hi], nb)
			}
		}
	}
}

// gemvBlockBytes is the size of the weight blocks gemvCols runs several
// passes over: well within the L2 cache.
const gemvBlockBytes = 96 << 10

// gemmTask is matmulNT by GEMM over blocks of mc rows × nc columns.
type gemmTask struct {
	y, x             []float32
	m, k, n          int
	w                weight
	impl             *vecImpl
	mc, nc, kc       int
	mBlocks, nBlocks int
	// per worker: packed panels (kc × nc) and the edge tile buffer
	// (mr×nr results and mr×kc rows of x).
	panels [][]float32
	edges  [][]float32
}

// plan sets the blocking for y = x·wᵀ.
func (t *gemmTask) plan(y, x []float32, m, k, n int, w weight) {
	impl := simd
	mr, nr := impl.mr, impl.nr
	t.y, t.x, t.m, t.k, t.n, t.w, t.impl = y, x, m, k, n, w, impl
	t.kc = min(k, 256)
	p := workers()
	// Columns: blocks of at most 256, about three per worker.
	t.nc = min(256, roundUp((n+3*p-1)/(3*p), nr))
	t.nBlocks = (n + t.nc - 1) / t.nc
	// Rows: one block unless there are too few column blocks to share.
	t.mBlocks = 1
	if t.nBlocks < 2*p {
		t.mBlocks = min((2*p+t.nBlocks-1)/t.nBlocks, max(m/(4*mr), 1))
	}
	t.mc = roundUp((m+t.mBlocks-1)/t.mBlocks, mr)
	t.mBlocks = (m + t.mc - 1) / t.mc
	for len(t.panels) < p {
		t.panels = append(t.panels, nil)
		t.edges = append(t.edges, nil)
	}
	for w := 0; w < p; w++ { // sized here, so that no worker allocates
		grow(&t.panels[w], t.kc*roundUp(t.nc, nr))
		grow(&t.edges[w], mr*nr+mr*t.kc)
	}
}

func roundUp(x, a int) int { return (x + a - 1) / a * a }

func (t *gemmTask) run(worker, chunk int) {
	impl, mr, nr := t.impl, t.impl.mr, t.impl.nr
	ib, jb := chunk/t.nBlocks, chunk%t.nBlocks
	i0, i1 := ib*t.mc, min(t.m, (ib+1)*t.mc)
	j0, j1 := jb*t.nc, min(t.n, (jb+1)*t.nc)
	panels := t.panels[worker][:t.kc*roundUp(t.nc, nr)]
	edge := t.edges[worker][:mr*nr+mr*t.kc]
	ctile, atile := edge[:mr*nr], edge[mr*nr:]
	k, n := t.k, t.n
	for p0 := 0; p0 < k; p0 += t.kc {
		kb := min(t.kc, k-p0)
		packPanels(impl, panels, t.w, k, j0, j1, p0, kb, nr)
		for ir := i0; ir < i1; ir += mr {
			rows := min(mr, i1-ir)
			a, lda := t.x[ir*k+p0:], k
			if rows < mr {
				// Too few rows left: copy them into a zero-padded block.
				clear(atile[:mr*kb])
				for i := 0; i < rows; i++ {
					copy(atile[i*kb:i*kb+kb], t.x[(ir+i)*k+p0:])
				}
				a, lda = atile, kb
			}
			for jr := j0; jr < j1; jr += nr {
				cols := min(nr, j1-jr)
				panel := panels[(jr-j0)*kb : (jr-j0+nr)*kb]
				if rows == mr && cols == nr {
					impl.gemmKernel(kb, a, lda, panel, t.y[ir*n+jr:], n, p0 > 0)
					continue
				}
				// An edge tile: compute mr×nr into ctile, keep the part inside y.
				clear(ctile)
				if p0 > 0 {
					for i := 0; i < rows; i++ {
						copy(ctile[i*nr:i*nr+cols], t.y[(ir+i)*n+jr:])
					}
				}
				impl.gemmKernel(kb, a, lda, panel, ctile, nr, true)
				for i := 0; i < rows; i++ {
					copy(t.y[(ir+i)*n+jr:(ir+i)*n+jr+cols], ctile[i*nr:])
				}
			}
		}
	}
}

// grow returns (*buf)[:n], reallocating when it is shorter.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// packPanels packs columns [j0, j1) (rows of w, each k long) and depth
// [p0, p0+kb) into consecutive panels of nr columns, converted to f32:
//
//	dst[q·kb·nr + l·nr + jj] = w[j0 + q·nr + jj, p0 + l]   (0 past j1)
//
// eight rows at a time with impl's packRows8.
func packPanels(impl *vecImpl, dst []float32, w weight, k, j0, j1, p0, kb, nr int) {
	for jq := j0; jq < j1; jq += nr {
		panel := dst[(jq-j0)*kb : (jq-j0+nr)*kb]
		cols := min(nr, j1-jq)
		jj := 0
		for ; jj+8 <= cols; jj += 8 {
			impl.packRows8(panel[jj:], nr, w, (jq+jj)*k+p0, k, kb)
		}
		if jj < cols {
			packRowsGo(panel[jj:], nr, w, (jq+jj)*k+p0, k, cols-jj, 0, kb)
		}
		for jj := cols; jj < nr; jj++ {
			for l := 0; l < kb; l++ {
				panel[l*nr+jj] = 0
			}
		}
	}
}

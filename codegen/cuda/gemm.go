package cuda

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpMatMul, genGEMM)
	register(ir.OpLoRAMatMul, genGEMM)
}

// gemmTile is the tiling of a GEMM kernel: a block of gemmThreadsM x
// gemmThreadsN threads computes a TileM x TileN tile of y, stepping
// through the contraction dim TileK at a time.
type gemmTile struct {
	TileM, TileN, TileK int
}

const (
	gemmThreadsM = 16
	gemmThreadsN = 16
	// gemmMaxShared is the static shared memory a block may declare.
	gemmMaxShared = 48 << 10
	// gemmMinBlocks lets ptxas use up to 128 registers a thread, enough
	// for the accumulators without spilling.
	gemmMinBlocks = 2
)

var (
	// wideTile serves prefill, where x has many rows (batch x length).
	wideTile = gemmTile{TileM: 64, TileN: 64, TileK: 16}
	// narrowTile serves decoding, where x has one row per sequence: small
	// tiles of y spread the weights over more blocks.
	narrowTile = gemmTile{TileM: 16, TileN: 16, TileK: 32}
)

var gemmTemplate = template.Must(template.New("gemm").Parse(`    constexpr int kK = {{.K}};  // the contraction dim
    constexpr int kN = {{.N}};  // columns of y
    constexpr int kTileM = {{.TileM}};
    constexpr int kTileN = {{.TileN}};
    constexpr int kTileK = {{.TileK}};
    constexpr int kThreadsM = {{.ThreadsM}};  // threadIdx.y
    constexpr int kThreadsN = {{.ThreadsN}};  // threadIdx.x
    constexpr int kThreads = kThreadsM * kThreadsN;
    constexpr int kRowsPerThread = kTileM / kThreadsM;
    constexpr int kColsPerThread = kTileN / kThreadsN;
{{- if .LoRA}}
    constexpr int kRank = {{.Rank}};
    constexpr float kScale = {{.Scale}};
    constexpr int kLowRankPerThread = (kTileM * kRank + kThreads - 1) / kThreads;
{{- end}}
    const long long rows = {{.Rows}};

    // One step of k of x and W (and the adapter's A), as f32, k-major.
    __shared__ float x_tile[kTileK][kTileM + 1];
    __shared__ float w_tile[kTileK][kTileN + 1];
{{- if .LoRA}}
    __shared__ float a_tile[kTileK][kRank + 1];
{{- end}}

    const int tid = threadIdx.y * kThreadsN + threadIdx.x;
    const long long row0 = (long long)blockIdx.x * kTileM;
    const int col0 = blockIdx.y * kTileN;
    // This thread's part of y: rows row0 + threadIdx.y + i * kThreadsM,
    // columns col0 + threadIdx.x + j * kThreadsN.
    float acc[kRowsPerThread][kColsPerThread] = {};
{{- if .LoRA}}
    // This thread's entries of x * A^T over the tile's rows: entry
    // tid + e * kThreads is (row entry / kRank, rank entry % kRank).
    float low[kLowRankPerThread] = {};
{{- end}}

    for (int k0 = 0; k0 < kK; k0 += kTileK) {
        for (int i = tid; i < kTileM * kTileK; i += kThreads) {
            const int m = i / kTileK;
            const int k = i % kTileK;
            const long long r = row0 + m;
            x_tile[k][m] = r < rows && k0 + k < kK ? {{with .Round}}{{.}}({{end}}to_float(x[r * kK + k0 + k]){{if .Round}}){{end}} : 0.0f;
        }
        for (int i = tid; i < kTileN * kTileK; i += kThreads) {
{{- if .TransposeB}}
            const int n = i / kTileK;
            const int k = i % kTileK;
            w_tile[k][n] = col0 + n < kN && k0 + k < kK ? to_float(w[(long long)(col0 + n) * kK + k0 + k]) : 0.0f;
{{- else}}
            const int k = i / kTileN;
            const int n = i % kTileN;
            w_tile[k][n] = col0 + n < kN && k0 + k < kK ? to_float(w[(long long)(k0 + k) * kN + col0 + n]) : 0.0f;
{{- end}}
        }
{{- if .LoRA}}
        for (int i = tid; i < kRank * kTileK; i += kThreads) {
{{- if .TransposeB}}
            const int r = i / kTileK;
            const int k = i % kTileK;
            a_tile[k][r] = k0 + k < kK ? to_float(lora_a[r * kK + k0 + k]) : 0.0f;
{{- else}}
            const int k = i / kRank;
            const int r = i % kRank;
            a_tile[k][r] = k0 + k < kK ? to_float(lora_a[(k0 + k) * kRank + r]) : 0.0f;
{{- end}}
        }
{{- end}}
        __syncthreads();
#pragma unroll
        for (int k = 0; k < kTileK; ++k) {
            float xs[kRowsPerThread], ws[kColsPerThread];
#pragma unroll
            for (int i = 0; i < kRowsPerThread; ++i) {
                xs[i] = x_tile[k][threadIdx.y + i * kThreadsM];
            }
#pragma unroll
            for (int j = 0; j < kColsPerThread; ++j) {
                ws[j] = w_tile[k][threadIdx.x + j * kThreadsN];
            }
#pragma unroll
            for (int i = 0; i < kRowsPerThread; ++i) {
#pragma unroll
                for (int j = 0; j < kColsPerThread; ++j) {
                    acc[i][j] += xs[i] * ws[j];
                }
            }
{{- if .LoRA}}
#pragma unroll
            for (int e = 0; e < kLowRankPerThread; ++e) {
                const int entry = tid + e * kThreads;
                if (entry < kTileM * kRank) {
                    low[e] += x_tile[k][entry / kRank] * a_tile[k][entry % kRank];
                }
            }
{{- end}}
        }
        __syncthreads();
    }
{{- if .LoRA}}

    // The low-rank path: y += kScale * (x * A^T) * B^T, with x * A^T for the
    // tile's rows and B for its columns in shared memory.
    __shared__ float low_rank[kTileM][kRank + 1];
    __shared__ float b_tile[kRank][kTileN + 1];
#pragma unroll
    for (int e = 0; e < kLowRankPerThread; ++e) {
        const int entry = tid + e * kThreads;
        if (entry < kTileM * kRank) {
            low_rank[entry / kRank][entry % kRank] = kScale * low[e];
        }
    }
    for (int i = tid; i < kRank * kTileN; i += kThreads) {
{{- if .TransposeB}}
        const int n = i / kRank;
        const int r = i % kRank;
        b_tile[r][n] = col0 + n < kN ? to_float(lora_b[(long long)(col0 + n) * kRank + r]) : 0.0f;
{{- else}}
        const int r = i / kTileN;
        const int n = i % kTileN;
        b_tile[r][n] = col0 + n < kN ? to_float(lora_b[(long long)r * kN + col0 + n]) : 0.0f;
{{- end}}
    }
    __syncthreads();
    for (int r = 0; r < kRank; ++r) {
#pragma unroll
        for (int i = 0; i < kRowsPerThread; ++i) {
#pragma unroll
            for (int j = 0; j < kColsPerThread; ++j) {
                acc[i][j] += low_rank[threadIdx.y + i * kThreadsM][r] * b_tile[r][threadIdx.x + j * kThreadsN];
            }
        }
    }
{{- end}}

#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
        const long long row = row0 + threadIdx.y + i * kThreadsM;
#pragma unroll
        for (int j = 0; j < kColsPerThread; ++j) {
            const int col = col0 + threadIdx.x + j * kThreadsN;
            if (row < rows && col < kN) {
{{- if .Parts}}
                {{range $i, $p := .Parts}}{{if $i}} else {{end}}if (col < {{$p.End}}) {
                    store({{$p.Name}} + row * {{$p.N}} + (col - {{$p.Off}}), {{with $.Round}}{{.}}({{end}}acc[i][j]{{if $.Round}}){{end}});
                }{{end}}
{{- else}}
                store(y + row * kN + col, {{with .Round}}{{.}}({{end}}acc[i][j]{{if .Round}}){{end}});
{{- end}}
            }
        }
    }
`))

// gemmShared is the static shared memory of a GEMM kernel.
func gemmShared(t gemmTile, rank int) int {
	floats := t.TileK*(t.TileM+1) + t.TileK*(t.TileN+1)
	if rank > 0 {
		floats += t.TileK*(rank+1) + t.TileM*(rank+1) + rank*(t.TileN+1)
	}
	return 4 * floats
}

// genGEMM emits MatMul(x, W) {transpose_b} and LoRAMatMul(x, W, A, B)
// {scale, transpose_b} with W a matrix (a weight):
//
//	y[m, n] = sum_k x[m, k] · W[n, k]                         (transpose_b; W[k, n] without)
//	        + scale · sum_r (sum_k x[m, k] · A[r, k]) · B[n, r]   (LoRAMatMul)
//
// where m runs over every leading dim of x; with split = [n_0, …] (MatMul)
// column n goes to result p at column n - o_p (o_p = n_0+…+n_(p-1)). A tiled GEMM: a block stages
// one step of k of x and W in shared memory and each thread accumulates a
// few rows by a few columns of y. The low-rank path is fused: the staged
// x tile is reused to accumulate x·Aᵀ over the same k loop, and the block
// adds scale·(x·Aᵀ)·Bᵀ to its tile at the end.
func genGEMM(fg *funcGen, v *ir.Value) error {
	x, w, y := v.Args[0].Type, v.Args[1].Type, v.Type
	if w.Shape.Rank() != 2 || !w.Shape.IsStatic() {
		return fmt.Errorf("%s: the CUDA target multiplies by static matrices only, b is %v", v.Op, w.Shape)
	}
	tb := v.BoolAttr("transpose_b")
	kDim, nDim := w.Shape[0].Off, w.Shape[1].Off
	if tb {
		kDim, nDim = nDim, kDim
	}
	rows := polyOfShape(x.Shape[:x.Shape.Rank()-1])
	tile := wideTile
	if x.Shape.Rank() <= 2 {
		tile = narrowTile
	}
	lora := v.Op == ir.OpLoRAMatMul
	k := newKernel("gemm", v.Op.String())
	type part struct {
		Name        string
		Off, N, End int64
	}
	var parts []part
	if _, ok := v.Attrs["split"]; ok {
		off := int64(0)
		for i, n := range v.IntsAttr("split") {
			name := fmt.Sprintf("y%d", i)
			k.out(name, y.Elems[i].DType, fg.result(v, i), layout(y.Elems[i])+fmt.Sprintf(", columns %d to %d of y", off, off+n))
			parts = append(parts, part{name, off, n, off + n})
			off += n
		}
	} else {
		k.out("y", y.DType, fg.result(v, 0), layout(y)+", read as [M, N]")
	}
	k.in("x", x.DType, fg.operand(v, 0), layout(x)+", read as [M, K]")
	wLayout := "[K, N]"
	if tb {
		wLayout = "[N, K]"
	}
	k.in("w", w.DType, fg.operand(v, 1), layout(w)+" "+wLayout)
	rank := 0
	if lora {
		a, b := v.Args[2].Type, v.Args[3].Type
		rank = int(a.Shape[0].Off)
		aLayout, bLayout := "[r, K]", "[N, r]"
		if !tb {
			rank = int(a.Shape[1].Off)
			aLayout, bLayout = "[K, r]", "[r, N]"
		}
		k.in("lora_a", a.DType, fg.operand(v, 2), layout(a)+" "+aLayout)
		k.in("lora_b", b.DType, fg.operand(v, 3), layout(b)+" "+bLayout)
	}
	k.shared = gemmShared(tile, rank)
	if k.shared > gemmMaxShared {
		return fmt.Errorf("LoRAMatMul: rank %d is too large for the fused GEMM (%d bytes of shared memory)", rank, k.shared)
	}
	wIndex := "[k, n]"
	if tb {
		wIndex = "[n, k]"
	}
	k.doc = []string{fmt.Sprintf("%s: y[m, n] = sum_k x[m, k] * W%s", v.Op, wIndex)}
	if lora {
		k.doc[0] += fmt.Sprintf(" + %g * sum_r (x * A^T)[m, r] * B^T[r, n]", v.FloatAttr("scale"))
	}
	k.doc = append(k.doc, fmt.Sprintf("with K = %d, N = %d and m over the M = %v rows of x.", kDim, nDim, rows.size()),
		fmt.Sprintf("Tiles of %dx%d of y, %d steps of k at a time; each thread owns %dx%d of the tile.",
			tile.TileM, tile.TileN, tile.TileK, tile.TileM/gemmThreadsM, tile.TileN/gemmThreadsN))
	if lora {
		k.doc = append(k.doc, "The adapter's x * A^T accumulates over the same staged x tiles.")
	}
	if parts != nil {
		k.doc = append(k.doc, fmt.Sprintf("The columns of y are stored split into %d results (split = %v).", len(parts), v.IntsAttr("split")))
	}
	round := "" // MatMul{round}: a and y rounded to bf16/f16 and back
	switch v.Attrs["round"] {
	case ir.BF16:
		round = "round_bf16"
	case ir.F16:
		round = "round_f16"
	}
	if round != "" {
		k.doc = append(k.doc, fmt.Sprintf("x and y are rounded to %v (%s) as the Casts this MatMul absorbed did.", v.Attrs["round"], round))
	}
	var body strings.Builder
	err := gemmTemplate.Execute(&body, map[string]any{
		"K": kDim, "N": nDim, "TileM": tile.TileM, "TileN": tile.TileN, "TileK": tile.TileK,
		"ThreadsM": gemmThreadsM, "ThreadsN": gemmThreadsN, "LoRA": lora, "Rank": rank,
		"Scale": f32Literal(v.FloatAttr("scale")), "TransposeB": tb, "Rows": k.size(rows), "Parts": parts, "Round": round,
	})
	if err != nil {
		return err
	}
	k.body = body.String()
	k.block = [3]int{gemmThreadsN, gemmThreadsM, 1}
	k.minBlocks = gemmMinBlocks
	k.grid[0] = Extent{Count: rows.size(), Per: int64(tile.TileM)}
	k.grid[1] = Extent{Count: constPoly(nDim).size(), Per: int64(tile.TileN)}
	fg.launch(k, v)
	return nil
}

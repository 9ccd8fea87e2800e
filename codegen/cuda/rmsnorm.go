package cuda

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpRMSNorm, genRMSNorm)
	register(ir.OpAddRMSNorm, genRMSNorm)
}

// rmsnormTemplate is the body of an RMSNorm kernel: one block per row.
var rmsnormTemplate = template.Must(template.New("rmsnorm").Parse(`    constexpr int kWidth = {{.Width}};  // the normalized (last) dim
    constexpr int kThreads = {{.Threads}};
    constexpr int kWarps = kThreads / kWarpSize;
    constexpr float kEpsilon = {{.Epsilon}};
    __shared__ float warp_sums[kWarps];

    const long long row = (long long)blockIdx.x * kWidth;
{{- if .Residual}}
    // The residual sum, kept in f32, is what gets normalized.
    float* __restrict__ sum_row = sum + row;
{{- end}}

    // The sum of squares: per thread, across the warp, across the block.
    float squares = 0.0f;
    for (int i = threadIdx.x; i < kWidth; i += kThreads) {
{{- if .Residual}}
        const float v = to_float(x[row + i]) + to_float(residual[row + i]);
        sum_row[i] = v;
{{- else}}
        const float v = to_float(x[row + i]);
{{- end}}
        squares += v * v;
    }
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        squares += __shfl_xor_sync(kFullWarp, squares, offset);
    }
    if (threadIdx.x % kWarpSize == 0) {
        warp_sums[threadIdx.x / kWarpSize] = squares;
    }
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
        total += warp_sums[w];
    }

    const float scale = rsqrtf(total / kWidth + kEpsilon);
    for (int i = threadIdx.x; i < kWidth; i += kThreads) {
{{- if .Residual}}
        // sum_row[i] was written by this same thread above.
        store(y + row + i, sum_row[i] * scale * to_float(weight[i]));
{{- else}}
        store(y + row + i, to_float(x[row + i]) * scale * to_float(weight[i]));
{{- end}}
    }
`))

// rmsnormThreads is the block size for a row of width elements: a warp
// per 256 elements, between 1 and 8 warps.
func rmsnormThreads(width int64) int {
	warps := min(max((width+255)/256, 1), 8)
	return int(warps) * 32
}

// genRMSNorm emits RMSNorm(x [..., D], weight [D]) {eps}:
//
//	y[r, i] = x[r, i] / sqrt(mean_j(x[r, j]^2) + eps) · weight[i]
//
// and AddRMSNorm(x, residual, weight) {eps} -> (sum, y), which first forms
// the f32 residual sum s = x + residual, stores it, and normalizes s. One
// block per row r; the mean accumulates in f32.
func genRMSNorm(fg *funcGen, v *ir.Value) error {
	x, w := v.Args[0].Type, v.Args[len(v.Args)-1].Type
	residual := v.Op == ir.OpAddRMSNorm
	rank := x.Shape.Rank()
	width := x.Shape[rank-1]
	if !width.IsStatic() {
		return fmt.Errorf("%s over the symbolic dim %v", v.Op, width)
	}
	rows := polyOfShape(x.Shape[:rank-1])
	k := newKernel("rmsnorm", v.Op.String())
	y := v.Type
	if residual {
		sum := v.Type.Elems[0]
		y = v.Type.Elems[1]
		k.out("sum", sum.DType, fg.result(v, 0), layout(sum))
		k.out("y", y.DType, fg.result(v, 1), layout(y))
		k.in("x", x.DType, fg.operand(v, 0), layout(x))
		k.in("residual", v.Args[1].Type.DType, fg.operand(v, 1), layout(v.Args[1].Type))
		k.doc = []string{
			"AddRMSNorm: s[r, i] = x[r, i] + residual[r, i] in f32, stored in sum, and",
			"y[r, i] = s[r, i] / sqrt(mean_j(s[r, j]^2) + eps) * weight[i],",
		}
	} else {
		k.out("y", y.DType, fg.result(v, 0), layout(y))
		k.in("x", x.DType, fg.operand(v, 0), layout(x))
		k.doc = []string{"RMSNorm: y[r, i] = x[r, i] / sqrt(mean_j(x[r, j]^2) + eps) * weight[i],"}
	}
	k.in("weight", w.DType, fg.operand(v, len(v.Args)-1), layout(w))
	k.doc = append(k.doc, fmt.Sprintf("eps = %g, over the last dim of %s; one block per row r.", v.FloatAttr("eps"), shapeText(x.Shape)))
	threads := rmsnormThreads(width.Off)
	var body strings.Builder
	err := rmsnormTemplate.Execute(&body, map[string]any{
		"Width": width.Off, "Threads": threads, "Epsilon": f32Literal(v.FloatAttr("eps")), "Residual": residual,
	})
	if err != nil {
		return err
	}
	k.body = body.String()
	k.block = [3]int{threads, 1, 1}
	k.grid[0] = Extent{Count: rows.size(), Per: 1}
	k.shared = threads / 32 * 4
	fg.launch(k, v)
	return nil
}

package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/internal/fixture"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// mambaFixture is a generated fixture checkpoint: its weights, the
// checkpoint import of them (hf.Build, fused ops), and mambaref's logits
// (float64) for its input ids.
type mambaFixture struct {
	dims     mambaDims
	w        map[string]*ir.Tensor
	hf       *ir.Module
	ids      *ir.Tensor // [2, 8]
	expected *ir.Tensor // logits [2, 8, V]
}

// genFixture writes the fixture of spec into a temporary directory and
// reads it back.
func genFixture(t *testing.T, spec fixture.Spec) *mambaFixture {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.Generate(dir, spec); err != nil {
		t.Fatal(err)
	}
	cfg, err := hf.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fx := &mambaFixture{w: map[string]*ir.Tensor{},
		dims: mambaDims{layers: cfg.NLayer, dModel: cfg.DModel, dInner: cfg.DInner, dState: cfg.DState,
			dConv: cfg.DConv, dtRank: cfg.DTRank, eps: cfg.NormEps, tied: cfg.TieEmbeddings}}
	for _, ti := range r.Tensors() {
		b, err := r.Bytes(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if ti.DType != safetensors.F32 {
			t.Fatalf("%s is %s, want F32", ti.Name, ti.DType)
		}
		if fx.w[ti.Name], err = ir.NewTensor(ir.F32, slices.Clone(ti.Shape), slices.Clone(b)); err != nil {
			t.Fatal(err)
		}
	}
	if fx.hf, err = hf.Build(cfg, fx.w, hf.Options{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		InputIDs [][]int64 `json:"input_ids"`
		Logits   refArray  `json:"logits"`
	}
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	var flat []int64
	for _, row := range exp.InputIDs {
		flat = append(flat, row...)
	}
	fx.ids = ir.TensorFromInt64s(ir.I64, []int64{int64(len(exp.InputIDs)), int64(len(exp.InputIDs[0]))}, flat)
	fx.expected = ir.TensorFromFloat64s(ir.F64, exp.Logits.Shape, exp.Logits.Data)
	return fx
}

// columns returns ids[:, from:to].
func columns(ids *ir.Tensor, from, to int64) *ir.Tensor {
	b, l := ids.Shape[0], ids.Shape[1]
	v := ids.Int64s()
	var out []int64
	for i := int64(0); i < b; i++ {
		out = append(out, v[i*l+from:i*l+to]...)
	}
	return ir.TensorFromInt64s(ir.I64, []int64{b, to - from}, out)
}

// repeatColumns returns ids repeated k times along the sequence.
func repeatColumns(ids *ir.Tensor, k int) *ir.Tensor {
	b, l := ids.Shape[0], ids.Shape[1]
	v := ids.Int64s()
	var out []int64
	for i := int64(0); i < b; i++ {
		for j := 0; j < k; j++ {
			out = append(out, v[i*l:(i+1)*l]...)
		}
	}
	return ir.TensorFromInt64s(ir.I64, []int64{b, l * int64(k)}, out)
}

// tensorDiff returns max |a - b|; the shapes must agree.
func tensorDiff(t *testing.T, what string, a, b *ir.Tensor) float64 {
	t.Helper()
	if !slices.Equal(a.Shape, b.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, a.Shape, b.Shape)
	}
	d := 0.0
	x, y := a.Float64s(), b.Float64s()
	for i := range x {
		d = math.Max(d, math.Abs(x[i]-y[i]))
	}
	if math.IsNaN(d) {
		d = math.Inf(1)
	}
	return d
}

// opHistogram counts f's compute ops by name.
func opHistogram(f *ir.Func) map[string]int {
	h := map[string]int{}
	for _, v := range f.Body {
		if v.Op != ir.OpParam && v.Op != ir.OpConst && v.Op != ir.OpExtract {
			h[v.Op.Info().Name]++
		}
	}
	return h
}

func histString(h map[string]int) string {
	var parts []string
	for k, n := range h {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// testFixtures are the checkpoints the shapes are written from: the
// committed f32 fixture's spec, and an untied one with other sizes.
var testFixtures = []struct {
	name string
	spec fixture.Spec
}{
	{"d32-l2", fixture.Spec{Seed: 1, DType: "f32", DModel: 32, NLayer: 2, Vocab: 100, DState: 16, Expand: 2,
		DConv: 4, Eps: 1e-5, Tied: true, Batch: 2, SeqLen: 8}},
	{"d24-n8-k3-untied", fixture.Spec{Seed: 11, DType: "f32", DModel: 24, NLayer: 2, Vocab: 61, DState: 8, Expand: 2,
		DConv: 3, DtRank: 3, Eps: 1e-5, Batch: 2, SeqLen: 8}},
}

// TestMambaShapes writes each fixture checkpoint as an ONNX graph in the
// three shapes real exports take (Scan, unrolled over a fixed length,
// opset-27 CausalConvWithState + LinearAttention), imports and compiles
// each, checks that the fused ops replaced the recurrence and the conv,
// and compares logits and states with the checkpoint import of the same
// weights (hf.Build, fused ops) and with mambaref's float64 logits. Every
// compiled graph, the unrolled one included, also runs a shorter prompt;
// the opset-27 graph also decodes a token from the states it returned.
func TestMambaShapes(t *testing.T) {
	const tol = 1e-4
	for _, tf := range testFixtures {
		fx := genFixture(t, tf.spec)
		d := fx.dims
		prefill := fx.hf.Func("prefill")
		runHF := func(t *testing.T, ids *ir.Tensor) []*ir.Tensor {
			out, err := ref.Run(prefill, fx.hf.Weights, []*ir.Tensor{ids})
			if err != nil {
				t.Fatalf("hf prefill: %v", err)
			}
			return out
		}
		for _, sh := range []struct {
			name  string
			shape exportShape
		}{{"scan", exportScan}, {"unrolled", exportUnrolled}, {"hf-slow-path", exportHFSlow}, {"opset27", exportOpset27}} {
			t.Run(tf.name+"/"+sh.name, func(t *testing.T) {
				e := &mambaExport{d: d, w: fx.w, shape: sh.shape, seqLen: int(fx.ids.Shape[1])}
				m, err := LoadBytes(encode(t, e.model()))
				if err != nil {
					t.Fatalf("LoadBytes: %v", err)
				}
				before := passes.CountOps(m.Funcs[0])
				if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
					t.Fatalf("passes: %v", err)
				}
				f := m.Funcs[0]
				h := opHistogram(f)
				t.Logf("%d ops imported, %d compiled: %s", before, passes.CountOps(f), histString(h))
				checkFused(t, h, d.layers)

				run := func(ids *ir.Tensor, states ...*ir.Tensor) []*ir.Tensor {
					t.Helper()
					if sh.shape == exportOpset27 && states == nil {
						zeros := func(shape ...int64) *ir.Tensor {
							n := int64(1)
							for _, s := range shape {
								n *= s
							}
							return ir.TensorFromFloat64s(ir.F32, shape, make([]float64, n))
						}
						b := ids.Shape[0]
						states = []*ir.Tensor{zeros(int64(d.layers), b, int64(d.dInner), int64(d.dConv-1)),
							zeros(int64(d.layers), b, int64(d.dInner), int64(d.dState))}
					}
					out, err := ref.Run(f, m.Weights, append([]*ir.Tensor{ids}, states...))
					if err != nil {
						t.Fatalf("run: %v", err)
					}
					return out
				}
				check := func(what string, got, want *ir.Tensor) {
					t.Helper()
					diff := tensorDiff(t, what, got, want)
					if diff > tol {
						t.Errorf("%s: max |diff| %.3g > %g", what, diff, tol)
					} else {
						t.Logf("%s: max |diff| %.3g", what, diff)
					}
				}
				out := run(fx.ids)
				want := runHF(t, fx.ids)
				check("logits vs checkpoint import", out[0], want[0])
				check("logits vs mambaref", out[0], fx.expected)
				check("ssm state vs checkpoint import", out[len(out)-1], want[2])
				if sh.shape == exportOpset27 {
					check("conv state vs checkpoint import", out[1], want[1])
				}
				if sh.shape == exportUnrolled || sh.shape == exportHFSlow {
					// The fusions proved the 8 traced steps identical: the
					// compiled graph takes any length.
					if ids := f.Args[0].Type.Shape; ids[1].IsStatic() {
						t.Fatalf("the unrolled export compiles to input_ids %v, want a symbolic length", ids)
					}
				}
				// A symbolic length: a shorter and a longer prompt through the
				// same graph.
				short := columns(fx.ids, 0, 5)
				check("5-token logits vs checkpoint import", run(short)[0], runHF(t, short)[0])
				long := repeatColumns(fx.ids, 2)
				check("16-token logits vs checkpoint import", run(long)[0], runHF(t, long)[0])
				if sh.shape == exportOpset27 {
					// Decoding: prefill 7 tokens, then feed the 8th with the states.
					l := fx.ids.Shape[1]
					pre := run(columns(fx.ids, 0, l-1))
					next := run(columns(fx.ids, l-1, l), pre[1], pre[2])
					check("decode step logits vs checkpoint import", next[0], lastStep(want[0]))
					check("decode step ssm state", next[2], want[2])
				}
			})
		}
	}
}

// checkFused checks that every layer's recurrence became a SelectiveScan
// and its conv a CausalConv1d, with the norms fused and nothing of the
// decomposed forms left.
func checkFused(t *testing.T, h map[string]int, layers int) {
	t.Helper()
	want := map[string]int{"SelectiveScan": layers, "CausalConv1d": layers}
	for op, n := range want {
		if h[op] != n {
			t.Errorf("%d %s, want %d", h[op], op, n)
		}
	}
	if n := h["RMSNorm"] + h["AddRMSNorm"]; n != layers+1 {
		t.Errorf("%d RMSNorm + AddRMSNorm, want %d", n, layers+1)
	}
	// The projections (in, x, dt, out per layer, and the head) and no
	// readout MatMuls.
	if h["MatMul"] != 4*layers+1 {
		t.Errorf("%d MatMul, want %d", h["MatMul"], 4*layers+1)
	}
	for _, op := range []string{"LinearScan", "Conv1d", "SelectiveStateUpdate", "Exp", "Softplus", "Sigmoid", "Sqrt"} {
		if h[op] != 0 {
			t.Errorf("%d %s left after fusion", h[op], op)
		}
	}
}

// lastStep returns logits[:, L-1:L, :].
func lastStep(logits *ir.Tensor) *ir.Tensor {
	b, l, v := logits.Shape[0], logits.Shape[1], logits.Shape[2]
	x := logits.Float64s()
	var out []float64
	for i := int64(0); i < b; i++ {
		out = append(out, x[(i*l+l-1)*v:(i*l+l)*v]...)
	}
	return ir.TensorFromFloat64s(logits.DType, []int64{b, 1, v}, out)
}

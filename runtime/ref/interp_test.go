package ref

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// loadModule parses and verifies ir/testdata/name.
func loadModule(t *testing.T, name string) *ir.Module {
	t.Helper()
	path := "../../ir/testdata/" + name
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ir.Parse(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// randomWeights returns a weight for every Param of f, of the Param's
// (static) type, with values from a seeded generator: A entries negative
// (A = -exp(A_log)), the rest small.
func randomWeights(t *testing.T, f *ir.Func, seed uint64) map[string]*ir.Tensor {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	w := map[string]*ir.Tensor{}
	for _, v := range f.Body {
		if v.Op != ir.OpParam {
			continue
		}
		sizes := v.Type.Shape.Sizes()
		for _, s := range sizes {
			if s < 0 {
				t.Fatalf("Param %v has a symbolic shape", v)
			}
		}
		lo, hi := -0.3, 0.3
		if v.StringAttr("name") == "A" {
			lo, hi = -2, -0.5
		}
		w[v.StringAttr("name")] = ten(v.Type.DType, sizes, randVals(r, product(sizes), lo, hi)...)
	}
	return w
}

func TestRunMambaLayer(t *testing.T) {
	m := loadModule(t, "mamba_layer.ir")
	f := m.Func("layer")
	weights := randomWeights(t, f, 1)
	r := rand.New(rand.NewPCG(2, 2))
	for _, dims := range [][2]int64{{1, 1}, {2, 5}, {3, 2}} {
		b, l := dims[0], dims[1]
		h := f32(shp(b, l, 64), randVals(r, b*l*64, -1, 1)...)
		ids := i64(shp(b, l), make([]int64, b*l)...)
		out, err := Run(f, weights, []*ir.Tensor{h, ids})
		if err != nil {
			t.Fatal(err)
		}
		want := [][]int64{{b, l, 64}, {b, 128, 16}, {b, 128, 3}}
		if len(out) != len(want) {
			t.Fatalf("%d results, want %d", len(out), len(want))
		}
		for i, o := range out {
			if o.DType != ir.F32 || !equalInts(o.Shape, want[i]) {
				t.Errorf("B=%d L=%d: result %d is %v%v, want f32%v", b, l, i, o.DType, o.Shape, want[i])
			}
			for j, x := range o.Float64s() {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("result %d element %d is %v", i, j, x)
				}
			}
		}
		// The conv state holds the last K-1 = 3 conv inputs: the x half of
		// in_proj(RMSNorm(h)); check its last column against the value
		// computed inside the function (the Observe hook sees it).
		var xHalf *ir.Tensor
		_, err = RunWithOptions(f, weights, []*ir.Tensor{h, ids}, Options{Observe: func(v *ir.Value, res []*ir.Tensor) {
			if v.ID == 7 { // %7 = Extract(%6) {index = 0}: the conv input
				xHalf = res[0]
			}
		}})
		if err != nil || xHalf == nil {
			t.Fatalf("observe: %v, %v", err, xHalf)
		}
		xv, cs := xHalf.Float64s(), out[2].Float64s()
		for bi := int64(0); bi < b; bi++ {
			for d := int64(0); d < 128; d++ {
				if got, want := cs[(bi*128+d)*3+2], xv[(bi*l+l-1)*128+d]; got != want {
					t.Fatalf("conv_state[%d,%d,2] = %v, want the last input %v", bi, d, got, want)
				}
			}
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunShapes runs @shapes (symbolic Reshape, Concat, Slice, constants)
// and checks every result by hand-written loops.
func TestRunShapes(t *testing.T) {
	f := loadModule(t, "mamba_layer.ir").Func("shapes")
	const b, l = 2, 3
	x := f32(shp(b, l, 8), seq(b*l*8)...)
	s := f32(shp(b, 8, 3), randVals(rand.New(rand.NewPCG(3, 3)), b*8*3, -1, 1)...)
	out, err := Run(f, nil, []*ir.Tensor{x, s})
	if err != nil {
		t.Fatal(err)
	}
	checkTensorClose(t, "reshape", out[0], ir.F32, shp(b*l, 8), seq(b*l*8), 0)
	sv := s.Float64s()
	var cat []float64 // [B, 8, L+3] = s ++ xᵀ along the last axis
	for i := 0; i < b; i++ {
		for c := 0; c < 8; c++ {
			for j := 0; j < 3; j++ {
				cat = append(cat, sv[(i*8+c)*3+j])
			}
			for j := 0; j < l; j++ {
				cat = append(cat, float64((i*l+j)*8+c))
			}
		}
	}
	checkTensorClose(t, "concat", out[1], ir.F32, shp(b, 8, l+3), cat, 0)
	var last []float64 // the last 3 columns: x's last 3 steps (L = 3)
	for i := 0; i < b; i++ {
		for c := 0; c < 8; c++ {
			for j := 0; j < l; j++ {
				last = append(last, float64((i*l+j)*8+c))
			}
		}
	}
	checkTensorClose(t, "slice", out[2], ir.F32, shp(b, 8, 3), last, 0)
	checkTensorClose(t, "const f32", out[3], ir.F32, shp(2, 3), []float64{1, -2.5, float64(float32(0.1)), math.Inf(1), math.Inf(-1), float64(float32(3e38))}, 0)
	checkInts(t, "const i64", out[4], ir.I64, shp(3), []int64{0, -1, math.MaxInt64})
	checkInts(t, "const bool", out[5], ir.Bool, shp(2), []int64{1, 0})
	var tr []float64 // [8, L, B]: y[c, j, i] = x[i, j, c]
	for c := 0; c < 8; c++ {
		for j := 0; j < l; j++ {
			for i := 0; i < b; i++ {
				tr = append(tr, float64((i*l+j)*8+c))
			}
		}
	}
	checkTensorClose(t, "transpose", out[6], ir.F32, shp(8, l, b), tr, 0)
}

func TestRunErrors(t *testing.T) {
	f := loadModule(t, "mamba_layer.ir").Func("layer")
	weights := randomWeights(t, f, 1)
	h := zeros(ir.F32, 2, 3, 64)
	ids := zeros(ir.I64, 2, 3)
	without := func(name string) map[string]*ir.Tensor {
		w := map[string]*ir.Tensor{}
		for k, v := range weights {
			if k != name {
				w[k] = v
			}
		}
		return w
	}
	with := func(name string, t *ir.Tensor) map[string]*ir.Tensor {
		w := without(name)
		w[name] = t
		return w
	}
	tests := []struct {
		name    string
		weights map[string]*ir.Tensor
		inputs  []*ir.Tensor
		want    []string // substrings of the error
	}{
		{"wrong input rank", weights, []*ir.Tensor{zeros(ir.F32, 2, 64), ids}, []string{"%h", "rank 2, want 3"}},
		{"wrong symbol binding", weights, []*ir.Tensor{h, zeros(ir.I64, 3, 3)}, []string{"%ids", "B = 3, already bound to 2"}},
		{"static dim", weights, []*ir.Tensor{zeros(ir.F32, 2, 3, 32), ids}, []string{"%h", "dim 2 is 32"}},
		{"input dtype", weights, []*ir.Tensor{zeros(ir.F64, 2, 3, 64), ids}, []string{"%h", "f64"}},
		{"input count", weights, []*ir.Tensor{h}, []string{"takes 2 inputs"}},
		{"nil input", weights, []*ir.Tensor{h, nil}, []string{"%ids", "nil tensor"}},
		{"malformed input", weights, []*ir.Tensor{{DType: ir.F32, Shape: []int64{2, 3, 64}}, ids}, []string{"%h", "bytes"}},
		{"missing weight", without("A"), []*ir.Tensor{h, ids}, []string{`missing weight "A"`, "Param"}},
		{"weight dtype", with("A", zeros(ir.F64, 128, 16)), []*ir.Tensor{h, ids}, []string{`weight "A"`, "f64"}},
		{"weight shape", with("D", zeros(ir.F32, 64)), []*ir.Tensor{h, ids}, []string{`weight "D"`, "want f32[128]"}},
		{"weight malformed", with("D", &ir.Tensor{DType: ir.F32, Shape: []int64{128}, Data: make([]byte, 3)}),
			[]*ir.Tensor{h, ids}, []string{`weight "D"`, "bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(f, tc.weights, tc.inputs)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestRunOptions(t *testing.T) {
	f := loadModule(t, "mamba_layer.ir").Func("layer")
	weights := randomWeights(t, f, 1)
	inputs := []*ir.Tensor{zeros(ir.F32, 1, 2, 64), zeros(ir.I64, 1, 2)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunWithOptions(f, weights, inputs, Options{Context: ctx}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
	seen := 0
	_, err := RunWithOptions(f, weights, inputs, Options{Observe: func(v *ir.Value, res []*ir.Tensor) {
		seen++
		want := 1
		if v.Type.IsTuple() {
			want = len(v.Type.Elems)
		}
		if len(res) != want {
			t.Errorf("%v: %d results, want %d", v, len(res), want)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(f.Body) {
		t.Errorf("Observe called %d times for %d values", seen, len(f.Body))
	}
}

// TestEvalOpErrors checks EvalOp's refusals: values that have no value
// outside Run, declared types that disagree with the op table, and
// Extract's tuple convention.
func TestEvalOpErrors(t *testing.T) {
	f := ir.NewFunc("t")
	x := f.NewArg("x", ir.TensorType(ir.F32, ir.Shape{ir.SymDim("N")}))
	param := f.Param("w", ir.TensorType(ir.F32, ir.Static(2)))
	wrongType := f.AppendDeclared(ir.OpNeg, nil, ir.TensorType(ir.F32, ir.Static(3)), x)
	wrongDType := f.AppendDeclared(ir.OpNeg, nil, ir.TensorType(ir.F64, ir.Shape{ir.SymDim("N")}), x)
	split, err := f.Append(ir.OpSplit, ir.Attrs{"axis": int64(0), "sizes": []int64{1, 1}}, param)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := f.Append(ir.OpExtract, ir.Attrs{"index": int64(1)}, split)
	if err != nil {
		t.Fatal(err)
	}
	two := f32(shp(2), 1, 2)
	tests := []struct {
		name string
		v    *ir.Value
		args []*ir.Tensor
		want string
	}{
		{"nil value", nil, nil, "nil value"},
		{"arg", x, nil, "argument"},
		{"param", param, nil, "Param needs weights"},
		{"declared shape", wrongType, []*ir.Tensor{two}, "declared f32[3]"},
		{"declared dtype", wrongDType, []*ir.Tensor{two}, "declared f64[N]"},
		{"extract count", ext, []*ir.Tensor{f32(shp(1), 1)}, "1 tensors for a tuple of 2"},
		{"extract type", ext, []*ir.Tensor{f32(shp(1), 1), f32(shp(2), 1, 2)}, "tuple element 1"},
		{"placeholder op", &ir.Value{Op: ir.OpInvalidPlaceholder}, nil, "unknown op"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EvalOp(tc.v, tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	got, err := EvalOp(ext, []*ir.Tensor{f32(shp(1), 1), f32(shp(1), 2)})
	if err != nil || len(got) != 1 || got[0].At(0) != 2 {
		t.Errorf("Extract = %v, %v; want [2]", got, err)
	}
	c := ir.TensorFromFloat64s(ir.F32, shp(2), []float64{3, 4})
	cv := f.Const(c)
	got, err = EvalOp(cv, nil)
	if err != nil || !got[0].Equal(c) {
		t.Fatalf("Const = %v, %v", got, err)
	}
	got[0].Data[0] ^= 1
	if !c.Equal(ir.TensorFromFloat64s(ir.F32, shp(2), []float64{3, 4})) {
		t.Errorf("modifying Const's result changed the constant")
	}
}

// TestEveryOpHasAKernel checks that every registered op is evaluated:
// Arg, Param, Const and Extract by the interpreter, the rest by a kernel.
func TestEveryOpHasAKernel(t *testing.T) {
	for _, op := range ir.Ops() {
		switch op {
		case ir.OpArg, ir.OpParam, ir.OpConst, ir.OpExtract:
			continue
		}
		if kernels[op] == nil {
			t.Errorf("op %v has no reference kernel", op)
		}
	}
}

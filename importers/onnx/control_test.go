package onnx

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// scanModel is a Scan over axis 1 of x [B, L, 3] with state s [B, 3]:
// the body computes (state_out, y_t) = body(s, x_t).
func scanModel(L any, body []*onnxpb.NodeProto, extra ...*onnxpb.AttributeProto) *onnxpb.ModelProto {
	bg := graph("body", body,
		[]*onnxpb.ValueInfoProto{tinfo("s", f32T, "B", 3), tinfo("xt", f32T, "B", 3)},
		[]*onnxpb.ValueInfoProto{tinfo("s_out", f32T, "B", 3), tinfo("yt", f32T, "B", 3)})
	attrs := append([]*onnxpb.AttributeProto{attrGraph("body", bg), attrInt("num_scan_inputs", 1), attrInts("scan_input_axes", 1), attrInts("scan_output_axes", 1)}, extra...)
	return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Scan", "scan", []string{"s0", "x"}, []string{"last", "ys"}, attrs...)},
		[]*onnxpb.ValueInfoProto{tinfo("s0", f32T, "B", 3), tinfo("x", f32T, "B", L, 3)},
		[]*onnxpb.ValueInfoProto{tinfo("last", f32T, "B", 3), tinfo("ys", f32T, "B", L, 3)}, f32Tensor("decay", []int64{3}, 0.5, 1, -2)))
}

// runScan runs a scan model on s0 = 1 and x[b, t, c] = t + c/10 + b and
// returns the final state and the outputs, next to the same recurrence
// computed here step by step with step(s, x).
func runScan(t *testing.T, m *onnxpb.ModelProto, B, L int64, rev bool, step func(s, x float64, c int) (float64, float64)) {
	t.Helper()
	mod, err := LoadBytes(encode(t, m))
	if err != nil {
		t.Fatal(err)
	}
	s0 := make([]float64, B*3)
	for i := range s0 {
		s0[i] = 1
	}
	x := make([]float64, B*L*3)
	for b := int64(0); b < B; b++ {
		for s := int64(0); s < L; s++ {
			for c := int64(0); c < 3; c++ {
				x[(b*L+s)*3+c] = float64(s) + float64(c)/10 + float64(b)
			}
		}
	}
	out := runModule(t, mod, ir.TensorFromFloat64s(ir.F32, []int64{B, 3}, s0), ir.TensorFromFloat64s(ir.F32, []int64{B, L, 3}, x))
	ys := make([]float64, B*L*3)
	last := make([]float64, B*3)
	for b := int64(0); b < B; b++ {
		for c := 0; c < 3; c++ {
			s := 1.0
			for k := int64(0); k < L; k++ {
				tt := k
				if rev {
					tt = L - 1 - k
				}
				var y float64
				s, y = step(s, x[(b*L+tt)*3+int64(c)], c)
				s = float64(float32(s))
				ys[(b*L+tt)*3+int64(c)] = y
			}
			last[b*3+int64(c)] = s
		}
	}
	for i, want := range [][]float64{last, ys} {
		got := out[i].Float64s()
		for j := range want {
			if math.Abs(got[j]-want[j]) > 1e-4*math.Max(1, math.Abs(want[j])) {
				t.Fatalf("B=%d L=%d output %d element %d = %v, want %v", B, L, i, j, got[j], want[j])
			}
		}
	}
}

// TestScanVectorized: a body whose state update is affine in the state
// (s = decay·s + x; y = s·x) compiles, for a symbolic length, to one
// LinearScan; the same module runs any length.
func TestScanVectorized(t *testing.T) {
	body := []*onnxpb.NodeProto{
		nd("Mul", "m", []string{"s", "decay"}, []string{"ds"}),
		nd("Add", "a", []string{"ds", "xt"}, []string{"s_out"}),
		nd("Mul", "y", []string{"s_out", "xt"}, []string{"yt"}),
	}
	decay := []float64{0.5, 1, -2}
	step := func(s, x float64, c int) (float64, float64) { s = decay[c]*s + x; return s, float64(float32(s)) * x }
	m := scanModel("L", body)
	mod, err := LoadBytes(encode(t, m))
	if err != nil {
		t.Fatal(err)
	}
	text := ir.Print(mod)
	if strings.Count(text, "LinearScan(") != 1 {
		t.Errorf("want one LinearScan:\n%s", text)
	}
	for _, L := range []int64{1, 4, 7} {
		runScan(t, m, 2, L, false, step)
	}
	// reverse scan over a static length
	rev := scanModel(5, body, attrInts("scan_input_directions", 1), attrInts("scan_output_directions", 1))
	runScan(t, rev, 1, 5, true, step)
}

// TestScanUnrolled: a body that is not affine in the state
// (s = tanh(s + x)) is unrolled when the length is static and refused,
// naming the node, when it is symbolic.
func TestScanUnrolled(t *testing.T) {
	body := []*onnxpb.NodeProto{
		nd("Add", "a", []string{"s", "xt"}, []string{"pre"}),
		nd("Tanh", "t", []string{"pre"}, []string{"s_out"}),
		nd("Identity", "y", []string{"pre"}, []string{"yt"}),
	}
	step := func(s, x float64, c int) (float64, float64) {
		pre := float64(float32(s + x))
		return math.Tanh(pre), pre
	}
	runScan(t, scanModel(4, body), 2, 4, false, step)
	_, err := LoadBytes(encode(t, scanModel("L", body)))
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `Scan (opset 17): a body whose state update is not affine`) || !strings.Contains(err.Error(), `"scan"`) {
		t.Errorf("symbolic non-affine scan: %v", err)
	}
}

// TestLoopAndIf: a Loop with a constant trip count is unrolled (its
// iteration number and scan outputs included); If with a run-time
// condition selects with Where, with a constant one it inlines a branch.
func TestLoopAndIf(t *testing.T) {
	body := graph("body", []*onnxpb.NodeProto{
		nd("Identity", "c", []string{"cin"}, []string{"cout"}),
		nd("Cast", "it", []string{"i"}, []string{"fi"}, attrInt("to", int64(f32T))),
		nd("Add", "a", []string{"vin", "vin"}, []string{"v2"}),
		nd("Add", "b", []string{"v2", "fi"}, []string{"vout"}),
		nd("Identity", "s", []string{"vout"}, []string{"scan"}),
	}, []*onnxpb.ValueInfoProto{tinfo("i", i64T), tinfo("cin", onnxpb.TensorProto_BOOL), tinfo("vin", f32T, 2)},
		[]*onnxpb.ValueInfoProto{tinfo("cout", onnxpb.TensorProto_BOOL), tinfo("vout", f32T, 2), tinfo("scan", f32T, 2)})
	loop := model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Loop", "loop", []string{"m", "", "v"}, []string{"vf", "vs"}, attrGraph("body", body))},
		[]*onnxpb.ValueInfoProto{tinfo("v", f32T, 2)}, []*onnxpb.ValueInfoProto{tinfo("vf", f32T, 2), tinfo("vs", f32T, 3, 2)}, i64Tensor("m", nil, 3)))
	out := runModel(t, loop, ir.TensorFromFloat64s(ir.F32, []int64{2}, []float64{1, -1}))
	// v = 2v + i: (1, -1) -> (2, -2) -> (5, -3) -> (12, -4)
	if got := fmt.Sprint(out[0].Float64s(), out[1].Shape, out[1].Float64s()); got != "[12 -4] [3 2] [2 -2 5 -3 12 -4]" {
		t.Errorf("loop: %s", got)
	}

	branch := func(op string) *onnxpb.GraphProto {
		return graph(op, []*onnxpb.NodeProto{nd(op, op, []string{"x", "one"}, []string{"o"})}, nil, []*onnxpb.ValueInfoProto{tinfo("o", f32T, 2)})
	}
	ifNode := nd("If", "if", []string{"cond"}, []string{"y"}, attrGraph("then_branch", branch("Add")), attrGraph("else_branch", branch("Sub")))
	x := ir.TensorFromFloat64s(ir.F32, []int64{2}, []float64{1, 2})
	dyn := model(8, 17, graph("g", []*onnxpb.NodeProto{ifNode},
		[]*onnxpb.ValueInfoProto{tinfo("cond", onnxpb.TensorProto_BOOL), tinfo("x", f32T, 2)}, []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2)}, f32Tensor("one", nil, 1)))
	for c, want := range map[int64]string{1: "[2 3]", 0: "[0 1]"} {
		out := runModel(t, dyn, ir.TensorFromInt64s(ir.Bool, nil, []int64{c}), x)
		if got := fmt.Sprint(out[0].Float64s()); got != want {
			t.Errorf("if cond=%d: %s, want %s", c, got, want)
		}
	}
	static := model(8, 17, graph("g", []*onnxpb.NodeProto{ifNode},
		[]*onnxpb.ValueInfoProto{tinfo("x", f32T, 2)}, []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2)},
		f32Tensor("one", nil, 1), tensorProto("cond", ir.TensorFromInt64s(ir.Bool, nil, []int64{0}))))
	mod, err := LoadBytes(encode(t, static))
	if err != nil {
		t.Fatal(err)
	}
	if text := ir.Print(mod); strings.Contains(text, "Where") || strings.Contains(text, "Add(") {
		t.Errorf("constant If not inlined:\n%s", text)
	}
}

// TestSymbolicShapes: shape arithmetic on symbolic dims folds at import
// (Shape → Gather/Slice → Concat → Reshape), names are made identifiers,
// and the module runs for any size.
func TestSymbolicShapes(t *testing.T) {
	g := graph("my graph", []*onnxpb.NodeProto{
		nd("Shape", "shape", []string{"in.x/0"}, []string{"sh"}),
		nd("Gather", "b", []string{"sh", "zero"}, []string{"bdim"}, attrInt("axis", 0)),
		nd("Unsqueeze", "bu", []string{"bdim", "zero1"}, []string{"bvec"}),
		nd("Concat", "cat", []string{"bvec", "minus1"}, []string{"target"}, attrInt("axis", 0)),
		nd("Reshape", "r", []string{"in.x/0", "target"}, []string{"flat"}),
		nd("ConstantOfShape", "zeros", []string{"sh"}, []string{"z"}),
		nd("Add", "add", []string{"in.x/0", "z"}, []string{"x2"}),
		nd("Flatten", "f", []string{"x2"}, []string{"y2"}, attrInt("axis", 1)),
		nd("Sub", "sub", []string{"flat", "y2"}, []string{"y"}),
	}, []*onnxpb.ValueInfoProto{tinfo("in.x/0", f32T, "batch size", "seq", 4)},
		[]*onnxpb.ValueInfoProto{tinfo("y", f32T, "batch size", "n")},
		i64Tensor("zero", nil, 0), i64Tensor("zero1", []int64{1}, 0), i64Tensor("minus1", []int64{1}, -1))
	mod, err := LoadBytes(encode(t, model(8, 17, g)))
	if err != nil {
		t.Fatal(err)
	}
	text := ir.Print(mod)
	if !strings.Contains(text, "func @my_graph(%in.x_0: f32[batch_size,seq,4]) -> (y: f32[batch_size,4*seq])") ||
		strings.Contains(text, "Gather") || strings.Contains(text, "Concat") {
		t.Errorf("unexpected IR:\n%s", text)
	}
	if _, err := ir.Parse("t.ir", text); err != nil {
		t.Errorf("printed IR does not parse: %v", err)
	}
	for _, dims := range [][]int64{{1, 2, 4}, {3, 5, 4}} {
		n := dims[0] * dims[1] * dims[2]
		x := make([]float64, n)
		out := runModule(t, mod, ir.TensorFromFloat64s(ir.F32, dims, x))
		if fmt.Sprint(out[0].Shape) != fmt.Sprint([]int64{dims[0], dims[1] * 4}) {
			t.Errorf("dims %v: output shape %v", dims, out[0].Shape)
		}
	}
}

package ir

import (
	"strings"
	"testing"
)

// TestInfer checks the op table's type rules one op at a time: each case
// builds a one-op function from text and compares the inferred type (or
// error) with the expectation.
func TestInfer(t *testing.T) {
	tests := []struct {
		name string
		args string // signature arguments
		op   string // op application, without the result type
		want string // the result type, or "error: substring"
	}{
		{"add broadcast", "%a: f32[B,1,4], %b: f32[3,1]", "Add(%a, %b)", "f32[B,3,4]"},
		{"add dtype", "%a: f32[4], %b: i64[4]", "Add(%a, %b)", "error: dtypes differ"},
		{"neg int", "%a: i64[2]", "Neg(%a)", "i64[2]"},
		{"exp int", "%a: i64[2]", "Exp(%a)", "error: want a float type"},
		{"cast", "%a: f32[B,2]", "Cast(%a) {to = bf16}", "bf16[B,2]"},
		{"matmul", "%a: f32[B,L,8], %b: bf16[8,16]", "MatMul(%a, %b)", "f32[B,L,16]"},
		{"matmul transpose_b", "%a: f32[B,L,8], %b: f32[16,8]", "MatMul(%a, %b) {transpose_b = true}", "f32[B,L,16]"},
		{"matmul batch", "%a: f32[2,1,3,8], %b: f32[5,8,4]", "MatMul(%a, %b)", "f32[2,5,3,4]"},
		{"matmul vec", "%a: f32[8], %b: f32[8,4]", "MatMul(%a, %b)", "f32[4]"},
		{"matmul mat-vec", "%a: f32[3,8], %b: f32[8]", "MatMul(%a, %b)", "f32[3]"},
		{"matmul vec-vec", "%a: f32[8], %b: f32[8]", "MatMul(%a, %b)", "f32[]"},
		{"conv zero kernel", "%x: f32[1,8,10], %w: f32[8,0]", "Conv1d(%x, %w)", "error: not a depthwise kernel"},
		{"conv int weight", "%x: f32[1,8,10], %w: i64[8,3]", "Conv1d(%x, %w)", "error: w is i64"},
		{"matmul mismatch", "%a: f32[3,8], %b: f32[7,4]", "MatMul(%a, %b)", "error: contraction dims differ"},
		{"gather", "%e: f32[256,64], %i: i64[B,L]", "Gather(%e, %i)", "f32[B,L,64]"},
		{"gather axis", "%e: f32[2,5,3], %i: i64[4]", "Gather(%e, %i) {axis = 1}", "f32[2,4,3]"},
		{"gather float idx", "%e: f32[2,5], %i: f32[4]", "Gather(%e, %i)", "error: want an integer type"},
		{"reshape", "%x: f32[B,L,8]", "Reshape(%x) {shape = [B*L,2,4]}", "f32[B*L,2,4]"},
		{"transpose", "%x: f32[B,L,8]", "Transpose(%x) {perm = [2, 0, 1]}", "f32[8,B,L]"},
		{"transpose bad", "%x: f32[B,L,8]", "Transpose(%x) {perm = [0, 0, 1]}", "error: not a permutation"},
		{"slice sym", "%x: f32[B,L+3,8]", "Slice(%x) {axes = [1], ends = [9223372036854775807], starts = [3]}", "f32[B,L,8]"},
		{"slice tail", "%x: f32[B,L,8]", "Slice(%x) {axes = [1, 2], ends = [9223372036854775807, 8], starts = [-2, 1], steps = [1, 2]}", "f32[B,2,4]"},
		{"slice sym step", "%x: f32[L]", "Slice(%x) {axes = [0], ends = [4], starts = [0], steps = [2]}", "error: step 2 on symbolic dim"},
		{"split", "%x: f32[B,L,36]", "Split(%x) {axis = -1, sizes = [4, 16, 16]}", "(f32[B,L,4], f32[B,L,16], f32[B,L,16])"},
		{"split sum", "%x: f32[B,L,36]", "Split(%x) {axis = -1, sizes = [4, 16]}", "error: sum to 20"},
		{"concat", "%a: f32[B,8,3], %b: f32[B,8,L]", "Concat(%a, %b) {axis = 2}", "f32[B,8,L+3]"},
		{"concat mismatch", "%a: f32[B,8,3], %b: f32[B,7,L]", "Concat(%a, %b) {axis = 2}", "error: operand 1"},
		{"expand", "%x: f32[1,4]", "Expand(%x) {shape = [B,3,1]}", "f32[B,3,4]"},
		{"reduce keep", "%x: f32[B,L,8]", "ReduceMean(%x) {axes = [-1]}", "f32[B,L,1]"},
		{"reduce drop", "%x: f32[B,L,8]", "ReduceSum(%x) {axes = [0, 2], keepdims = false}", "f32[L]"},
		{"reduce all", "%x: f32[2,3]", "ReduceSum(%x) {keepdims = false}", "f32[]"},
		{"rmsnorm", "%x: bf16[B,L,8], %w: f32[8]", "RMSNorm(%x, %w) {eps = 1e-05}", "bf16[B,L,8]"},
		{"rmsnorm weight", "%x: f32[B,L,8], %w: f32[4]", "RMSNorm(%x, %w) {eps = 1e-05}", "error: does not match the last dim"},
		{"softmax axis", "%x: f32[2,3]", "Softmax(%x) {axis = 2}", "error: axis 2 out of range"},
		{"conv1d causal", "%x: f32[B,128,L], %w: f32[128,1,4], %b: f32[128]", "Conv1d(%x, %w, %b) {pads = [3, 0]}", "f32[B,128,L]"},
		{"conv1d valid", "%x: f32[B,8,L+3], %w: f32[8,4]", "Conv1d(%x, %w)", "f32[B,8,L]"},
		{"conv1d dilated", "%x: f32[1,8,10], %w: f32[8,3]", "Conv1d(%x, %w) {dilation = 2}", "f32[1,8,6]"},
		{"conv1d not depthwise", "%x: f32[1,8,10], %w: f32[8,2,3]", "Conv1d(%x, %w)", "error: not a depthwise kernel"},
		{"scan mamba1", "%u: f32[B,L,8], %dt: f32[B,L,8], %A: f32[8,4], %bc: bf16[B,L,4], %D: f32[8]",
			"SelectiveScan(%u, %dt, %A, %bc, %bc, %D, %u, %D) {delta_softplus = true}", "(f32[B,L,8], f32[B,8,4])"},
		{"scan groups", "%u: f32[B,L,8], %A: f32[8,4], %bc: f32[B,L,2,4]",
			"SelectiveScan(%u, %u, %A, %bc, %bc)", "(f32[B,L,8], f32[B,8,4])"},
		{"scan const BC", "%u: f32[B,L,8], %A: f32[8,4], %bc: f32[8,4]",
			"SelectiveScan(%u, %u, %A, %bc, %bc)", "(f32[B,L,8], f32[B,8,4])"},
		{"scan mamba2", "%u: f32[B,L,8], %dt: f32[B,L,2], %A: f32[2], %bc: f32[B,L,1,4], %D: f32[2]",
			"SelectiveScan(%u, %dt, %A, %bc, %bc, %D, _, %D) {heads = 2}", "(f32[B,L,8], f32[B,8,4])"},
		{"scan bad N", "%u: f32[B,L,8], %A: f32[8,4], %bc: f32[B,L,5]",
			"SelectiveScan(%u, %u, %A, %bc, %bc)", "error: state size 4"},
		{"scan bad h0", "%u: f32[B,L,8], %A: f32[8,4], %bc: f32[B,L,4], %h: f32[B,8,5]",
			"SelectiveScan(%u, %u, %A, %bc, %bc, _, _, _, %h)", "error: state is f32[B,8,5]"},
		{"update", "%x: f32[B,8], %A: f32[8,4], %bc: f32[B,4], %h: f32[B,8,4]",
			"SelectiveStateUpdate(%x, %x, %A, %bc, %bc, _, %x, _, %h) {delta_softplus = true}", "(f32[B,8], f32[B,8,4])"},
		{"update needs h", "%x: f32[B,8], %A: f32[8,4], %bc: f32[B,4]",
			"SelectiveStateUpdate(%x, %x, %A, %bc, %bc)", "error: operand 8 (h) is required"},
		{"causal conv", "%x: f32[B,L,8], %w: f32[8,1,4], %s: f32[B,8,3]",
			"CausalConv1d(%x, %w, _, %s) {activation = \"silu\"}", "(f32[B,L,8], f32[B,8,3])"},
		{"causal conv state", "%x: f32[B,L,8], %w: f32[8,4], %s: f32[B,8,4]",
			"CausalConv1d(%x, %w, _, %s)", "error: state is f32[B,8,4], want f32[B,8,3]"},
		{"lora", "%x: f32[B,L,64], %W: bf16[128,64], %A: f32[8,64], %Bm: f32[128,8]",
			"LoRAMatMul(%x, %W, %A, %Bm) {scale = 2.0, transpose_b = true}", "f32[B,L,128]"},
		{"lora rank", "%x: f32[B,L,64], %W: f32[128,64], %A: f32[8,64], %Bm: f32[128,4]",
			"LoRAMatMul(%x, %W, %A, %Bm) {scale = 2.0, transpose_b = true}", "error: contraction dims differ"},
		{"add rmsnorm", "%x: f32[B,L,8], %res: f32[B,L,8], %w: bf16[8]",
			"AddRMSNorm(%x, %res, %w) {eps = 1e-05}", "(f32[B,L,8], f32[B,L,8])"},
		{"add rmsnorm narrow x", "%x: bf16[B,8], %res: f32[B,8], %w: f32[8]",
			"AddRMSNorm(%x, %res, %w) {eps = 1e-05}", "(f32[B,8], bf16[B,8])"},
		{"add rmsnorm broadcast", "%x: f32[B,L,8], %res: f32[8], %w: f32[8]",
			"AddRMSNorm(%x, %res, %w) {eps = 1e-05}", "error: differ in shape"},
		{"add rmsnorm residual dtype", "%x: f32[4,8], %res: f16[4,8], %w: f32[8]",
			"AddRMSNorm(%x, %res, %w) {eps = 1e-05}", "error: residual is f16"},
		{"add rmsnorm weight", "%x: f32[4,8], %res: f32[4,8], %w: f32[4]",
			"AddRMSNorm(%x, %res, %w) {eps = 1e-05}", "error: does not match the last dim"},
		{"add rmsnorm eps", "%x: f32[4,8], %res: f32[4,8], %w: f32[8]",
			"AddRMSNorm(%x, %res, %w) {eps = -1.0}", "error: eps is -1"},
		{"add rmsnorm no eps", "%x: f32[4,8], %res: f32[4,8], %w: f32[8]",
			"AddRMSNorm(%x, %res, %w)", "error: eps is required"},
		{"fused elementwise", "%x: f32[B,L,8], %b: f32[8]",
			"FusedElementwise(%x, %b) {expr = \"silu(add(%0, %1))\"}", "f32[B,L,8]"},
		{"fused elementwise literal", "%x: bf16[B,1]",
			"FusedElementwise(%x) {expr = \"mul(exp(%0), -0.5)\"}", "bf16[B,1]"},
		{"fused elementwise broadcast both", "%x: f32[3,1], %y: f32[4]",
			"FusedElementwise(%x, %y) {expr = \"pow(%0, %1)\"}", "f32[3,4]"},
		{"fused elementwise dtypes", "%x: f32[4], %y: f16[4]",
			"FusedElementwise(%x, %y) {expr = \"add(%0, %1)\"}", "error: operand 1 is f16"},
		{"fused elementwise int", "%x: i64[4]",
			"FusedElementwise(%x) {expr = \"neg(%0)\"}", "error: want a float type"},
		{"fused elementwise shapes", "%x: f32[3], %y: f32[4]",
			"FusedElementwise(%x, %y) {expr = \"add(%0, %1)\"}", "error: do not broadcast"},
		{"fused elementwise unused", "%x: f32[4], %y: f32[4]",
			"FusedElementwise(%x, %y) {expr = \"exp(%0)\"}", "error: operand %1 is not used"},
		{"fused elementwise range", "%x: f32[4]",
			"FusedElementwise(%x) {expr = \"add(%0, %1)\"}", "error: operand %1 out of range"},
		{"fused elementwise arity", "%x: f32[4]",
			"FusedElementwise(%x) {expr = \"add(%0)\"}", "error: add takes 2 arguments"},
		{"fused elementwise no expr", "%x: f32[4]", "FusedElementwise(%x)", "error: expr is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "func @f(" + tt.args + ") -> (f32[1]) {\n  %r = " + tt.op + " : f32[1]\n  %z = Const() {value = dense(f32[1], [0.0])} : f32[1]\n  return %z\n}\n"
			m, err := Parse("t.ir", src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			v := m.Funcs[0].Body[0]
			got, err := InferType(v)
			if wantErr, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Errorf("got %v, %v; want error containing %q", got, err, wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Errorf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestOpTable checks every entry is complete: a formula, an Infer, and
// attribute defaults of the declared kind.
func TestOpTable(t *testing.T) {
	for _, op := range Ops() {
		info := op.Info()
		if info.Formula == "" || info.Infer == nil {
			t.Errorf("%s: missing formula or Infer", info.Name)
		}
		if got, ok := Lookup(info.Name); !ok || got != op {
			t.Errorf("%s: Lookup gives %v", info.Name, got)
		}
		for _, a := range info.Attrs {
			if a.Default != nil && kindOf(a.Default) != a.Kind {
				t.Errorf("%s.%s: default %v is not a %v", info.Name, a.Name, a.Default, a.Kind)
			}
		}
	}
}

// FuzzParse: the parser never panics, and whatever it accepts and the
// verifier passes prints canonically (print → parse → print is stable).
func FuzzParse(f *testing.F) {
	f.Add("func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Neg(%x) : f32[2]\n  return %1\n}\n")
	f.Add("func @f(%x: f32[B,L+3]) -> (f32[B,3]) {\n  %1 = Slice(%x) {axes = [1], ends = [9223372036854775807], starts = [-3]} : f32[B,3]\n  return %1\n}\n")
	f.Add("func @f() -> (f32[2]) {\n  %0 = Const() {value = dense(f32[2], [1.0, -inf])} : f32[2]\n  return %0\n}\n")
	f.Add("func @g(%x: f32[4]) -> (f32[2]) {\n  %1 = Split(%x) {axis = 0, sizes = [2, 2]} : (f32[2], f32[2])\n  %2 = Extract(%1) {index = 1} : f32[2]\n  return %2\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Parse("fuzz.ir", src)
		if err != nil || Verify(m) != nil {
			return
		}
		p1 := Print(m)
		m2, err := Parse("printed.ir", p1)
		if err != nil {
			t.Fatalf("printed IR does not parse: %v\n%s", err, p1)
		}
		if p2 := Print(m2); p2 != p1 {
			t.Fatalf("print is not stable:\n%s\n---\n%s", p1, p2)
		}
	})
}

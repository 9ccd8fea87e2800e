package ir

import (
	"strings"
	"testing"
)

// TestInferONNXOps checks the type rules of the ops in ops_onnx.go: each
// case builds a one-op function from text and compares the inferred type
// (or error) with the expectation.
func TestInferONNXOps(t *testing.T) {
	tests := []struct {
		name string
		args string // signature arguments
		op   string // op application, without the result type
		want string // the result type, or "error: substring"
	}{
		{"where", "%c: bool[B,1], %a: f32[4], %b: f32[1,4]", "Where(%c, %a, %b)", "f32[B,4]"},
		{"where ints", "%c: bool[], %a: i64[3], %b: i64[]", "Where(%c, %a, %b)", "i64[3]"},
		{"where cond dtype", "%c: f32[4], %a: f32[4], %b: f32[4]", "Where(%c, %a, %b)", "error: cond is f32"},
		{"where dtypes", "%c: bool[4], %a: f32[4], %b: i64[4]", "Where(%c, %a, %b)", "error: dtypes differ"},
		{"where shapes", "%c: bool[3], %a: f32[4], %b: f32[4]", "Where(%c, %a, %b)", "error: do not broadcast"},
		{"compare", "%a: f32[B,4], %b: f32[]", "Compare(%a, %b) {cmp = \"lt\"}", "bool[B,4]"},
		{"compare bool", "%a: bool[2], %b: bool[2]", "Compare(%a, %b) {cmp = \"ne\"}", "bool[2]"},
		{"compare cmp", "%a: f32[2], %b: f32[2]", "Compare(%a, %b) {cmp = \"lessthan\"}", "error: want one of"},
		{"compare needs cmp", "%a: f32[2], %b: f32[2]", "Compare(%a, %b)", "error: cmp is required"},
		{"compare dtypes", "%a: f32[2], %b: i32[2]", "Compare(%a, %b) {cmp = \"eq\"}", "error: dtypes differ"},
		{"erf", "%x: bf16[B,3]", "Erf(%x)", "bf16[B,3]"},
		{"erf int", "%x: i32[3]", "Erf(%x)", "error: want a float type"},
		{"reduce max", "%x: f32[B,L,8]", "ReduceMax(%x) {axes = [1], keepdims = false}", "f32[B,8]"},
		{"reduce max bool", "%x: bool[4]", "ReduceMax(%x)", "error: x is bool"},
		{"cumsum", "%x: i32[B,5]", "CumSum(%x) {axis = -1, exclusive = true}", "i32[B,5]"},
		{"cumsum axis", "%x: f32[5]", "CumSum(%x) {axis = 1}", "error: axis 1 out of range"},
		{"cumsum needs axis", "%x: f32[5]", "CumSum(%x)", "error: axis is required"},
		{"linear scan", "%a: f32[L,B,8,4], %b: f32[L,B,8,4], %h: f32[B,8,4]", "LinearScan(%a, %b, %h)", "f32[L,B,8,4]"},
		{"linear scan broadcast", "%a: f32[], %b: f32[2,L]", "LinearScan(%a, %b) {axis = 1}", "f32[2,L]"},
		{"linear scan h0", "%a: f32[L,4], %b: f32[L,4], %h: f32[L]", "LinearScan(%a, %b, %h)", "error: h0 is f32[L], want f32[4]"},
		{"linear scan dtypes", "%a: f32[L,4], %b: f16[L,4]", "LinearScan(%a, %b)", "error: want the same float type"},
		{"linear scan axis", "%a: f32[L,4], %b: f32[L,4]", "LinearScan(%a, %b) {axis = 2}", "error: axis 2 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "func @f(" + tt.args + ") -> (f32[1]) {\n  %r = " + tt.op + " : f32[1]\n  %z = Const() {value = dense(f32[1], [0.0])} : f32[1]\n  return %z\n}\n"
			m, err := Parse("t.ir", src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := InferType(m.Funcs[0].Body[0])
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

package ir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRoundTrip checks Print(Parse(s)) == s and that the verifier accepts
// every file under testdata.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ir")
	if len(files) == 0 {
		t.Fatal("no testdata/*.ir files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(file, string(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(src), Print(m)); diff != "" {
				t.Errorf("Print(Parse(s)) != s (-file +printed):\n%s", diff)
			}
			// A clone prints the same.
			for _, f := range m.Funcs {
				g := f.Clone()
				if err := VerifyFunc(g); err != nil {
					t.Errorf("clone of @%s: %v", f.Name, err)
				}
				if PrintFunc(g) != PrintFunc(f) {
					t.Errorf("clone of @%s prints differently", f.Name)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty op", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = (%x) : f32[2]\n  return %1\n}", "t.ir:2:8: expected a name"},
		{"unknown op", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Frobnicate(%x) : f32[2]\n  return %1\n}", "t.ir:2:8: unknown op Frobnicate"},
		{"undefined", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Neg(%y) : f32[2]\n  return %1\n}", "t.ir:2:12: undefined value %y"},
		{"redefined", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Neg(%x) : f32[2]\n  %1 = Neg(%x) : f32[2]\n  return %1\n}", "t.ir:3:3: value %1 defined twice"},
		{"bad dtype", "func @f(%x: f33[2]) -> (f32[2]) {\n  return %x\n}", "t.ir:1:13: unknown dtype"},
		{"bad attr", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Softmax(%x) {bogus = 1} : f32[2]\n  return %1\n}", "t.ir:2:21: Softmax has no attribute \"bogus\""},
		{"attr kind", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Softmax(%x) {axis = 1.5} : f32[2]\n  return %1\n}", "t.ir:2:28: expected an integer"},
		{"unterminated", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Param() {name = \"abc} : f32[2]\n", "t.ir:2:24: unterminated string"},
		{"truncated", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Neg(%x)", "t.ir:2:15: expected \":\", found end of file"},
		{"result count", "func @f(%x: f32[2]) -> (f32[2], f32[2]) {\n  return %x\n}", "t.ir:2:3: return has 1 values"},
		{"result type", "func @f(%x: f32[2]) -> (f32[3]) {\n  return %x\n}", "result 0 is f32[2]"},
		{"tensor count", "func @f() -> (f32[2]) {\n  %0 = Const() {value = dense(f32[2], [1.0])} : f32[2]\n  return %0\n}", "t.ir:2:25: dense f32[2] needs 2 values"},
		{"huge tensor", "func @f() -> (f32[2]) {\n  %0 = Const() {value = dense(f32[100000,100000], [1.0])} : f32[2]\n  return %0\n}", "too large"},
		{"stray char", "func @f() -> () {\n  $\n}", "t.ir:2:3: unexpected character '$'"},
		{"negative dim", "func @f(%x: f32[-2]) -> (f32[2]) {\n  return %x\n}", "negative dimension"},
		{"dup func", "func @f(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\nfunc @f(%x: f32[2]) -> (f32[2]) {\n  return %x\n}", "t.ir:4:1: function @f defined twice"},
		{"arg as op", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Arg() : f32[2]\n  return %1\n}", "Arg values are declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.ir", tt.src)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"wrong type", "func @f(%x: f32[2]) -> (f32[3]) {\n  %1 = Neg(%x) : f32[3]\n  return %1\n}",
			"t.ir:2:3: @f: %1 = Neg: type is f32[3], the op table gives f32[2]"},
		{"broadcast", "func @f(%x: f32[2], %y: f32[3]) -> (f32[3]) {\n  %2 = Add(%x, %y) : f32[3]\n  return %2\n}",
			"@f: %2 = Add: shapes [2] and [3] do not broadcast"},
		{"dtype mix", "func @f(%x: f32[2], %y: bf16[2]) -> (f32[2]) {\n  %2 = Mul(%x, %y) : f32[2]\n  return %2\n}",
			"Mul: operand dtypes differ: f32 and bf16"},
		{"missing attr", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = RMSNorm(%x, %x) : f32[2]\n  return %1\n}",
			"%1 = RMSNorm: attribute eps is required"},
		{"arity", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Neg(%x, %x) : f32[2]\n  return %1\n}",
			"Neg takes at most 1 operands"},
		{"required operand", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Add(%x, _) : f32[2]\n  return %1\n}",
			"Add: operand 1 (b) is required"},
		{"tuple operand", "func @f(%x: f32[4]) -> (f32[2]) {\n  %1 = Split(%x) {axis = 0, sizes = [2, 2]} : (f32[2], f32[2])\n  %2 = Neg(%1) : f32[2]\n  return %2\n}",
			"operand 0 (%1) is a tuple"},
		{"tuple result", "func @f(%x: f32[4]) -> ((f32[2], f32[2])) {\n  %1 = Split(%x) {axis = 0, sizes = [2, 2]} : (f32[2], f32[2])\n  return %1\n}",
			"is returned as result 0 but is a tuple"},
		{"reshape", "func @f(%x: f32[B,4]) -> (f32[B,3]) {\n  %1 = Reshape(%x) {shape = [B,3]} : f32[B,3]\n  return %1\n}",
			"cannot view [B,4] as [B,3]"},
		{"scan A dtype", "func @f(%u: f32[1,5,4], %A: bf16[4,2], %B: f32[1,5,2]) -> (f32[1,5,4]) {\n  %3 = SelectiveScan(%u, %u, %A, %B, %B) : (f32[1,5,4], f32[1,4,2])\n  %4 = Extract(%3) {index = 0} : f32[1,5,4]\n  return %4\n}",
			"A is bf16, must be f32"},
		{"enum", "func @f(%x: f32[1,5,4], %w: f32[4,3]) -> (f32[1,5,4]) {\n  %2 = CausalConv1d(%x, %w) {activation = \"gelu\"} : (f32[1,5,4], f32[1,4,2])\n  %3 = Extract(%2) {index = 0} : f32[1,5,4]\n  return %3\n}",
			`activation = "gelu", want one of none, silu`},
		{"extract range", "func @f(%x: f32[4]) -> (f32[2]) {\n  %1 = Split(%x) {axis = 0, sizes = [2, 2]} : (f32[2], f32[2])\n  %2 = Extract(%1) {index = 2} : f32[2]\n  return %2\n}",
			"index 2 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("t.ir", tt.src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = Verify(m)
			if err == nil {
				t.Fatalf("verified, want error %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestVerifyStructure breaks well-formed functions through the Go API in
// ways the parser cannot express.
func TestVerifyStructure(t *testing.T) {
	build := func() (*Func, *Value, *Value) {
		f := NewFunc("f")
		x := f.NewArg("x", TensorType(F32, Static(2)))
		n, _ := f.Append(OpNeg, nil, x)
		e, _ := f.Append(OpExp, nil, n)
		f.SetResults([]*Value{e}, nil)
		return f, n, e
	}
	tests := []struct {
		name   string
		break_ func(f *Func, n, e *Value)
		want   string
	}{
		{"order", func(f *Func, n, e *Value) { f.Body[0], f.Body[1] = f.Body[1], f.Body[0] }, "not defined before its use"},
		{"use list", func(f *Func, n, e *Value) { n.Users = nil }, "use list has 0 entries, 1 uses found"},
		{"dangling", func(f *Func, n, e *Value) { f.Body = f.Body[1:] }, "not defined before its use"},
		{"foreign", func(f *Func, n, e *Value) {
			g, gn, _ := build()
			_ = g
			e.SetArg(0, gn)
		}, "belongs to another function"},
		{"no results", func(f *Func, n, e *Value) { f.Results = nil }, "no results"},
		{"duplicate id", func(f *Func, n, e *Value) { e.ID = n.ID }, "already used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, e := build()
			if err := VerifyFunc(f); err != nil {
				t.Fatalf("before breaking: %v", err)
			}
			tt.break_(f, n, e)
			err := VerifyFunc(f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestWeightsBound(t *testing.T) {
	src := "func @f() -> (f32[2]) {\n  %0 = Param() {name = \"w\"} : f32[2]\n  return %0\n}\n"
	m, err := Parse("t.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	m.Weights = map[string]*Tensor{"w": TensorFromFloat64s(F32, []int64{2}, []float64{1, 2})}
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	m.Weights["w"] = TensorFromFloat64s(BF16, []int64{2}, []float64{1, 2})
	if err := Verify(m); err == nil || !strings.Contains(err.Error(), `weight "w" is bf16[2], Param says f32[2]`) {
		t.Errorf("got %v", err)
	}
	delete(m.Weights, "w")
	if err := Verify(m); err == nil || !strings.Contains(err.Error(), `no weight named "w"`) {
		t.Errorf("got %v", err)
	}
}

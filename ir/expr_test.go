package ir

import (
	"strings"
	"testing"
)

// TestParseExpr checks accepted expressions against their canonical
// rendering and rejected ones against the error.
func TestParseExpr(t *testing.T) {
	deep := strings.Repeat("neg(", MaxExprDepth-1) + "%0" + strings.Repeat(")", MaxExprDepth-1)
	tooDeep := "neg(" + deep + ")"
	wide := "%0" // MaxExprNodes nodes: add(add(...), 1) chains nest too deep, so balance a tree
	for n := 1; n < MaxExprNodes; n *= 2 {
		wide = "add(" + wide + ", " + wide + ")"
	}
	tests := []struct {
		src  string
		n    int
		want string // canonical form, or "error: substring"
	}{
		{"%0", 1, "%0"},
		{"silu(mul(%0, sigmoid(%1)))", 2, "silu(mul(%0, sigmoid(%1)))"},
		{" add( %1 ,%0 ) ", 2, "add(%1, %0)"},
		{"mul(%0, 1e-05)", 1, "mul(%0, 1e-05)"},
		{"sub(-2.50, %0)", 1, "sub(-2.5, %0)"},
		{"pow(%0, +2)", 1, "pow(%0, 2)"},
		{"add(%0, 1E+6)", 1, "add(%0, 1e+06)"},
		{"div(.5, %0)", 1, "div(0.5, %0)"},
		{"add(%10, %0)", 11, "error: operand %1 is not used"},
		{deep, 1, deep},
		{tooDeep, 1, "error: nested deeper than 32"},
		{wide, 1, "error: more than 256 nodes"},
		{"exp(%0) " + strings.Repeat(" ", MaxExprLen), 1, "error: at most 4096"},
		{"", 1, "error: ends early"},
		{"%0", 0, "error: out of range"},
		{"%01", 2, "error: bad operand reference %01"},
		{"%", 1, "error: bad operand reference"},
		{"exp(%0", 1, "error: want , or )"},
		{"exp %0", 1, "error: want ( after exp"},
		{"exp(%0))", 1, "error: unexpected \")\" after"},
		{"cos(%0)", 1, `error: unknown function "cos"`},
		{"Exp(%0)", 1, "error: unexpected"},
		{"add(%0, 1e999)", 1, "error: bad number"},
		{"add(%0, 1-2)", 1, "error: want , or )"},
		{"add(%0, 1.2.3)", 1, "error: bad number"},
		{"add(%0, inf)", 1, `error: unknown function "inf"`},
		{"exp(%0, %0)", 1, "error: exp takes 1 arguments, has 2"},
		{"add(%0,)", 1, "error: unexpected"},
		{"%0", MaxExprInputs + 1, "error: at most 16"},
	}
	for _, tt := range tests {
		name := tt.src
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			e, err := ParseExpr(tt.src, tt.n)
			if wantErr, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Errorf("got %v, %v; want error containing %q", e, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExpr: %v", err)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseExprTree checks the parsed structure of one expression.
func TestParseExprTree(t *testing.T) {
	e, err := ParseExpr("mul(silu(%1), sub(%0, -3))", 2)
	if err != nil {
		t.Fatal(err)
	}
	if e.Op != OpMul || len(e.Args) != 2 {
		t.Fatalf("root is %v with %d args", e.Op, len(e.Args))
	}
	s, d := e.Args[0], e.Args[1]
	if s.Op != OpSiLU || s.Args[0].Op != OpArg || s.Args[0].Input != 1 {
		t.Errorf("first argument is %v", s)
	}
	if d.Op != OpSub || d.Args[0].Input != 0 || d.Args[1].Op != OpConst || d.Args[1].Value != -3 {
		t.Errorf("second argument is %v", d)
	}
}

// TestExprFuncsCoverOps checks that every function names an elementwise
// float op of the right arity, and that the names round-trip.
func TestExprFuncsCoverOps(t *testing.T) {
	for name, op := range ExprFuncs {
		info := op.Info()
		if !info.Has(Elementwise) || exprArity(op) < 1 || exprArity(op) > 2 {
			t.Errorf("%s -> %v is not a unary or binary elementwise op", name, op)
		}
		if got, ok := ExprFuncName(op); !ok || got != name {
			t.Errorf("ExprFuncName(%v) = %q, %v; want %q", op, got, ok, name)
		}
	}
}

// FuzzParseExpr: ParseExpr never panics, and what it accepts renders to a
// canonical string that parses back to itself.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"%0", "add(%0, %1)", "silu(mul(%0, sigmoid(%1)))", "pow(%1, -1.5e-3)", "neg(neg(%2))"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, src string, n int) {
		e, err := ParseExpr(src, n)
		if err != nil {
			return
		}
		c := e.String()
		e2, err := ParseExpr(c, n)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", c, src, err)
		}
		if c2 := e2.String(); c2 != c {
			t.Fatalf("canonical form is not stable: %q -> %q", c, c2)
		}
	})
}

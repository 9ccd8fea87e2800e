package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits of a FusedElementwise expression (see ops_fused.go).
const (
	// MaxExprLen bounds the expression's length in bytes.
	MaxExprLen = 4096
	// MaxExprDepth bounds the nesting depth (an input or number is depth 1).
	MaxExprDepth = 32
	// MaxExprNodes bounds the calls, inputs and numbers of an expression.
	MaxExprNodes = 256
	// MaxExprInputs bounds the operands of a FusedElementwise.
	MaxExprInputs = 16
)

// Expr is a parsed FusedElementwise expression: a reference to an operand
// (Op == OpArg, Input), a number (Op == OpConst, Value) or an elementwise
// op applied to sub-expressions (Op one of the ops ExprFuncs names, Args
// its operands in order).
type Expr struct {
	Op    Op
	Input int
	Value float64
	Args  []*Expr
}

// ExprFuncs maps the function names of the expression language to the ops
// they apply.
var ExprFuncs = map[string]Op{
	"neg": OpNeg, "exp": OpExp, "log": OpLog, "sqrt": OpSqrt, "rsqrt": OpRsqrt,
	"sigmoid": OpSigmoid, "silu": OpSiLU, "softplus": OpSoftplus, "tanh": OpTanh, "relu": OpRelu,
	"add": OpAdd, "sub": OpSub, "mul": OpMul, "div": OpDiv, "pow": OpPow,
}

// ExprFuncName returns the expression-language name of op, if it has one.
func ExprFuncName(op Op) (string, bool) {
	for name, o := range ExprFuncs {
		if o == op {
			return name, true
		}
	}
	return "", false
}

// exprArity is the number of arguments of the function applying op.
func exprArity(op Op) int { return len(op.Info().Args) }

// ParseExpr parses a FusedElementwise expression over nInputs operands
// (grammar in ops_fused.go). It checks the limits, the arity of every
// call, that every "%i" names an operand and that every operand is used.
func ParseExpr(s string, nInputs int) (*Expr, error) {
	if len(s) > MaxExprLen {
		return nil, fmt.Errorf("expression is %d bytes, at most %d", len(s), MaxExprLen)
	}
	if nInputs < 0 || nInputs > MaxExprInputs {
		return nil, fmt.Errorf("%d inputs, at most %d", nInputs, MaxExprInputs)
	}
	p := &exprParser{s: s, used: make([]bool, nInputs)}
	e, err := p.expr(1)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(s) {
		return nil, p.errorf("unexpected %q after the expression", p.rest())
	}
	for i, u := range p.used {
		if !u {
			return nil, fmt.Errorf("operand %%%d is not used", i)
		}
	}
	return e, nil
}

type exprParser struct {
	s     string
	i     int
	nodes int
	used  []bool
}

func (p *exprParser) errorf(format string, a ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, a...))
}

// rest is a short excerpt of the input from the current offset.
func (p *exprParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 12 {
		r = r[:12] + "…"
	}
	return r
}

func (p *exprParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *exprParser) expr(depth int) (*Expr, error) {
	if depth > MaxExprDepth {
		return nil, p.errorf("nested deeper than %d", MaxExprDepth)
	}
	if p.nodes++; p.nodes > MaxExprNodes {
		return nil, p.errorf("more than %d nodes", MaxExprNodes)
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.errorf("expression ends early")
	}
	switch c := p.s[p.i]; {
	case c == '%':
		return p.input()
	case c == '-' || c == '+' || c == '.' || '0' <= c && c <= '9':
		return p.number()
	case 'a' <= c && c <= 'z':
		return p.call(depth)
	}
	return nil, p.errorf("unexpected %q", p.rest())
}

func (p *exprParser) input() (*Expr, error) {
	p.i++ // '%'
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	digits := p.s[start:p.i]
	if digits == "" || len(digits) > 1 && digits[0] == '0' || len(digits) > 3 {
		return nil, p.errorf("bad operand reference %%%s", digits)
	}
	n, _ := strconv.Atoi(digits)
	if n >= len(p.used) {
		return nil, p.errorf("operand %%%d out of range (%d operands)", n, len(p.used))
	}
	p.used[n] = true
	return &Expr{Op: OpArg, Input: n}, nil
}

func (p *exprParser) number() (*Expr, error) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		sign := (c == '-' || c == '+') && (p.i == start || p.s[p.i-1] == 'e' || p.s[p.i-1] == 'E')
		if !sign && c != '.' && c != 'e' && c != 'E' && (c < '0' || c > '9') {
			break
		}
		p.i++
	}
	text := p.s[start:p.i]
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		p.i = start
		return nil, p.errorf("bad number %q (want a finite decimal)", text)
	}
	return &Expr{Op: OpConst, Value: x}, nil
}

func (p *exprParser) call(depth int) (*Expr, error) {
	start := p.i
	for p.i < len(p.s) && 'a' <= p.s[p.i] && p.s[p.i] <= 'z' {
		p.i++
	}
	name := p.s[start:p.i]
	op, ok := ExprFuncs[name]
	if !ok {
		p.i = start
		return nil, p.errorf("unknown function %q", name)
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, p.errorf("want ( after %s", name)
	}
	p.i++
	e := &Expr{Op: op}
	for {
		a, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		e.Args = append(e.Args, a)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ')' {
			p.i++
			break
		}
		return nil, p.errorf("want , or ) in the arguments of %s", name)
	}
	if want := exprArity(op); len(e.Args) != want {
		return nil, fmt.Errorf("%s takes %d arguments, has %d", name, want, len(e.Args))
	}
	return e, nil
}

// String renders e canonically: "name(a, b)", "%i", and numbers in the
// shortest form that parses back to the same float64.
func (e *Expr) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Expr) write(b *strings.Builder) {
	switch e.Op {
	case OpArg:
		fmt.Fprintf(b, "%%%d", e.Input)
	case OpConst:
		b.WriteString(strconv.FormatFloat(e.Value, 'g', -1, 64))
	default:
		name, _ := ExprFuncName(e.Op)
		b.WriteString(name)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b)
		}
		b.WriteByte(')')
	}
}

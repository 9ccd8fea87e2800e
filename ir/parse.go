package ir

import (
	"fmt"
	"math"
	"strconv"
)

// Parse reads a module in the text format. Errors are *ParseError values
// carrying file:line:col. Parse checks syntax, names and attribute kinds;
// Verify checks types and the rest.
func Parse(file, src string) (m *Module, err error) {
	toks, err := lex(file, src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*ParseError)
			if !ok {
				panic(r)
			}
			m, err = nil, pe
		}
	}()
	m = &Module{}
	seen := map[string]bool{}
	for p.peek().kind != tEOF {
		f := p.parseFunc()
		if seen[f.Name] {
			p.failAt(p.toks[p.last].pos, "function @%s defined twice", f.Name)
		}
		seen[f.Name] = true
		m.Funcs = append(m.Funcs, f)
	}
	return m, nil
}

type parser struct {
	toks []token
	i    int
	last int // index of the token that started the current func
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) failAt(pos Pos, format string, args ...any) {
	panic(&ParseError{pos, fmt.Sprintf(format, args...)})
}

func (p *parser) fail(format string, args ...any) { p.failAt(p.peek().pos, format, args...) }

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expect(s string) token {
	if !p.isPunct(s) {
		p.fail("expected %q, found %v", s, p.peek())
	}
	return p.next()
}

func (p *parser) ident() token {
	if p.peek().kind != tIdent {
		p.fail("expected a name, found %v", p.peek())
	}
	return p.next()
}

func (p *parser) keyword(s string) {
	if t := p.peek(); t.kind != tIdent || t.text != s {
		p.fail("expected %q, found %v", s, t)
	}
	p.next()
}

func (p *parser) parseFunc() *Func {
	p.last = p.i
	p.keyword("func")
	g := p.next()
	if g.kind != tGlobal {
		p.failAt(g.pos, "expected @name, found %v", g)
	}
	f := NewFunc(g.text)
	names := map[string]*Value{}
	p.expect("(")
	for !p.isPunct(")") {
		if len(f.Args) > 0 {
			p.expect(",")
		}
		t := p.next()
		if t.kind != tLocal {
			p.failAt(t.pos, "expected %%name, found %v", t)
		}
		if names[t.text] != nil {
			p.failAt(t.pos, "argument %%%s defined twice", t.text)
		}
		p.expect(":")
		a := f.NewArg(t.text, p.parseType())
		a.Pos = t.pos
		names[t.text] = a
	}
	p.expect(")")
	p.expect("->")
	p.expect("(")
	var resTypes []Type
	var resNames []string
	named := false
	for !p.isPunct(")") {
		if len(resTypes) > 0 {
			p.expect(",")
		}
		name := ""
		if p.peek().kind == tIdent && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == ":" {
			name = p.next().text
			p.next()
			named = true
		}
		resNames = append(resNames, name)
		resTypes = append(resTypes, p.parseType())
	}
	p.expect(")")
	p.expect("{")
	for {
		t := p.peek()
		if t.kind == tIdent && t.text == "return" {
			break
		}
		if t.kind != tLocal {
			p.fail("expected %%name = Op(...) or return, found %v", t)
		}
		p.parseValue(f, names)
	}
	retPos := p.next().pos
	var results []*Value
	for !p.isPunct("}") {
		if len(results) > 0 {
			p.expect(",")
		}
		results = append(results, p.ref(names))
	}
	if len(results) != len(resTypes) {
		p.failAt(retPos, "return has %d values, signature has %d results", len(results), len(resTypes))
	}
	for i, r := range results {
		if !r.Type.Equal(resTypes[i]) {
			p.failAt(retPos, "result %d is %v, signature says %v", i, r.Type, resTypes[i])
		}
	}
	p.expect("}")
	if !named {
		resNames = nil
	}
	f.SetResults(results, resNames)
	return f
}

func (p *parser) ref(names map[string]*Value) *Value {
	t := p.next()
	if t.kind != tLocal {
		p.failAt(t.pos, "expected %%value, found %v", t)
	}
	v := names[t.text]
	if v == nil {
		p.failAt(t.pos, "undefined value %%%s", t.text)
	}
	return v
}

func (p *parser) parseValue(f *Func, names map[string]*Value) {
	def := p.next()
	if names[def.text] != nil {
		p.failAt(def.pos, "value %%%s defined twice", def.text)
	}
	p.expect("=")
	opTok := p.ident()
	op, ok := Lookup(opTok.text)
	if !ok {
		p.failAt(opTok.pos, "unknown op %s", opTok.text)
	}
	if op == OpArg {
		p.failAt(opTok.pos, "Arg values are declared in the signature")
	}
	info := op.Info()
	var args []*Value
	p.expect("(")
	for !p.isPunct(")") {
		if len(args) > 0 {
			p.expect(",")
		}
		if t := p.peek(); t.kind == tIdent && t.text == "_" {
			p.next()
			args = append(args, nil)
			continue
		}
		args = append(args, p.ref(names))
	}
	p.expect(")")
	var attrs Attrs
	if p.isPunct("{") {
		p.next()
		attrs = Attrs{}
		for !p.isPunct("}") {
			if len(attrs) > 0 {
				p.expect(",")
			}
			k := p.ident()
			spec := info.Attr(k.text)
			if spec == nil {
				p.failAt(k.pos, "%s has no attribute %q", info.Name, k.text)
			}
			if _, dup := attrs[k.text]; dup {
				p.failAt(k.pos, "attribute %s given twice", k.text)
			}
			p.expect("=")
			attrs[k.text] = p.parseAttr(spec.Kind)
		}
		p.expect("}")
	}
	p.expect(":")
	t := p.parseType()
	v := f.AppendDeclared(op, attrs, t, args...)
	v.Pos = def.pos
	names[def.text] = v
}

func (p *parser) parseType() Type {
	if p.isPunct("(") {
		p.next()
		var elems []Type
		for !p.isPunct(")") {
			if len(elems) > 0 {
				p.expect(",")
			}
			e := p.parseType()
			if e.IsTuple() {
				p.fail("nested tuple types are not allowed")
			}
			elems = append(elems, e)
		}
		p.next()
		if elems == nil {
			elems = []Type{}
		}
		return TupleType(elems...)
	}
	t := p.ident()
	dt, err := ParseDType(t.text)
	if err != nil {
		p.failAt(t.pos, "%v", err)
	}
	return TensorType(dt, p.parseShape())
}

func (p *parser) parseShape() Shape {
	p.expect("[")
	s := Shape{}
	for !p.isPunct("]") {
		if len(s) > 0 {
			p.expect(",")
		}
		s = append(s, p.parseDim())
	}
	p.next()
	return s
}

// parseDim reads 64, L, B*L, 2*L, L+3, L-1.
func (p *parser) parseDim() Dim {
	t := p.next()
	var d Dim
	switch t.kind {
	case tInt:
		n := p.intOf(t)
		if !p.isPunct("*") {
			if n < 0 {
				p.failAt(t.pos, "negative dimension %d", n)
			}
			return StaticDim(n)
		}
		p.next()
		s := p.ident()
		d = SymDim(s.text)
		d.K = n
		if n == 0 {
			p.failAt(t.pos, "zero coefficient in dimension")
		}
	case tIdent:
		d = SymDim(t.text)
	default:
		p.failAt(t.pos, "expected a dimension, found %v", t)
	}
	for p.isPunct("*") {
		p.next()
		s := p.ident()
		var ok bool
		d, ok = MulDims(d, SymDim(s.text))
		if !ok {
			p.failAt(s.pos, "bad dimension")
		}
	}
	switch {
	case p.isPunct("+"):
		p.next()
		t := p.next()
		if t.kind != tInt {
			p.failAt(t.pos, "expected an integer offset, found %v", t)
		}
		d.Off = p.intOf(t)
	case p.peek().kind == tInt && p.peek().text[0] == '-':
		d.Off = p.intOf(p.next())
	}
	return d
}

func (p *parser) intOf(t token) int64 {
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		p.failAt(t.pos, "bad integer %s", t.text)
	}
	return n
}

// number reads an int, a float, inf, -inf or nan as float64.
func (p *parser) number() float64 {
	t := p.next()
	switch {
	case t.kind == tInt || t.kind == tFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil && !isRangeErr(err) {
			p.failAt(t.pos, "bad number %s", t.text)
		}
		return f
	case t.kind == tIdent && t.text == "inf":
		return math.Inf(1)
	case t.kind == tIdent && t.text == "nan":
		return math.NaN()
	case t.kind == tPunct && t.text == "-" && p.peek().kind == tIdent && p.peek().text == "inf":
		p.next()
		return math.Inf(-1)
	}
	p.failAt(t.pos, "expected a number, found %v", t)
	return 0
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (p *parser) list(elem func()) {
	p.expect("[")
	for n := 0; !p.isPunct("]"); n++ {
		if n > 0 {
			p.expect(",")
		}
		elem()
	}
	p.next()
}

func (p *parser) parseAttr(kind AttrKind) any {
	switch kind {
	case AttrInt:
		t := p.next()
		if t.kind != tInt {
			p.failAt(t.pos, "expected an integer, found %v", t)
		}
		return p.intOf(t)
	case AttrFloat:
		return p.number()
	case AttrString:
		t := p.next()
		if t.kind != tString {
			p.failAt(t.pos, "expected a string, found %v", t)
		}
		return t.text
	case AttrBool:
		return p.boolean()
	case AttrInts:
		out := []int64{}
		p.list(func() {
			t := p.next()
			if t.kind != tInt {
				p.failAt(t.pos, "expected an integer, found %v", t)
			}
			out = append(out, p.intOf(t))
		})
		return out
	case AttrFloats:
		out := []float64{}
		p.list(func() { out = append(out, p.number()) })
		return out
	case AttrStrings:
		out := []string{}
		p.list(func() {
			t := p.next()
			if t.kind != tString {
				p.failAt(t.pos, "expected a string, found %v", t)
			}
			out = append(out, t.text)
		})
		return out
	case AttrDType:
		t := p.ident()
		dt, err := ParseDType(t.text)
		if err != nil {
			p.failAt(t.pos, "%v", err)
		}
		return dt
	case AttrShape:
		return p.parseShape()
	case AttrTensor:
		return p.parseTensor()
	}
	p.fail("attribute kind %v cannot be parsed", kind)
	return nil
}

func (p *parser) boolean() bool {
	t := p.next()
	if t.kind == tIdent && (t.text == "true" || t.text == "false") {
		return t.text == "true"
	}
	p.failAt(t.pos, "expected true or false, found %v", t)
	return false
}

// parseTensor reads dense(f32[2], [1.0, 2.0]).
func (p *parser) parseTensor() *Tensor {
	start := p.peek().pos
	p.keyword("dense")
	p.expect("(")
	typ := p.parseType()
	if typ.IsTuple() || !typ.Shape.IsStatic() {
		p.failAt(start, "a dense tensor needs a static tensor type, has %v", typ)
	}
	shape := typ.Shape.Sizes()
	n := int64(1)
	for _, d := range shape {
		if d != 0 && n > (1<<24)/d {
			p.failAt(start, "inline tensor %v is too large; store it as a weight", typ)
		}
		n *= d
	}
	p.expect(",")
	var t *Tensor
	switch dt := typ.DType; {
	case dt == I64 || dt == I32 || dt == I8:
		var vals []int64
		p.list(func() {
			tok := p.next()
			if tok.kind != tInt {
				p.failAt(tok.pos, "expected an integer, found %v", tok)
			}
			vals = append(vals, p.intOf(tok))
		})
		if int64(len(vals)) == n {
			t = TensorFromInt64s(dt, shape, vals)
		}
	case dt == Bool:
		var vals []float64
		p.list(func() {
			if p.boolean() {
				vals = append(vals, 1)
			} else {
				vals = append(vals, 0)
			}
		})
		if int64(len(vals)) == n {
			t = TensorFromFloat64s(dt, shape, vals)
		}
	default:
		var vals []float64
		p.list(func() { vals = append(vals, p.number()) })
		if int64(len(vals)) == n {
			t = TensorFromFloat64s(dt, shape, vals)
		}
	}
	if t == nil {
		p.failAt(start, "dense %v needs %d values", typ, n)
	}
	p.expect(")")
	return t
}

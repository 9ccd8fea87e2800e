package cuda

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// Size is a count that may depend on the symbolic dims of a function (the
// batch B, the prompt length L): a polynomial in the symbols, the sum of
// its terms. Static sizes are a single term without symbols. The launch
// table stores grid extents, buffer lengths and kernel size arguments as
// Sizes; the runtime evaluates them once the symbols are bound.
type Size struct {
	Terms []Term `json:"terms"`
}

// Term is Coef times the product of Symbols ("B*L"; "" for a constant).
type Term struct {
	Coef    int64  `json:"k"`
	Symbols string `json:"s,omitempty"`
}

// maxSize bounds every evaluated size, so that index arithmetic in Go and
// in the kernels (64-bit) cannot overflow.
const maxSize = 1 << 48

// Eval returns the value of s with the symbols bound by env. It is an
// error when a symbol is unbound or the value is negative or beyond 2^48.
func (s Size) Eval(env map[string]int64) (int64, error) {
	total := int64(0)
	for _, t := range s.Terms {
		v := t.Coef
		if t.Symbols != "" {
			for _, sym := range strings.Split(t.Symbols, "*") {
				n, ok := env[sym]
				if !ok {
					return 0, fmt.Errorf("symbol %s is unbound", sym)
				}
				if n < 0 || n > maxSize || v != 0 && abs64(v) > maxSize/max(n, 1) {
					return 0, fmt.Errorf("size %v overflows with %s = %d", s, sym, n)
				}
				v *= n
			}
		}
		if abs64(total) > maxSize || abs64(v) > maxSize {
			return 0, fmt.Errorf("size %v overflows", s)
		}
		total += v
	}
	if total < 0 || total > maxSize {
		return 0, fmt.Errorf("size %v is %d, out of range", s, total)
	}
	return total, nil
}

func abs64(x int64) int64 {
	if x < 0 {
		if x == math.MinInt64 {
			return math.MaxInt64
		}
		return -x
	}
	return x
}

// String renders s as in the IR text format: 64*L+192, B*L, 16.
func (s Size) String() string {
	if len(s.Terms) == 0 {
		return "0"
	}
	var b strings.Builder
	for i, t := range s.Terms {
		switch {
		case i > 0 && t.Coef < 0:
			b.WriteByte('-')
		case i > 0:
			b.WriteByte('+')
		case t.Coef < 0:
			b.WriteByte('-')
		}
		c := abs64(t.Coef)
		switch {
		case t.Symbols == "":
			b.WriteString(strconv.FormatInt(c, 10))
		case c == 1:
			b.WriteString(t.Symbols)
		default:
			b.WriteString(strconv.FormatInt(c, 10) + "*" + t.Symbols)
		}
	}
	return b.String()
}

// poly is a Size under construction: coefficient per monomial (the sorted,
// "*"-joined symbols; "" for the constant term).
type poly map[string]int64

func constPoly(c int64) poly { return poly{"": c} }

// polyOf converts an IR dim K·S + Off.
func polyOf(d ir.Dim) poly {
	p := poly{}
	if d.S != "" {
		p[d.S] = d.K
	}
	if d.Off != 0 || d.S == "" {
		p[""] += d.Off
	}
	return p.trim()
}

// polyOfShape is the number of elements of shape.
func polyOfShape(shape ir.Shape) poly {
	p := constPoly(1)
	for _, d := range shape {
		p = p.mul(polyOf(d))
	}
	return p
}

// trim drops zero coefficients (keeping a zero constant for the zero poly).
func (p poly) trim() poly {
	for m, c := range p {
		if c == 0 {
			delete(p, m)
		}
	}
	if len(p) == 0 {
		p[""] = 0
	}
	return p
}

func (p poly) add(q poly) poly {
	r := poly{}
	for m, c := range p {
		r[m] += c
	}
	for m, c := range q {
		r[m] += c
	}
	return r.trim()
}

func (p poly) mul(q poly) poly {
	r := poly{}
	for m1, c1 := range p {
		for m2, c2 := range q {
			r[mulMonomials(m1, m2)] += c1 * c2
		}
	}
	return r.trim()
}

func mulMonomials(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	f := append(strings.Split(a, "*"), strings.Split(b, "*")...)
	slices.Sort(f)
	return strings.Join(f, "*")
}

// constant returns p's value when it has no symbols.
func (p poly) constant() (int64, bool) {
	if len(p) == 1 {
		c, ok := p[""]
		return c, ok
	}
	return 0, false
}

func (p poly) equal(q poly) bool {
	if len(p) != len(q) {
		return false
	}
	for m, c := range p {
		if q[m] != c {
			return false
		}
	}
	return true
}

// monomials returns p's monomials in a fixed order: by degree, then by name.
func (p poly) monomials() []string {
	ms := make([]string, 0, len(p))
	for m := range p {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b string) int {
		da, db := degree(a), degree(b)
		if da != db {
			return db - da
		}
		return strings.Compare(a, b)
	})
	return ms
}

func degree(m string) int {
	if m == "" {
		return 0
	}
	return strings.Count(m, "*") + 1
}

// size freezes p into a Size.
func (p poly) size() Size {
	var s Size
	for _, m := range p.monomials() {
		s.Terms = append(s.Terms, Term{Coef: p[m], Symbols: m})
	}
	return s
}

// symbols returns the symbols p uses, sorted.
func (p poly) symbols() []string {
	var out []string
	for m := range p {
		if m == "" {
			continue
		}
		for _, s := range strings.Split(m, "*") {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// c renders p as a C expression over the kernel's size parameters
// (sizeParam): 64, size_L, 64 * size_L + 192.
func (p poly) c() string {
	var b strings.Builder
	for i, m := range p.monomials() {
		c := p[m]
		if i > 0 {
			if c < 0 {
				b.WriteString(" - ")
				c = -c
			} else {
				b.WriteString(" + ")
			}
		}
		var factors []string
		if m != "" {
			for _, s := range strings.Split(m, "*") {
				factors = append(factors, sizeParam(s))
			}
		}
		if c != 1 || m == "" {
			factors = append([]string{strconv.FormatInt(c, 10)}, factors...)
		}
		b.WriteString(strings.Join(factors, " * "))
	}
	return b.String()
}

// cFactor renders p for use as an operand of * / %: parenthesized unless
// it is a single number or symbol.
func (p poly) cFactor() string {
	s := p.c()
	if strings.ContainsAny(s, " ") {
		return "(" + s + ")"
	}
	return s
}

// sizeParam is the name of the kernel parameter holding symbol s: "size_"
// followed by the symbol with dots (allowed in IR names) as underscores.
func sizeParam(s string) string {
	return "size_" + strings.ReplaceAll(s, ".", "_")
}

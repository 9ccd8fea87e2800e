package ir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Dim is one dimension of a shape: K·S + Off, where S is a product of
// symbolic names such as "B" or "B*L" (empty for a static dimension). A
// static dimension has S == "" and K == 0 and its size in Off. Dims are kept
// canonical (factors of S sorted, K ≠ 0 when S ≠ ""), so == compares them.
type Dim struct {
	K   int64
	S   string
	Off int64
}

// StaticDim returns the static dimension n.
func StaticDim(n int64) Dim { return Dim{Off: n} }

// SymDim returns the symbolic dimension named by s, a product of names such
// as "L" or "B*L".
func SymDim(s string) Dim {
	f := strings.Split(s, "*")
	sort.Strings(f)
	return Dim{K: 1, S: strings.Join(f, "*")}
}

// IsStatic reports whether d has a known size.
func (d Dim) IsStatic() bool { return d.S == "" }

// Size returns the size of a static dimension and -1 for a symbolic one.
func (d Dim) Size() int64 {
	if d.S != "" {
		return -1
	}
	return d.Off
}

// String renders d in the text format: 64, L, B*L, 2*L, L+3, L-1.
func (d Dim) String() string {
	if d.S == "" {
		return strconv.FormatInt(d.Off, 10)
	}
	var b strings.Builder
	if d.K != 1 {
		b.WriteString(strconv.FormatInt(d.K, 10))
		b.WriteByte('*')
	}
	b.WriteString(d.S)
	if d.Off > 0 {
		b.WriteByte('+')
		b.WriteString(strconv.FormatInt(d.Off, 10))
	} else if d.Off < 0 {
		b.WriteString(strconv.FormatInt(d.Off, 10))
	}
	return b.String()
}

// AddDims returns a+b; ok is false when the sum is not of the form K·S+Off.
func AddDims(a, b Dim) (Dim, bool) {
	switch {
	case a.S == "":
		return Dim{K: b.K, S: b.S, Off: a.Off + b.Off}, true
	case b.S == "":
		return Dim{K: a.K, S: a.S, Off: a.Off + b.Off}, true
	case a.S == b.S:
		d := Dim{K: a.K + b.K, S: a.S, Off: a.Off + b.Off}
		if d.K == 0 {
			d.S = ""
		}
		return d, true
	}
	return Dim{}, false
}

// SubDims returns a-b; ok is false when the difference is not of the form
// K·S+Off.
func SubDims(a, b Dim) (Dim, bool) {
	return AddDims(a, Dim{K: -b.K, S: b.S, Off: -b.Off})
}

// MulDims returns a·b; ok is false when the product is not of the form
// K·S+Off (for example (L+1)·B).
func MulDims(a, b Dim) (Dim, bool) {
	switch {
	case a.S == "":
		if a.Off == 0 {
			return StaticDim(0), true
		}
		return Dim{K: b.K * a.Off, S: b.S, Off: b.Off * a.Off}, true
	case b.S == "":
		return MulDims(b, a)
	case a.Off == 0 && b.Off == 0:
		f := append(strings.Split(a.S, "*"), strings.Split(b.S, "*")...)
		sort.Strings(f)
		return Dim{K: a.K * b.K, S: strings.Join(f, "*")}, true
	}
	return Dim{}, false
}

// Shape is a list of dimensions, outermost first.
type Shape []Dim

// Static returns a shape of static dimensions.
func Static(dims ...int64) Shape {
	s := make(Shape, len(dims))
	for i, d := range dims {
		s[i] = StaticDim(d)
	}
	return s
}

// Rank is the number of dimensions.
func (s Shape) Rank() int { return len(s) }

// IsStatic reports whether every dimension is static.
func (s Shape) IsStatic() bool {
	for _, d := range s {
		if !d.IsStatic() {
			return false
		}
	}
	return true
}

// Sizes returns the static sizes; symbolic dimensions are -1.
func (s Shape) Sizes() []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = d.Size()
	}
	return out
}

// NumElements returns the product of the dimensions; ok is false when it
// cannot be written as one Dim.
func (s Shape) NumElements() (Dim, bool) {
	p := StaticDim(1)
	for _, d := range s {
		var ok bool
		if p, ok = MulDims(p, d); !ok {
			return Dim{}, false
		}
	}
	return p, true
}

// Equal reports whether s and t have the same dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// String renders s as [B,L,64].
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Broadcast returns the shape of an elementwise op on operands of shapes a
// and b under NumPy rules: shapes are aligned on the right, and each pair of
// dimensions must be equal or one of them the static size 1.
func Broadcast(a, b Shape) (Shape, error) {
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := 0; i < n; i++ {
		da, db := StaticDim(1), StaticDim(1)
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == StaticDim(1):
			out[i] = db
		case db == StaticDim(1):
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dim %d: %v vs %v)", a, b, i, da, db)
		}
	}
	return out, nil
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

// Eval returns the size of d given sizes for its symbols.
func (d Dim) Eval(env map[string]int64) (int64, error) {
	if d.S == "" {
		return d.Off, nil
	}
	p := d.K
	for _, s := range strings.Split(d.S, "*") {
		n, ok := env[s]
		if !ok {
			return 0, fmt.Errorf("symbol %s is unbound", s)
		}
		p *= n
	}
	return p + d.Off, nil
}

// EvalShape returns the concrete sizes of s given sizes for its symbols.
func EvalShape(s Shape, env map[string]int64) ([]int64, error) {
	out := make([]int64, len(s))
	for i, d := range s {
		n, err := d.Eval(env)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("dimension %v is negative (%d)", d, n)
		}
		out[i] = n
	}
	return out, nil
}

// BindShape matches concrete sizes against s, recording in env the size of
// each plain symbol (K = 1, Off = 0) and checking every dimension whose size
// is already known. Call it for each input in turn.
func BindShape(s Shape, sizes []int64, env map[string]int64) error {
	if len(s) != len(sizes) {
		return fmt.Errorf("rank %d, want %d (%v)", len(sizes), len(s), s)
	}
	for pass := 0; pass < 2; pass++ { // bind plain symbols first, then check the rest
		for i, d := range s {
			if pass == 0 {
				if d.K == 1 && d.Off == 0 && !strings.Contains(d.S, "*") {
					if old, ok := env[d.S]; ok && old != sizes[i] {
						return fmt.Errorf("dim %d: %s = %d, already bound to %d", i, d.S, sizes[i], old)
					}
					env[d.S] = sizes[i]
				}
				continue
			}
			n, err := d.Eval(env)
			if err != nil {
				return fmt.Errorf("dim %d: %v", i, err)
			}
			if n != sizes[i] {
				if d.IsStatic() {
					return fmt.Errorf("dim %d is %d, want %d", i, sizes[i], n)
				}
				return fmt.Errorf("dim %d is %d, want %v = %d", i, sizes[i], d, n)
			}
		}
	}
	return nil
}

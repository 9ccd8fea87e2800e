package cpu

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// opnd describes one operand of a conformance case: its dtype, concrete
// shape, optional symbolic IR shape and how its elements are drawn.
type opnd struct {
	dt    ir.DType
	shape []int64
	irs   ir.Shape                          // IR shape when not the static shape
	gen   func(r *rand.Rand, i int) float64 // element i
}

// f32s is an f32 operand with elements uniform in [-1, 1).
func f32s(shape ...int64) *opnd { return &opnd{dt: ir.F32, shape: shape} }

// bf16s and f16s are narrow-float weights with elements uniform in [-1, 1).
func bf16s(shape ...int64) *opnd { return &opnd{dt: ir.BF16, shape: shape} }
func f16s(shape ...int64) *opnd  { return &opnd{dt: ir.F16, shape: shape} }

// i64s is an i64 operand with elements uniform in [lo, hi].
func i64s(lo, hi int64, shape ...int64) *opnd {
	return (&opnd{dt: ir.I64, shape: shape}).ints(lo, hi)
}

// in draws float elements uniformly from [lo, hi).
func (o *opnd) in(lo, hi float64) *opnd {
	c := *o
	c.gen = func(r *rand.Rand, _ int) float64 { return lo + (hi-lo)*r.Float64() }
	return &c
}

// ints draws integer elements uniformly from [lo, hi].
func (o *opnd) ints(lo, hi int64) *opnd {
	c := *o
	c.gen = func(r *rand.Rand, _ int) float64 { return float64(lo + r.Int64N(hi-lo+1)) }
	return &c
}

// nonzero draws integers from [lo, hi] without 0.
func (o *opnd) nonzero(lo, hi int64) *opnd {
	c := *o
	c.gen = func(r *rand.Rand, _ int) float64 {
		for {
			if x := lo + r.Int64N(hi-lo+1); x != 0 {
				return float64(x)
			}
		}
	}
	return &c
}

// negExp draws -exp(uniform[-2, 1)): negative state matrices A.
func (o *opnd) negExp() *opnd {
	c := *o
	c.gen = func(r *rand.Rand, _ int) float64 { return -math.Exp(-2 + 3*r.Float64()) }
	return &c
}

// withZeros makes every third element 0.
func (o *opnd) withZeros() *opnd {
	c := *o
	g := o.gen
	c.gen = func(r *rand.Rand, i int) float64 {
		x := r.Float64()*2 - 1
		if g != nil {
			x = g(r, i)
		}
		if i%3 == 0 {
			return 0
		}
		return x
	}
	return &c
}

// sym gives the operand a symbolic IR shape.
func (o *opnd) sym(s ...ir.Dim) *opnd {
	c := *o
	c.irs = ir.Shape(s)
	return &c
}

// tensor draws the operand's data.
func (o *opnd) tensor(r *rand.Rand) *ir.Tensor {
	n := int64(1)
	for _, d := range o.shape {
		n *= d
	}
	vals := make([]float64, n)
	for i := range vals {
		switch {
		case o.gen != nil:
			vals[i] = o.gen(r, i)
		case o.dt.IsFloat():
			vals[i] = 2*r.Float64() - 1
		default:
			vals[i] = float64(r.IntN(11) - 5)
		}
	}
	if o.dt.IsInt() {
		iv := make([]int64, n)
		for i, x := range vals {
			iv[i] = int64(x)
		}
		return ir.TensorFromInt64s(o.dt, o.shape, iv)
	}
	return ir.TensorFromFloat64s(o.dt, o.shape, vals)
}

// kcase is one conformance case: op(args){attrs} on random operands, the
// CPU kernel against ref.EvalOp.
type kcase struct {
	name  string
	op    ir.Op
	attrs ir.Attrs
	args  []*opnd // nil: absent optional operand
	exact bool    // compare bit for bit (up to NaN)
}

// accumulating ops are compared with an absolute allowance of tol·rms(want)
// besides the relative tol: their float32 sums may cancel.
var accumulating = map[ir.Op]bool{
	ir.OpMatMul: true, ir.OpLoRAMatMul: true, ir.OpReduceSum: true, ir.OpReduceMean: true,
	ir.OpConv1d: true, ir.OpCausalConv1d: true, ir.OpSelectiveScan: true, ir.OpSelectiveStateUpdate: true,
}

// tol is the relative tolerance of float results against the float64
// reference.
const tol = 1e-5

// built is a case made concrete: the value, its reference operands and
// results, and CPU operand and result tensors.
type built struct {
	v     *ir.Value
	args  []*ir.Tensor
	saved [][]byte // copies of the operand bytes, to detect writes
	want  []*ir.Tensor
	in    []*Tensor
	out   []*Tensor
}

// build makes the value, draws its operands (seeded by the case name),
// evaluates the reference and allocates poisoned CPU results.
func (c *kcase) build(t *testing.T) *built {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(len(c.name)), hashName(c.name)))
	f := ir.NewFunc("t")
	vals := make([]*ir.Value, len(c.args))
	b := &built{args: make([]*ir.Tensor, len(c.args)), in: make([]*Tensor, len(c.args)), saved: make([][]byte, len(c.args))}
	for i, o := range c.args {
		if o == nil {
			continue
		}
		shape := o.irs
		if shape == nil {
			shape = ir.Static(o.shape...)
		}
		vals[i] = f.NewArg(fmt.Sprintf("a%d", i), ir.TensorType(o.dt, shape))
		b.args[i] = o.tensor(r)
		b.saved[i] = bytes.Clone(b.args[i].Data)
		ct, err := FromIR(b.args[i])
		if err != nil {
			t.Fatalf("FromIR: %v", err)
		}
		b.in[i] = ct
	}
	v, err := f.Append(c.op, c.attrs, vals...)
	if err != nil {
		t.Fatalf("building %v: %v", c.op, err)
	}
	b.v = v
	b.want, err = ref.EvalOp(v, b.args)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	for _, w := range b.want {
		shape := make([]int, len(w.Shape))
		for i, d := range w.Shape {
			shape[i] = int(d)
		}
		ct := &Tensor{Shape: shape}
		n := int(w.NumElements())
		if w.DType.IsFloat() {
			ct.DType, ct.F32 = ir.F32, make([]float32, n)
			for i := range ct.F32 {
				ct.F32[i] = float32(math.NaN())
			}
		} else {
			ct.DType, ct.I64 = ir.I64, make([]int64, n)
			for i := range ct.I64 {
				ct.I64[i] = -0x5a5a5a5a5a5a5a5a
			}
		}
		b.out = append(b.out, ct)
	}
	return b
}

// hashName is FNV-1a of s, the seed of a case's operands.
func hashName(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// run calls the kernel of the case's op.
func (b *built) run(s *Scratch) error {
	k, err := KernelFor(b.v.Op)
	if err != nil {
		return err
	}
	return k(s, b.v, b.in, b.out)
}

// roundedTo is the dtype v's results are rounded to (MatMul{round}), or 0.
func roundedTo(v *ir.Value) ir.DType {
	dt, _ := v.Attrs["round"].(ir.DType)
	return dt
}

// check compares the CPU results with the reference and checks that the
// operands were not written.
func (b *built) check(t *testing.T, exact bool) {
	t.Helper()
	for i, a := range b.args {
		if a != nil && !bytes.Equal(a.Data, b.saved[i]) {
			t.Errorf("operand %d was modified", i)
		}
	}
	for i, w := range b.want {
		if msg := compare(b.out[i], w, exact, accumulating[b.v.Op], roundedTo(b.v)); msg != "" {
			t.Errorf("result %d (%v): %s", i, w.Type(), msg)
		}
	}
}

// compare checks a CPU result against a reference tensor: shape, then
// integers exactly and floats within tol (exact: bit for bit up to NaN).
// It returns "" or a description of the first few differences.
//
// rounded, when bf16 or f16, says the result was rounded to that type
// (MatMul{round}): the f32 sum and the float64 reference may then round
// to neighbours, so one unit in the last place of that type is allowed.
func compare(got *Tensor, want *ir.Tensor, exact, acc bool, rounded ir.DType) string {
	if len(got.Shape) != len(want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := range got.Shape {
		if int64(got.Shape[i]) != want.Shape[i] {
			return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
		}
	}
	var bad []string
	n := int(want.NumElements())
	if !want.DType.IsFloat() {
		if got.DType != ir.I64 {
			return fmt.Sprintf("dtype %v, want i64", got.DType)
		}
		for i := 0; i < n && len(bad) < 5; i++ {
			if w := want.IntAt(i); got.I64[i] != w {
				bad = append(bad, fmt.Sprintf("[%d] = %d, want %d", i, got.I64[i], w))
			}
		}
		return strings.Join(bad, "; ")
	}
	if got.DType != ir.F32 {
		return fmt.Sprintf("dtype %v, want f32", got.DType)
	}
	wv := want.Float64s()
	atol := 0.0
	if acc {
		ss := 0.0
		for _, x := range wv {
			if !math.IsInf(x, 0) && !math.IsNaN(x) {
				ss += x * x
			}
		}
		atol = tol * math.Sqrt(ss/float64(max(n, 1)))
	}
	for i, w := range wv {
		g := float64(got.F32[i])
		ok := g == w || (math.IsNaN(g) && math.IsNaN(w))
		if !ok && !exact && !math.IsInf(w, 0) {
			ok = math.Abs(g-w) <= tol*math.Abs(w)+atol
		}
		if !ok && (rounded == ir.BF16 || rounded == ir.F16) {
			bits := 8.0 // significand bits of bf16, f16: 11
			if rounded == ir.F16 {
				bits = 11
			}
			_, e := math.Frexp(w)
			ok = math.Abs(g-w) <= math.Ldexp(1, e-int(bits))
		}
		if !ok && len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("[%d] = %g, want %g (rel %.2g)", i, g, w, math.Abs(g-w)/math.Abs(w)))
		}
	}
	return strings.Join(bad, "; ")
}

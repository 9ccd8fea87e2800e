package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// scanCases covers SelectiveScan in Mamba-1 form (per-step B/C with one
// and two groups, constant B/C; with and without D, z, delta_bias, h0;
// softplus on and off) and Mamba-2 form (heads), and SelectiveStateUpdate
// in the same layouts.
func scanCases() []kcase {
	attrs := func(sp bool, heads int64) ir.Attrs {
		return ir.Attrs{"delta_softplus": sp, "heads": heads}
	}
	// delta: raw (softplus applied by the op) or already positive.
	raw := func(s ...int64) *opnd { return f32s(s...).in(-4, 1) }
	pos := func(s ...int64) *opnd { return f32s(s...).in(0.01, 0.6) }
	A := func(s ...int64) *opnd { return f32s(s...).negExp() }
	const bt, l, dm, n = 2, 5, 6, 4
	B := ir.SymDim("B")
	return []kcase{
		{name: "mamba1 G=1 full", op: ir.OpSelectiveScan, attrs: attrs(true, 0), args: []*opnd{
			f32s(bt, l, dm), raw(bt, l, dm), A(dm, n), f32s(bt, l, n), f32s(bt, l, n),
			f32s(dm), f32s(bt, l, dm), f32s(dm).in(-1, 0), f32s(bt, dm, n)}},
		{name: "mamba1 G=2 bare", op: ir.OpSelectiveScan, attrs: attrs(false, 0), args: []*opnd{
			f32s(bt, l, dm), pos(bt, l, dm), A(dm, n), f32s(bt, l, 2, n), f32s(bt, l, 2, n)}},
		{name: "mamba1 G=2 D z", op: ir.OpSelectiveScan, attrs: attrs(true, 0), args: []*opnd{
			f32s(bt, l, dm), raw(bt, l, dm), A(dm, n), f32s(bt, l, 2, n), f32s(bt, l, 2, n),
			f32s(dm), f32s(bt, l, dm)}},
		{name: "mamba1 constant B C h0", op: ir.OpSelectiveScan, attrs: attrs(true, 0), args: []*opnd{
			f32s(bt, l, dm), raw(bt, l, dm), A(dm, n), f32s(dm, n), f32s(dm, n),
			f32s(dm), f32s(bt, l, dm), nil, f32s(bt, dm, n)}},
		{name: "mamba1 bias only no softplus", op: ir.OpSelectiveScan, attrs: attrs(false, 0), args: []*opnd{
			f32s(bt, l, dm), pos(bt, l, dm), A(dm, n), f32s(bt, l, n), f32s(bt, l, n),
			nil, nil, f32s(dm).in(0, 0.3), f32s(bt, dm, n)}},
		{name: "mamba1 long", op: ir.OpSelectiveScan, attrs: attrs(true, 0), args: []*opnd{
			f32s(1, 40, 8), raw(1, 40, 8), A(8, 16), f32s(1, 40, 16), f32s(1, 40, 16),
			f32s(8), f32s(1, 40, 8), f32s(8)}},
		{name: "mamba2 G=1 full", op: ir.OpSelectiveScan, attrs: attrs(true, 2), args: []*opnd{
			f32s(bt, l, dm), raw(bt, l, 2), A(2), f32s(bt, l, n), f32s(bt, l, n),
			f32s(2), f32s(bt, l, dm), f32s(2).in(-1, 0), f32s(bt, dm, n)}},
		{name: "mamba2 G=2 D per channel", op: ir.OpSelectiveScan, attrs: attrs(false, 2), args: []*opnd{
			f32s(bt, l, dm), pos(bt, l, 2), A(2), f32s(bt, l, 2, n), f32s(bt, l, 2, n), f32s(dm)}},
		{name: "mamba2 3 heads", op: ir.OpSelectiveScan, attrs: attrs(true, 3), args: []*opnd{
			f32s(1, 7, dm), raw(1, 7, 3), A(3), f32s(1, 7, 3, 5), f32s(1, 7, 3, 5),
			f32s(3), nil, nil, f32s(1, dm, 5)}},

		{name: "mamba1 per batch full", op: ir.OpSelectiveStateUpdate, attrs: attrs(true, 0), args: []*opnd{
			f32s(3, dm), raw(3, dm), A(dm, n), f32s(3, n), f32s(3, n),
			f32s(dm), f32s(3, dm), f32s(dm).in(-1, 0), f32s(3, dm, n)}},
		{name: "mamba1 G=2 bare", op: ir.OpSelectiveStateUpdate, attrs: attrs(false, 0), args: []*opnd{
			f32s(3, dm), pos(3, dm), A(dm, n), f32s(3, 2, n), f32s(3, 2, n), nil, nil, nil, f32s(3, dm, n)}},
		{name: "mamba1 constant B C", op: ir.OpSelectiveStateUpdate, attrs: attrs(true, 0), args: []*opnd{
			f32s(3, dm), raw(3, dm), A(dm, n), f32s(dm, n), f32s(dm, n), f32s(dm), f32s(3, dm), nil, f32s(3, dm, n)}},
		{name: "mamba2", op: ir.OpSelectiveStateUpdate, attrs: attrs(true, 3), args: []*opnd{
			f32s(2, dm), raw(2, 3), A(3), f32s(2, n), f32s(2, n), f32s(3), f32s(2, dm), f32s(3), f32s(2, dm, n)}},
		{name: "mamba2 G=3", op: ir.OpSelectiveStateUpdate, attrs: attrs(false, 3), args: []*opnd{
			f32s(2, dm), pos(2, 3), A(3), f32s(2, 3, n), f32s(2, 3, n), f32s(dm), nil, nil, f32s(2, dm, n)}},
		// Bt = Dm = 4 at run time: the IR types tell per-batch B from constant B.
		{name: "batch equals channels, per batch", op: ir.OpSelectiveStateUpdate, attrs: attrs(true, 0), args: []*opnd{
			f32s(4, 4).sym(B, ir.StaticDim(4)), raw(4, 4).sym(B, ir.StaticDim(4)), A(4, n),
			f32s(4, n).sym(B, ir.StaticDim(n)), f32s(4, n).sym(B, ir.StaticDim(n)),
			nil, nil, nil, f32s(4, 4, n).sym(B, ir.StaticDim(4), ir.StaticDim(n))}},
	}
}

// TestScanEqualsUpdates checks that a scan over L steps equals L state
// updates in a row bit for bit (the reference states that both store the
// state as f32 after every step), and that a warm update allocates
// nothing, with the state updated in place: with N = 4 (the scalar loop)
// and N = 16 (the vector path) and channel counts that split unevenly
// among workers.
func TestScanEqualsUpdates(t *testing.T) {
	for _, c := range []struct{ dm, n int }{{8, 4}, {40, 16}, {136, 16}} {
		t.Run(fmt.Sprintf("dm=%d,n=%d", c.dm, c.n), func(t *testing.T) { testScanEqualsUpdates(t, c.dm, c.n) })
	}
}

func testScanEqualsUpdates(t *testing.T, dm, n int) {
	const bt, l = 2, 6
	c := kcase{name: "scan", op: ir.OpSelectiveScan, attrs: ir.Attrs{"delta_softplus": true}, args: []*opnd{
		f32s(bt, l, int64(dm)), f32s(bt, l, int64(dm)).in(-4, 1), f32s(int64(dm), int64(n)).negExp(),
		f32s(bt, l, 2, int64(n)), f32s(bt, l, 2, int64(n)),
		f32s(int64(dm)), f32s(bt, l, int64(dm)), f32s(int64(dm)), f32s(bt, int64(dm), int64(n))}}
	b := c.build(t)
	var s Scratch
	if err := b.run(&s); err != nil {
		t.Fatal(err)
	}
	b.check(t, false)
	u := kcase{name: "update", op: ir.OpSelectiveStateUpdate, attrs: c.attrs, args: []*opnd{
		f32s(bt, int64(dm)), f32s(bt, int64(dm)), f32s(int64(dm), int64(n)), f32s(bt, 2, int64(n)), f32s(bt, 2, int64(n)),
		f32s(int64(dm)), f32s(bt, int64(dm)), f32s(int64(dm)), f32s(bt, int64(dm), int64(n))}}
	ub := u.build(t)
	h := append([]float32(nil), b.in[8].F32...)
	step := func(k int) []*Tensor { // the operands of step k, sliced out of the scan's
		in := make([]*Tensor, 9)
		for i, sz := range []int{dm, dm, 0, 2 * n, 2 * n, 0, dm, 0} {
			if sz == 0 {
				in[i] = b.in[i]
				continue
			}
			x := &Tensor{DType: ir.F32, Shape: ub.in[i].Shape, F32: make([]float32, bt*sz)}
			for bb := 0; bb < bt; bb++ {
				copy(x.F32[bb*sz:(bb+1)*sz], b.in[i].F32[(bb*l+k)*sz:])
			}
			in[i] = x
		}
		in[8] = &Tensor{DType: ir.F32, Shape: ub.in[8].Shape, F32: h}
		return in
	}
	y := &Tensor{DType: ir.F32, Shape: []int{bt, dm}, F32: make([]float32, bt*dm)}
	hOut := &Tensor{DType: ir.F32, Shape: []int{bt, dm, n}, F32: h} // in place
	k, _ := KernelFor(ir.OpSelectiveStateUpdate)
	for t0 := 0; t0 < l; t0++ {
		if err := k(&s, ub.v, step(t0), []*Tensor{y, hOut}); err != nil {
			t.Fatal(err)
		}
		for bb := 0; bb < bt; bb++ {
			for d := 0; d < dm; d++ {
				if got, want := y.F32[bb*dm+d], b.out[0].F32[(bb*l+t0)*dm+d]; got != want {
					t.Fatalf("step %d: y[%d,%d] = %v, scan gives %v", t0, bb, d, got, want)
				}
			}
		}
	}
	for i, x := range h {
		if x != b.out[1].F32[i] {
			t.Fatalf("state[%d] = %v after %d updates, scan gives %v", i, x, l, b.out[1].F32[i])
		}
	}
	in, out := step(0), []*Tensor{y, hOut}
	if a := testing.AllocsPerRun(10, func() { _ = k(&s, ub.v, in, out) }); a != 0 {
		t.Errorf("warm SelectiveStateUpdate allocates %v times", a)
	}
}

// TestUpdateConstantBCBatchEqualsChannels checks a state update whose
// constant B and C [Dm, N] have the shape of per-batch ones [Bt, N] at run
// time (Bt = Dm = 4, the batch symbolic in the IR): the kernel must follow
// the IR type and read them per channel. ref.EvalOp re-infers the layout
// from the concrete shapes alone and reads them per batch, so each batch
// row is checked against the reference run on that row alone (Bt = 1,
// where the layout is unambiguous).
func TestUpdateConstantBCBatchEqualsChannels(t *testing.T) {
	const bt, dm, n = 4, 4, 3
	B := ir.SymDim("B")
	attrs := ir.Attrs{"delta_softplus": true}
	c := kcase{name: "ambiguous", op: ir.OpSelectiveStateUpdate, attrs: attrs, args: []*opnd{
		f32s(bt, dm).sym(B, ir.StaticDim(dm)), f32s(bt, dm).sym(B, ir.StaticDim(dm)), f32s(dm, n).negExp(),
		f32s(dm, n), f32s(dm, n), f32s(dm), f32s(bt, dm).sym(B, ir.StaticDim(dm)), nil,
		f32s(bt, dm, n).sym(B, ir.StaticDim(dm), ir.StaticDim(n))}}
	f := ir.NewFunc("t")
	vals := make([]*ir.Value, len(c.args))
	r := rand.New(rand.NewPCG(1, 2))
	args := make([]*ir.Tensor, len(c.args))
	in := make([]*Tensor, len(c.args))
	for i, o := range c.args {
		if o == nil {
			continue
		}
		vals[i] = f.NewArg(fmt.Sprintf("a%d", i), ir.TensorType(o.dt, o.irs))
		if o.irs == nil {
			vals[i].Type = ir.TensorType(o.dt, ir.Static(o.shape...))
		}
		args[i] = o.tensor(r)
		in[i], _ = FromIR(args[i])
	}
	v, err := f.Append(c.op, c.attrs, vals...)
	if err != nil {
		t.Fatal(err)
	}
	y := &Tensor{DType: ir.F32, Shape: []int{bt, dm}, F32: make([]float32, bt*dm)}
	h := &Tensor{DType: ir.F32, Shape: []int{bt, dm, n}, F32: make([]float32, bt*dm*n)}
	var s Scratch
	k, _ := KernelFor(v.Op)
	if err := k(&s, v, in, []*Tensor{y, h}); err != nil {
		t.Fatal(err)
	}
	// The same op on one batch row, with static shapes.
	row := ir.NewFunc("row")
	rv := make([]*ir.Value, len(c.args))
	for i, o := range c.args {
		if o == nil {
			continue
		}
		shape := append([]int64(nil), o.shape...)
		if o.irs != nil {
			shape[0] = 1
		}
		rv[i] = row.NewArg(fmt.Sprintf("a%d", i), ir.TensorType(o.dt, ir.Static(shape...)))
	}
	v1, err := row.Append(c.op, c.attrs, rv...)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < bt; b++ {
		a1 := make([]*ir.Tensor, len(args))
		for i, a := range args {
			if a == nil || c.args[i].irs == nil {
				a1[i] = a
				continue
			}
			per := int(a.NumElements()) / bt
			vals := a.Float64s()[b*per : (b+1)*per]
			shape := append([]int64{1}, a.Shape[1:]...)
			a1[i] = ir.TensorFromFloat64s(ir.F32, shape, vals)
		}
		want, err := ref.EvalOp(v1, a1)
		if err != nil {
			t.Fatal(err)
		}
		got := []*Tensor{
			{DType: ir.F32, Shape: []int{1, dm}, F32: y.F32[b*dm : (b+1)*dm]},
			{DType: ir.F32, Shape: []int{1, dm, n}, F32: h.F32[b*dm*n : (b+1)*dm*n]},
		}
		for i := range want {
			if msg := compare(got[i], want[i], false, true, 0); msg != "" {
				t.Errorf("batch row %d, result %d: %s", b, i, msg)
			}
		}
	}
}

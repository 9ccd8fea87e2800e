package cpu

import (
	"context"
	"math"

	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// allCases gathers the conformance cases of every kernel family.
func allCases() []kcase {
	var cs []kcase
	for _, f := range []func() []kcase{elementwiseCases, matmulCases, shapeCases, reduceCases, convCases, scanCases, fusedCases, onnxCases} {
		cs = append(cs, f()...)
	}
	return cs
}

// executorOps are the ops the executor handles itself.
var executorOps = map[ir.Op]bool{ir.OpArg: true, ir.OpParam: true, ir.OpConst: true, ir.OpExtract: true}

// TestConformance runs every case's kernel on random operands and compares
// it with ref.EvalOp, then checks that a warm call allocates nothing.
func TestConformance(t *testing.T) {
	var s Scratch
	for _, c := range allCases() {
		t.Run(c.op.String()+"/"+c.name, func(t *testing.T) {
			b := c.build(t)
			if err := b.run(&s); err != nil {
				t.Fatalf("kernel: %v", err)
			}
			b.check(t, c.exact)
			if allocs := testing.AllocsPerRun(3, func() { _ = b.run(&s) }); allocs != 0 {
				t.Errorf("warm call allocates %v times", allocs)
			}
		})
	}
}

// TestEveryOpHasKernel checks that every op but the executor's own has a
// kernel and at least one conformance case.
func TestEveryOpHasKernel(t *testing.T) {
	covered := map[ir.Op]bool{}
	for _, c := range allCases() {
		covered[c.op] = true
	}
	for _, op := range ir.Ops() {
		if executorOps[op] {
			if _, err := KernelFor(op); err == nil {
				t.Errorf("%v has a kernel; the executor handles it", op)
			}
			continue
		}
		if _, err := KernelFor(op); err != nil {
			t.Errorf("KernelFor(%v): %v", op, err)
		}
		if referenceOnly[op] && kernels[op] == nil {
			continue // runs through the reference interpreter; see TestReferenceOnly
		}
		if !covered[op] {
			t.Errorf("%v has no conformance case", op)
		}
	}
}

// TestReferenceOnly runs each reference-only op through the CPU executor
// and compares with the reference interpreter.
func TestReferenceOnly(t *testing.T) {
	src := `func @f(%x: f32[2,3], %y: f32[2,3]) -> (f32[2,3], f32[2,3]) {
  %2 = Erf(%x) : f32[2,3]
  %3 = CumSum(%y) {axis = 1} : f32[2,3]
  return %2, %3
}
`
	m, err := ir.Parse("t.ir", src)
	if err != nil {
		t.Skipf("op syntax differs: %v", err)
	}
	f := m.Funcs[0]
	prog, err := Compile(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := prog.Instantiate(nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &Tensor{DType: ir.F32, Shape: []int{2, 3}, F32: []float32{-1, -0.5, 0, 0.5, 1, 2}}
	y := &Tensor{DType: ir.F32, Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}}
	got, err := inst.Run(context.Background(), []*Tensor{x, y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 3, 6, 4, 9, 15}
	for i, w := range want {
		if got[1].F32[i] != w {
			t.Fatalf("CumSum = %v, want %v", got[1].F32, want)
		}
	}
	if d := got[0].F32[4] - float32(math.Erf(1)); d > 1e-6 || d < -1e-6 {
		t.Errorf("Erf(1) = %v", got[0].F32[4])
	}
}

package cpu

import (
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// allCases gathers the conformance cases of every kernel family.
func allCases() []kcase {
	var cs []kcase
	for _, f := range []func() []kcase{elementwiseCases, matmulCases, shapeCases, reduceCases, convCases, scanCases, fusedCases} {
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
		if !covered[op] {
			t.Errorf("%v has no conformance case", op)
		}
	}
}

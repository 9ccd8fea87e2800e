package cuda

import (
	"sync"
	"testing"

	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/ir"
)

var (
	emulationOnce sync.Once
	emulationProg *Program
	emulationErr  error
)

// emulationProgram generates the conformance cases' module once per test
// binary.
func emulationProgram(t testing.TB) *Program {
	emulationOnce.Do(func() {
		var m *ir.Module
		if m, emulationErr = cudatest.Module(); emulationErr == nil {
			emulationProg, emulationErr = Generate(m)
		}
	})
	if emulationErr != nil {
		t.Fatal(emulationErr)
	}
	return emulationProg
}

// TestEmulatedKernels executes every kernel of the conformance cases on the
// CPU and compares the results with runtime/ref and, for f32 functions,
// with the CPU backend.
func TestEmulatedKernels(t *testing.T) {
	prog := emulationProgram(t)
	emu := newEmulator(t, prog)
	m, err := cudatest.Module()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cudatest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			f := m.Func(c.Name)
			if f == nil {
				t.Fatalf("no function @%s", c.Name)
			}
			weights, inputs, err := c.Data(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := emu.run(c.Name, weights, inputs)
			if err != nil {
				t.Fatal(err)
			}
			want, err := cudatest.Reference(f, weights, inputs)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, c, "ref", got, want)
			cpuWant, ok, err := cudatest.CPU(f, weights, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				compare(t, c, "cpu", got, cpuWant)
			}
		})
	}
}

// compare checks got against an oracle's results and logs the largest
// relative error of each.
func compare(t *testing.T, c cudatest.Case, oracle string, got, want []*ir.Tensor) {
	t.Helper()
	diffs, err := c.Compare(got, want)
	for i, d := range diffs {
		t.Logf("result %d (%v%v): max relative difference to %s %.3g", i, got[i].DType, got[i].Shape, oracle, d)
	}
	if err != nil {
		t.Errorf("against %s: %v", oracle, err)
	}
}

package cuda

import (
	"testing"

	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/ir"
)

// mamba130m is the optimized IR of a one-layer Mamba-130m-shaped model
// (every layer compiles to the same kernels).
func mamba130m(t testing.TB) *ir.Module {
	t.Helper()
	m, err := cudatest.Mamba130m(1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

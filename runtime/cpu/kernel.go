package cpu

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// Kernel computes one IR value on the CPU. in holds the operand tensors in
// the order of v.Args (nil for absent optional operands); out holds the
// result tensors (one per tuple element for multi-result ops), already
// allocated with their concrete shapes. A kernel writes only out and
// s's scratch memory and must not allocate once warm: decoding calls it
// once per token.
type Kernel func(s *Scratch, v *ir.Value, in []*Tensor, out []*Tensor) error

var kernels = map[ir.Op]Kernel{}

// register installs the kernel for op; kernel files call it from init.
func register(op ir.Op, k Kernel) {
	if kernels[op] != nil {
		panic("cpu: two kernels for " + op.String())
	}
	kernels[op] = k
}

// KernelFor returns the kernel of op: its own, or for the few ops without
// one (see referenceOnly) the reference interpreter's.
func KernelFor(op ir.Op) (Kernel, error) {
	if k := kernels[op]; k != nil {
		return k, nil
	}
	if referenceOnly[op] {
		return referenceKernel, nil
	}
	return nil, fmt.Errorf("cpu: no kernel for %s", op)
}

// referenceOnly lists ops the CPU backend runs through the reference
// interpreter because they have no kernel yet: LinearScan, the ONNX
// importer's vectorized form of a Scan loop, which the fusion passes turn
// into SelectiveScan whenever it is a Mamba recurrence; other recurrences
// run here, correct but slow.
var referenceOnly = map[ir.Op]bool{
	ir.OpLinearScan: true,
}

// Scratch is reusable temporary memory for kernels. It grows to the
// largest request and is then reused, so steady-state calls allocate
// nothing. A Scratch belongs to one executing goroutine.
type Scratch struct {
	f32  []float32
	ints []int
	// parts holds the results of a split MatMul (matmulSplitKernel).
	parts [8]splitPart
	// rounded holds a MatMul's operand a rounded to bf16/f16 (round).
	rounded  []float32
	roundedT Tensor
}

// F32 returns a slice of n float32s (contents undefined) valid until the
// next call.
func (s *Scratch) F32(n int) []float32 {
	if cap(s.f32) < n {
		s.f32 = make([]float32, n)
	}
	return s.f32[:n]
}

// Ints returns a slice of n ints (contents undefined) valid until the next
// call of Ints; kernels use it for index bookkeeping (loop counters,
// strides), independently of the memory F32 returns.
func (s *Scratch) Ints(n int) []int {
	if cap(s.ints) < n {
		s.ints = make([]int, n)
	}
	return s.ints[:n]
}

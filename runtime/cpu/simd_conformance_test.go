package cpu

import (
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// vectorPathCases are conformance cases sized to reach the vector and
// parallel paths: GEMV with 1..8 rows, GEMM with edge tiles and several
// k blocks, the N = 16 scan with groups, and convolutions, norms and
// elementwise ops big enough to be split among workers.
func vectorPathCases() []kcase {
	tb := ir.Attrs{"transpose_b": true}
	sp := ir.Attrs{"delta_softplus": true}
	var cs []kcase
	for _, m := range []int64{1, 3, 8} {
		cs = append(cs,
			kcase{name: "gemv f32", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(m, 200), f32s(301, 200)}},
			kcase{name: "gemv bf16", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(m, 200), bf16s(301, 200)}},
			kcase{name: "gemv f16", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(m, 200), f16s(301, 200)}})
	}
	cs = append(cs,
		kcase{name: "gemm f32 edges", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(2, 27, 300), f32s(75, 300)}},
		kcase{name: "gemm bf16", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(40, 96), bf16s(130, 96)}},
		kcase{name: "gemm f16", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(13, 64), f16s(33, 64)}},
		kcase{name: "lora", op: ir.OpLoRAMatMul, attrs: ir.Attrs{"scale": 0.5, "transpose_b": true},
			args: []*opnd{f32s(20, 64), f32s(70, 64), f32s(4, 64), f32s(70, 4)}},
		kcase{name: "mamba1 N=16 G=1", op: ir.OpSelectiveScan, attrs: sp, args: []*opnd{
			f32s(2, 9, 72), f32s(2, 9, 72).in(-4, 1), f32s(72, 16).negExp(), f32s(2, 9, 16), f32s(2, 9, 16),
			f32s(72), f32s(2, 9, 72), f32s(72), f32s(2, 72, 16)}},
		kcase{name: "mamba1 N=16 G=2 bare", op: ir.OpSelectiveScan, attrs: ir.Attrs{}, args: []*opnd{
			f32s(1, 5, 40), f32s(1, 5, 40).in(0.01, 0.6), f32s(40, 16).negExp(), f32s(1, 5, 2, 16), f32s(1, 5, 2, 16)}},
		kcase{name: "mamba1 N=16 D only", op: ir.OpSelectiveScan, attrs: sp, args: []*opnd{
			f32s(1, 4, 24), f32s(1, 4, 24).in(-4, 1), f32s(24, 16).negExp(), f32s(1, 4, 16), f32s(1, 4, 16), f32s(24)}},
		kcase{name: "mamba1 N=16 z only", op: ir.OpSelectiveScan, attrs: sp, args: []*opnd{
			f32s(1, 4, 24), f32s(1, 4, 24).in(-4, 1), f32s(24, 16).negExp(), f32s(1, 4, 16), f32s(1, 4, 16), nil, f32s(1, 4, 24)}},
		kcase{name: "mamba1 N=16", op: ir.OpSelectiveStateUpdate, attrs: sp, args: []*opnd{
			f32s(3, 200), f32s(3, 200).in(-4, 1), f32s(200, 16).negExp(), f32s(3, 16), f32s(3, 16),
			f32s(200), f32s(3, 200), f32s(200), f32s(3, 200, 16)}},
		kcase{name: "long silu", op: ir.OpCausalConv1d, attrs: ir.Attrs{"activation": "silu"}, args: []*opnd{
			f32s(2, 70, 100), f32s(100, 4), f32s(100), f32s(2, 100, 3)}},
		kcase{name: "long no state", op: ir.OpCausalConv1d, attrs: ir.Attrs{"activation": "none"}, args: []*opnd{
			f32s(1, 2, 37), f32s(37, 1, 4), nil, nil}},
		kcase{name: "many rows", op: ir.OpRMSNorm, attrs: ir.Attrs{"eps": 1e-5}, args: []*opnd{f32s(300, 130), f32s(130)}},
		kcase{name: "big", op: ir.OpAdd, args: []*opnd{f32s(300, 300), f32s(300, 300)}},
		kcase{name: "big", op: ir.OpSiLU, args: []*opnd{f32s(200, 130)}},
	)
	return cs
}

// TestConformanceEveryImpl runs the conformance cases, and the cases of
// the vector paths, with every implementation of the vector primitives
// this machine supports, checks the results against the reference and
// that warm calls allocate nothing.
func TestConformanceEveryImpl(t *testing.T) {
	old := simd
	defer func() { simd = old }()
	for _, im := range impls {
		simd = im
		var s Scratch
		for _, c := range append(allCases(), vectorPathCases()...) {
			t.Run(im.name+"/"+c.op.String()+"/"+c.name, func(t *testing.T) {
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
}

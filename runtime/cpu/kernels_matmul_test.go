package cpu

import (
	"math"
	"testing"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// matmulCases covers MatMul (f32, bf16 and f16 b; rank-1 operands;
// broadcast batch dims; transpose_b; row counts that do and do not fill
// the four-row blocks) and LoRAMatMul in both layouts.
func matmulCases() []kcase {
	tb := ir.Attrs{"transpose_b": true}
	plain := ir.Attrs{}
	split := func(sizes ...int64) ir.Attrs { return ir.Attrs{"transpose_b": true, "split": sizes} }
	lora := func(scale float64, t bool) ir.Attrs { return ir.Attrs{"scale": scale, "transpose_b": t} }
	return []kcase{
		{name: "f32", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(3, 8), f32s(8, 5)}},
		{name: "f32 transpose_b", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(3, 8), f32s(5, 8)}},
		{name: "f32 transpose_b blocks", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(9, 21), f32s(7, 21)}},
		{name: "f32 long rows", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(5, 67), f32s(6, 67)}},
		{name: "batched a, matrix b", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(2, 3, 16), f32s(5, 16)}},
		{name: "bf16 transpose_b", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(2, 3, 16), bf16s(5, 16)}},
		{name: "bf16 transpose_b gemv", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(1, 33), bf16s(12, 33)}},
		{name: "f16 transpose_b", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(6, 16), f16s(7, 16)}},
		{name: "bf16", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(4, 16), bf16s(16, 6)}},
		{name: "f16", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(3, 16), f16s(16, 6)}},
		{name: "rank-1 a", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(8), f32s(8, 5)}},
		{name: "rank-1 a transpose_b", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(8), bf16s(5, 8)}},
		{name: "rank-1 b", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(3, 8), f32s(8)}},
		{name: "rank-1 b batched a", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(2, 3, 8), f32s(8)}},
		{name: "broadcast batch", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(2, 1, 3, 8), f32s(4, 8, 5)}},
		{name: "broadcast batch transpose_b bf16", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(3, 5, 8), bf16s(2, 1, 4, 8)}},
		{name: "same batch f16", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(2, 3, 8), f16s(2, 8, 5)}},
		{name: "rank-1 a batched b", op: ir.OpMatMul, attrs: plain, args: []*opnd{f32s(8), f32s(3, 8, 5)}},
		{name: "batched rank-1 a transpose_b", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(8), f32s(3, 5, 8)}},
		{name: "empty k", op: ir.OpMatMul, attrs: tb, args: []*opnd{f32s(3, 0), f32s(4, 0)}},
		// split: one GEMV pass over b for all pieces (up to 8 rows of a),
		// one GEMM per piece beyond; pieces not multiples of the chunking
		{name: "split gemv", op: ir.OpMatMul, attrs: split(6, 6), args: []*opnd{f32s(1, 40), f32s(12, 40)}},
		{name: "split gemv bf16 three pieces", op: ir.OpMatMul, attrs: split(3, 9, 5), args: []*opnd{f32s(2, 1, 33), bf16s(17, 33)}},
		{name: "split gemv f16 many rows", op: ir.OpMatMul, attrs: split(130, 70), args: []*opnd{f32s(8, 64), f16s(200, 64)}},
		{name: "split gemm", op: ir.OpMatMul, attrs: split(7, 20, 13), args: []*opnd{f32s(2, 13, 24), f32s(40, 24)}},
		{name: "round bf16 gemv", op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true, "round": ir.BF16}, args: []*opnd{f32s(3, 40), bf16s(12, 40)}},
		{name: "round f16 gemm", op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true, "round": ir.F16}, args: []*opnd{f32s(2, 11, 40), f16s(12, 40)}},
		{name: "round bf16 split gemm", op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true, "round": ir.BF16, "split": []int64{5, 7}}, args: []*opnd{f32s(19, 24), bf16s(12, 24)}},
		{name: "split gemm bf16", op: ir.OpMatMul, attrs: split(48, 16, 16), args: []*opnd{f32s(37, 96), bf16s(80, 96)}},

		{name: "transpose_b", op: ir.OpLoRAMatMul, attrs: lora(0.5, true),
			args: []*opnd{f32s(2, 3, 16), f32s(10, 16), f32s(4, 16), f32s(10, 4)}},
		{name: "plain", op: ir.OpLoRAMatMul, attrs: lora(2, false),
			args: []*opnd{f32s(5, 16), f32s(16, 10), f32s(16, 4), f32s(4, 10)}},
		{name: "bf16 weights transpose_b", op: ir.OpLoRAMatMul, attrs: lora(1.5, true),
			args: []*opnd{f32s(7, 24), bf16s(9, 24), f16s(3, 24), bf16s(9, 3)}},
		{name: "f16 weights plain", op: ir.OpLoRAMatMul, attrs: lora(-1, false),
			args: []*opnd{f32s(2, 2, 12), f16s(12, 5), bf16s(12, 2), f16s(2, 5)}},
		{name: "rank-1 x", op: ir.OpLoRAMatMul, attrs: lora(0.25, true),
			args: []*opnd{f32s(16), f32s(6, 16), f32s(2, 16), f32s(6, 2)}},
	}
}

// TestMatMulAllocs checks that warm GEMV calls on f32 and bf16 weights,
// the decoding hot path, allocate nothing, at the benchmark's size.
func TestMatMulAllocs(t *testing.T) {
	for _, w := range []*opnd{f32s(64, 96), bf16s(64, 96), f16s(64, 96)} {
		c := kcase{name: "gemv", op: ir.OpMatMul, attrs: ir.Attrs{"transpose_b": true}, args: []*opnd{f32s(1, 96), w}}
		b := c.build(t)
		var s Scratch
		if err := b.run(&s); err != nil {
			t.Fatal(err)
		}
		b.check(t, false)
		if n := testing.AllocsPerRun(10, func() { _ = b.run(&s) }); n != 0 {
			t.Errorf("%v weights: warm MatMul allocates %v times", w.dt, n)
		}
	}
}

// TestWiden checks the row widening of bf16 and f16 weights against
// package half on every 16-bit pattern (bit for bit, NaN payloads
// included), and the fused bf16 dot product against a widened row.
func TestWiden(t *testing.T) {
	raw := make([]byte, 2*65536)
	for i := 0; i < 65536; i++ {
		raw[2*i], raw[2*i+1] = byte(i), byte(i>>8)
	}
	got := make([]float32, 65536)
	for _, c := range []struct {
		name  string
		row   func([]float32, []byte)
		widen func(uint16) float32
	}{{"bf16", bf16Row, half.BF16ToF32}, {"f16", f16Row, half.F16ToF32}} {
		c.row(got, raw)
		for i, g := range got {
			if want := c.widen(uint16(i)); math.Float32bits(g) != math.Float32bits(want) {
				t.Fatalf("%s %#04x: got %v (%#x), want %v (%#x)", c.name, i, g, math.Float32bits(g), want, math.Float32bits(want))
			}
		}
	}
	// The fused dot equals dot on the widened row, for lengths around the
	// unrolling.
	for _, n := range []int{0, 1, 7, 8, 9, 17} {
		a := make([]float32, n)
		w := make([]byte, 2*n)
		for i := range a {
			a[i] = float32(i%5) - 2.25
			w[2*i], w[2*i+1] = byte(i*37), 0x3f+byte(i%2)
		}
		row := make([]float32, n)
		bf16Row(row, w)
		if got, want := dotBF16(a, w), dot(a, row); got != want {
			t.Errorf("n=%d: dotBF16 = %v, dot of widened row %v", n, got, want)
		}
	}
}

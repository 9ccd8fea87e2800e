package ref

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// naiveBatchedMatMul is an independent reference for rank-3 operands
// a [Ba, M, K] and b [Bb, K, N] (or [Bb, N, K] when transB) with Ba, Bb
// equal or 1: y[p, m, n] = sum_k a[p%Ba, m, k] · b[p%Bb, k, n].
func naiveBatchedMatMul(a []float64, ba, m, k int, b []float64, bb, n int, transB bool) []float64 {
	p := max(ba, bb)
	y := make([]float64, p*m*n)
	for q := 0; q < p; q++ {
		qa, qb := q%ba, q%bb
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for l := 0; l < k; l++ {
					bv := b[qb*k*n+l*n+j]
					if transB {
						bv = b[qb*n*k+j*k+l]
					}
					s += a[qa*m*k+i*k+l] * bv
				}
				y[q*m*n+i*n+j] = s
			}
		}
	}
	return y
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a23 := f64(shp(2, 3), 1, 2, 3, 4, 5, 6)
	tests := []struct {
		name   string
		a, b   *ir.Tensor
		transB bool
		shape  []int64
		want   []float64
	}{
		{"matrix", a23, f64(shp(3, 2), 1, 0, 0, 1, 1, 1), false, shp(2, 2), []float64{4, 5, 10, 11}},
		{"transpose_b", a23, f64(shp(2, 3), 1, 0, 1, 0, 1, 0), true, shp(2, 2), []float64{4, 2, 10, 5}},
		{"vector·matrix", f64(shp(3), 1, 2, 3), f64(shp(3, 2), 1, 0, 0, 1, 1, 1), false, shp(2), []float64{4, 5}},
		{"matrix·vector", a23, f64(shp(3), 1, 1, 1), false, shp(2), []float64{6, 15}},
		{"vector·matrixᵀ", f64(shp(3), 1, 2, 3), f64(shp(2, 3), 1, 0, 1, 0, 1, 0), true, shp(2), []float64{4, 2}},
		{"batched·vector", f64(shp(2, 1, 3), 1, 2, 3, 4, 5, 6), f64(shp(3), 1, 0, -1), false, shp(2, 1), []float64{-2, -2}},
		{"empty contraction", f64(shp(2, 0)), f64(shp(0, 2)), false, shp(2, 2), []float64{0, 0, 0, 0}},
	}
	// Batch broadcasting against the naive loop.
	for _, bc := range []struct {
		ba, bb int
		transB bool
	}{{2, 2, false}, {1, 3, false}, {3, 1, true}, {2, 2, true}} {
		m, k, n := 2, 3, 4
		av := randVals(r, int64(bc.ba*m*k), -1, 1)
		bv := randVals(r, int64(bc.bb*k*n), -1, 1)
		bShape := shp(int64(bc.bb), int64(k), int64(n))
		if bc.transB {
			bShape = shp(int64(bc.bb), int64(n), int64(k))
		}
		tests = append(tests, struct {
			name   string
			a, b   *ir.Tensor
			transB bool
			shape  []int64
			want   []float64
		}{"batch broadcast", f64(shp(int64(bc.ba), int64(m), int64(k)), av...), f64(bShape, bv...), bc.transB,
			shp(int64(max(bc.ba, bc.bb)), int64(m), int64(n)),
			naiveBatchedMatMul(av, bc.ba, m, k, bv, bc.bb, n, bc.transB)})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, ir.OpMatMul, ir.Attrs{"transpose_b": tc.transB}, tc.a, tc.b)
			checkTensorClose(t, tc.name, got[0], ir.F64, tc.shape, tc.want, 1e-14)
		})
	}

	// Batch dims of different ranks: a [2,1,2,3] · b [3,3,2] -> [2,3,2,2].
	av, bv := randVals(r, 12, -1, 1), randVals(r, 18, -1, 1)
	got := eval(t, ir.OpMatMul, nil, f64(shp(2, 1, 2, 3), av...), f64(shp(3, 3, 2), bv...))[0]
	var want []float64
	for p := 0; p < 2; p++ {
		for q := 0; q < 3; q++ {
			want = append(want, naiveBatchedMatMul(av[p*6:p*6+6], 1, 2, 3, bv[q*6:q*6+6], 1, 2, false)...)
		}
	}
	checkTensorClose(t, "rank-4 · rank-3", got, ir.F64, shp(2, 3, 2, 2), want, 1e-14)

	// b stored in bf16, result f32 and rounded to f32.
	got = eval(t, ir.OpMatMul, nil, f32(shp(1, 2), 1, 1), ten(ir.BF16, shp(2, 1), 0x1p-8, 1))[0]
	checkTensorClose(t, "bf16 weight", got, ir.F32, shp(1, 1), []float64{1 + 0x1p-8}, 0)
}

// TestMatMulVectorVector: two rank-1 operands give their dot product, a
// scalar (NumPy semantics).
func TestMatMulVectorVector(t *testing.T) {
	got := eval(t, ir.OpMatMul, nil, f32(shp(3), 1, 2, 3), f32(shp(3), 4, 5, 6))[0]
	checkTensorClose(t, "vec·vec", got, ir.F32, shp(), []float64{32}, 0)
}

func TestMatMulShapeErrors(t *testing.T) {
	v, err := newValue(ir.OpMatMul, nil, zeros(ir.F32, 2, 3), zeros(ir.F32, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []*ir.Tensor
		want string
	}{
		{"rank", []*ir.Tensor{zeros(ir.F32, 6), zeros(ir.F32, 3, 4)}, "operand 0"},
		{"contraction", []*ir.Tensor{zeros(ir.F32, 2, 3), zeros(ir.F32, 2, 4)}, "operand 1"},
		{"dtype", []*ir.Tensor{zeros(ir.F64, 2, 3), zeros(ir.F32, 3, 4)}, "operand 0"},
		{"too few", []*ir.Tensor{zeros(ir.F32, 2, 3)}, "operand 1"},
		{"too many", []*ir.Tensor{zeros(ir.F32, 2, 3), zeros(ir.F32, 3, 4), zeros(ir.F32, 1)}, "3 operand tensors"},
		{"malformed", []*ir.Tensor{{DType: ir.F32, Shape: []int64{2, 3}, Data: make([]byte, 5)}, zeros(ir.F32, 3, 4)}, "needs 24 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EvalOp(v, tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "MatMul") {
				t.Errorf("err = %v, want one naming MatMul and containing %q", err, tc.want)
			}
		})
	}
}

// naiveLoRA is an independent reference for LoRAMatMul on a rank-2 x [M,K]:
// y = x·W + scale·(x·A)·B with W [K,N], A [K,R], B [R,N] (all stored
// transposed when transB).
func naiveLoRA(x []float64, m, k int, w, a, b []float64, r, n int, scale float64, transB bool) []float64 {
	at := func(mat []float64, rows, cols, i, j int, tr bool) float64 { // element (i, j) of a [rows, cols] matrix
		if tr {
			return mat[j*rows+i]
		}
		return mat[i*cols+j]
	}
	y := make([]float64, m*n)
	for i := 0; i < m; i++ {
		xa := make([]float64, r)
		for q := 0; q < r; q++ {
			for l := 0; l < k; l++ {
				xa[q] += x[i*k+l] * at(a, k, r, l, q, transB)
			}
		}
		for j := 0; j < n; j++ {
			base, low := 0.0, 0.0
			for l := 0; l < k; l++ {
				base += x[i*k+l] * at(w, k, n, l, j, transB)
			}
			for q := 0; q < r; q++ {
				low += xa[q] * at(b, r, n, q, j, transB)
			}
			y[i*n+j] = base + scale*low
		}
	}
	return y
}

func TestLoRAMatMul(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	const m, k, r, n, scale = 6, 5, 2, 4, 0.75
	x := randVals(rnd, m*k, -1, 1)
	w, a, b := randVals(rnd, k*n, -1, 1), randVals(rnd, k*r, -1, 1), randVals(rnd, r*n, -1, 1)
	for _, transB := range []bool{false, true} {
		wS, aS, bS := shp(k, n), shp(k, r), shp(r, n)
		if transB {
			wS, aS, bS = shp(n, k), shp(r, k), shp(n, r)
		}
		attrs := ir.Attrs{"scale": scale, "transpose_b": transB}
		want := naiveLoRA(x, m, k, w, a, b, r, n, scale, transB)
		// x with a batch dim: [2, 3, K].
		got := eval(t, ir.OpLoRAMatMul, attrs, f64(shp(2, 3, k), x...), f64(wS, w...), f64(aS, a...), f64(bS, b...))[0]
		checkTensorClose(t, "LoRA f64", got, ir.F64, shp(2, 3, n), want, 1e-14)
		got = eval(t, ir.OpLoRAMatMul, attrs, f32(shp(m, k), x...), f32(wS, w...), f32(aS, a...), f32(bS, b...))[0]
		checkTensorClose(t, "LoRA f32", got, ir.F32, shp(m, n), want, 1e-6)

		// The same through MatMul, Mul and Add values.
		mm := func(p, q *ir.Tensor) *ir.Tensor {
			return eval(t, ir.OpMatMul, ir.Attrs{"transpose_b": transB}, p, q)[0]
		}
		xw := mm(f64(shp(m, k), x...), f64(wS, w...))
		xab := mm(mm(f64(shp(m, k), x...), f64(aS, a...)), f64(bS, b...))
		sum := eval(t, ir.OpAdd, nil, xw, eval(t, ir.OpMul, nil, f64(shp(), scale), xab)[0])[0]
		got = eval(t, ir.OpLoRAMatMul, attrs, f64(shp(m, k), x...), f64(wS, w...), f64(aS, a...), f64(bS, b...))[0]
		checkTensorClose(t, "LoRA vs MatMul", got, ir.F64, shp(m, n), sum.Float64s(), 1e-14)
	}
}

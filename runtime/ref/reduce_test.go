package ref

import (
	"math"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestReduce(t *testing.T) {
	x := f32(shp(2, 3), 1, 2, 3, 4, 5, 6)
	tests := []struct {
		name  string
		op    ir.Op
		attrs ir.Attrs
		shape []int64
		want  []float64
	}{
		{"sum last keepdims", ir.OpReduceSum, ir.Attrs{"axes": []int64{1}}, shp(2, 1), []float64{6, 15}},
		{"sum last dropped", ir.OpReduceSum, ir.Attrs{"axes": []int64{-1}, "keepdims": false}, shp(2), []float64{6, 15}},
		{"sum first", ir.OpReduceSum, ir.Attrs{"axes": []int64{0}}, shp(1, 3), []float64{5, 7, 9}},
		{"sum all (axes absent)", ir.OpReduceSum, nil, shp(1, 1), []float64{21}},
		{"sum all to scalar", ir.OpReduceSum, ir.Attrs{"keepdims": false}, shp(), []float64{21}},
		{"sum no axes listed", ir.OpReduceSum, ir.Attrs{"axes": []int64{}}, shp(2, 3), []float64{1, 2, 3, 4, 5, 6}},
		{"mean first", ir.OpReduceMean, ir.Attrs{"axes": []int64{0}, "keepdims": false}, shp(3), []float64{2.5, 3.5, 4.5}},
		{"mean all", ir.OpReduceMean, ir.Attrs{"axes": []int64{1, 0}}, shp(1, 1), []float64{3.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, tc.op, tc.attrs, x)
			checkTensorClose(t, tc.name, got[0], ir.F32, tc.shape, tc.want, 0)
		})
	}

	// 3-D over the middle axis against a loop.
	x3 := f64(shp(2, 3, 4), seq(24)...)
	got := eval(t, ir.OpReduceSum, ir.Attrs{"axes": []int64{1}, "keepdims": false}, x3)[0]
	var want []float64
	for i := 0; i < 2; i++ {
		for k := 0; k < 4; k++ {
			s := 0.0
			for j := 0; j < 3; j++ {
				s += float64(i*12 + j*4 + k)
			}
			want = append(want, s)
		}
	}
	checkTensorClose(t, "sum middle", got, ir.F64, shp(2, 4), want, 0)

	// Integers: exact sums, truncating means.
	xi := i64(shp(2, 2), 7, 8, -7, -8)
	checkInts(t, "int sum", eval(t, ir.OpReduceSum, ir.Attrs{"axes": []int64{1}}, xi)[0], ir.I64, shp(2, 1), []int64{15, -15})
	checkInts(t, "int mean", eval(t, ir.OpReduceMean, ir.Attrs{"axes": []int64{1}}, xi)[0], ir.I64, shp(2, 1), []int64{7, -7})
	// Mean over an empty axis: NaN for floats, an error for integers.
	got = eval(t, ir.OpReduceMean, ir.Attrs{"axes": []int64{1}}, f32(shp(2, 0)))[0]
	checkTensorClose(t, "empty mean", got, ir.F32, shp(2, 1), []float64{math.NaN(), math.NaN()}, 0)
	if err := evalErr(t, ir.OpReduceMean, ir.Attrs{"axes": []int64{1}}, i64(shp(2, 0))); err == nil {
		t.Errorf("integer mean over no elements: no error")
	}
}

func TestSoftmax(t *testing.T) {
	tests := []struct {
		name string
		x    *ir.Tensor
		axis int64
		want []float64
	}{
		{"1-D", f64(shp(3), 1, 2, 3), -1, []float64{0.09003057317038046, 0.24472847105479764, 0.6652409557748219}},
		{"stable for large inputs", f64(shp(2), 1000, 1000), 0, []float64{0.5, 0.5}},
		{"axis 0", f64(shp(2, 2), 0, 1, 0, 3), 0, []float64{0.5, 0.11920292202211755, 0.5, 0.8807970779778823}},
		{"-inf entry", f64(shp(2), math.Inf(-1), 0), 0, []float64{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, ir.OpSoftmax, ir.Attrs{"axis": tc.axis}, tc.x)
			checkTensorClose(t, tc.name, got[0], ir.F64, tc.x.Shape, tc.want, 1e-15)
		})
	}
	got := eval(t, ir.OpSoftmax, nil, ten(ir.BF16, shp(2), 0, 1))[0]
	// softmax = (0.2689..., 0.7310...) -> bf16 0.26953125, 0.73046875.
	checkTensorClose(t, "bf16", got, ir.BF16, shp(2), []float64{0.26953125, 0.73046875}, 0)
}

func TestRMSNorm(t *testing.T) {
	// Row [3, 4]: mean of squares 12.5.
	x := f64(shp(2, 2), 3, 4, 1, -1)
	w := f64(shp(2), 1, 2)
	got := eval(t, ir.OpRMSNorm, ir.Attrs{"eps": 0.0}, x, w)[0]
	want := []float64{3 / math.Sqrt(12.5), 4 / math.Sqrt(12.5) * 2, 1, -2}
	checkTensorClose(t, "eps 0", got, ir.F64, shp(2, 2), want, 1e-15)

	got = eval(t, ir.OpRMSNorm, ir.Attrs{"eps": 0.5}, x, w)[0]
	want = []float64{3 / math.Sqrt(13), 8 / math.Sqrt(13), 1 / math.Sqrt(1.5), -2 / math.Sqrt(1.5)}
	checkTensorClose(t, "eps 0.5", got, ir.F64, shp(2, 2), want, 1e-15)

	// f32 activations with a bf16 weight: result f32.
	got = eval(t, ir.OpRMSNorm, ir.Attrs{"eps": 0.0}, f32(shp(1, 2), 3, 4), ten(ir.BF16, shp(2), 1, 2))[0]
	checkTensorClose(t, "mixed", got, ir.F32, shp(1, 2), []float64{float64(float32(3 / math.Sqrt(12.5))), float64(float32(8 / math.Sqrt(12.5)))}, 0)
}

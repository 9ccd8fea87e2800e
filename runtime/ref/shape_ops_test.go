package ref

import (
	"math"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestGather(t *testing.T) {
	data := f32(shp(3, 2), 0, 1, 10, 11, 20, 21)
	tests := []struct {
		name    string
		data    *ir.Tensor
		indices *ir.Tensor
		axis    int64
		shape   []int64
		want    []float64
	}{
		{"rows", data, i64(shp(3), 2, 0, 2), 0, shp(3, 2), []float64{20, 21, 0, 1, 20, 21}},
		{"negative", data, i64(shp(2), -1, -3), 0, shp(2, 2), []float64{20, 21, 0, 1}},
		{"2-D indices", data, i64(shp(2, 2), 0, 1, 1, 0), 0, shp(2, 2, 2), []float64{0, 1, 10, 11, 10, 11, 0, 1}},
		{"axis 1", data, ten(ir.I32, shp(1, 2), 1, -2), 1, shp(3, 1, 2), []float64{1, 0, 11, 10, 21, 20}},
		{"axis -1 scalar index", data, ten(ir.I8, shp(), 1), -1, shp(3), []float64{1, 11, 21}},
		{"empty indices", data, i64(shp(0)), 0, shp(0, 2), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(t, ir.OpGather, ir.Attrs{"axis": tc.axis}, tc.data, tc.indices)
			checkTensorClose(t, tc.name, got[0], ir.F32, tc.shape, tc.want, 0)
		})
	}
	for _, idx := range []int64{3, -4, math.MaxInt64, math.MinInt64} {
		err := evalErr(t, ir.OpGather, nil, data, i64(shp(2), 0, idx))
		if err == nil || !strings.Contains(err.Error(), "out of range") || !strings.Contains(err.Error(), "Gather") {
			t.Errorf("index %d: err = %v, want an out-of-range error naming Gather", idx, err)
		}
	}
	// Bool data moves unchanged.
	got := eval(t, ir.OpGather, nil, ten(ir.Bool, shp(3), 1, 0, 1), i64(shp(2), 1, 2))[0]
	checkInts(t, "bool gather", got, ir.Bool, shp(2), []int64{0, 1})
}

func TestReshapeTranspose(t *testing.T) {
	x := f32(shp(2, 3), seq(6)...)
	got := eval(t, ir.OpReshape, ir.Attrs{"shape": ir.Static(3, 1, 2)}, x)[0]
	checkTensorClose(t, "reshape", got, ir.F32, shp(3, 1, 2), seq(6), 0)

	got = eval(t, ir.OpTranspose, ir.Attrs{"perm": []int64{1, 0}}, x)[0]
	checkTensorClose(t, "transpose 2-D", got, ir.F32, shp(3, 2), []float64{0, 3, 1, 4, 2, 5}, 0)

	// y[i,j,k] = x[j,k,i] for perm [2,0,1], x [2,3,4].
	x3 := f32(shp(2, 3, 4), seq(24)...)
	got = eval(t, ir.OpTranspose, ir.Attrs{"perm": []int64{2, 0, 1}}, x3)[0]
	var want []float64
	for i := 0; i < 4; i++ {
		for j := 0; j < 2; j++ {
			for k := 0; k < 3; k++ {
				want = append(want, float64(j*12+k*4+i))
			}
		}
	}
	checkTensorClose(t, "transpose 3-D", got, ir.F32, shp(4, 2, 3), want, 0)
}

func TestSlice(t *testing.T) {
	x := f32(shp(10), seq(10)...)
	end := int64(ir.SliceEnd)
	tests := []struct {
		name                      string
		starts, ends, steps, axes []int64
		x                         *ir.Tensor
		shape                     []int64
		want                      []float64
	}{
		{"range", []int64{2}, []int64{5}, nil, []int64{0}, x, shp(3), []float64{2, 3, 4}},
		{"negative start to end", []int64{-3}, []int64{end}, nil, []int64{0}, x, shp(3), []float64{7, 8, 9}},
		{"negative end", []int64{1}, []int64{-7}, nil, []int64{-1}, x, shp(2), []float64{1, 2}},
		{"step 3", []int64{0}, []int64{10}, []int64{3}, []int64{0}, x, shp(4), []float64{0, 3, 6, 9}},
		{"step -2", []int64{8}, []int64{1}, []int64{-2}, []int64{0}, x, shp(4), []float64{8, 6, 4, 2}},
		{"reverse all", []int64{-1}, []int64{math.MinInt64}, []int64{-1}, []int64{0}, x, shp(10), []float64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"clamp", []int64{-100}, []int64{100}, nil, []int64{0}, x, shp(10), seq(10)},
		{"clamp negative step", []int64{100}, []int64{7}, []int64{-1}, []int64{0}, x, shp(2), []float64{9, 8}},
		{"empty", []int64{5}, []int64{2}, nil, []int64{0}, x, shp(0), nil},
		{"two axes", []int64{1, -2}, []int64{3, end}, nil, []int64{0, 1}, f32(shp(3, 4), seq(12)...), shp(2, 2),
			[]float64{6, 7, 10, 11}},
		{"one of two axes", []int64{0}, []int64{end}, []int64{2}, []int64{1}, f32(shp(2, 3), seq(6)...), shp(2, 2),
			[]float64{0, 2, 3, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attrs := ir.Attrs{"axes": tc.axes, "starts": tc.starts, "ends": tc.ends}
			if tc.steps != nil {
				attrs["steps"] = tc.steps
			}
			got := eval(t, ir.OpSlice, attrs, tc.x)
			checkTensorClose(t, tc.name, got[0], ir.F32, tc.shape, tc.want, 0)
		})
	}
}

func TestSplitConcatExpand(t *testing.T) {
	x := f32(shp(2, 5), seq(10)...)
	got := eval(t, ir.OpSplit, ir.Attrs{"axis": int64(-1), "sizes": []int64{2, 0, 3}}, x)
	if len(got) != 3 {
		t.Fatalf("split gave %d pieces", len(got))
	}
	checkTensorClose(t, "split 0", got[0], ir.F32, shp(2, 2), []float64{0, 1, 5, 6}, 0)
	checkTensorClose(t, "split 1", got[1], ir.F32, shp(2, 0), nil, 0)
	checkTensorClose(t, "split 2", got[2], ir.F32, shp(2, 3), []float64{2, 3, 4, 7, 8, 9}, 0)

	got = eval(t, ir.OpSplit, ir.Attrs{"axis": int64(0), "sizes": []int64{1, 1}}, x)
	checkTensorClose(t, "split rows", got[1], ir.F32, shp(1, 5), []float64{5, 6, 7, 8, 9}, 0)

	c := eval(t, ir.OpConcat, ir.Attrs{"axis": int64(1)}, f32(shp(2, 1), 0, 1), f32(shp(2, 2), 10, 11, 12, 13), f32(shp(2, 0)))[0]
	checkTensorClose(t, "concat axis 1", c, ir.F32, shp(2, 3), []float64{0, 10, 11, 1, 12, 13}, 0)
	c = eval(t, ir.OpConcat, ir.Attrs{"axis": int64(0)}, ten(ir.Bool, shp(1, 2), 1, 0), ten(ir.Bool, shp(2, 2), 0, 1, 1, 1))[0]
	checkInts(t, "concat bool", c, ir.Bool, shp(3, 2), []int64{1, 0, 0, 1, 1, 1})

	e := eval(t, ir.OpExpand, ir.Attrs{"shape": ir.Static(2, 3)}, f32(shp(1, 3), 1, 2, 3))[0]
	checkTensorClose(t, "expand rows", e, ir.F32, shp(2, 3), []float64{1, 2, 3, 1, 2, 3}, 0)
	e = eval(t, ir.OpExpand, ir.Attrs{"shape": ir.Static(2, 1, 3)}, f32(shp(2, 1), 1, 2))[0]
	checkTensorClose(t, "expand both", e, ir.F32, shp(2, 2, 3), []float64{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}, 0)

	// Empty tensors with huge dims are refused too (no long loops over the
	// outer dims of nothing).
	err := evalErr(t, ir.OpSoftmax, ir.Attrs{"axis": int64(1)}, f32(shp(1<<40, 0)))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Softmax of f32[2^40, 0]: err = %v, want a size error", err)
	}

	// A result over MaxElements is refused before it is allocated.
	err = evalErr(t, ir.OpExpand, ir.Attrs{"shape": ir.Static(1<<20, 1<<12)}, f32(shp(1), 1))
	if err == nil || !strings.Contains(err.Error(), "too large") || !strings.Contains(err.Error(), "Expand") {
		t.Errorf("huge Expand: err = %v, want a size error naming Expand", err)
	}
}

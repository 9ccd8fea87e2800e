package ref

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestConv1d(t *testing.T) {
	// Channel 0: x = [1,2,3,4], w = [1,10]; pads [1,2] and dilation 2 give
	// xpad = [0,1,2,3,4,0,0], Lout = 4+3-2 = 5, y[t] = xpad[t] + 10·xpad[t+2].
	// Channel 1: x = [1,1,1,1], w = [2,0], bias 0.5: y = 2·xpad[t] + 0.5.
	x := f32(shp(1, 2, 4), 1, 2, 3, 4, 1, 1, 1, 1)
	want := []float64{20, 31, 42, 3, 4, 0.5, 2.5, 2.5, 2.5, 2.5}
	bias := f32(shp(2), 0, 0.5)
	for _, w := range []*ir.Tensor{f32(shp(2, 1, 2), 1, 10, 2, 0), f32(shp(2, 2), 1, 10, 2, 0)} {
		got := eval(t, ir.OpConv1d, ir.Attrs{"pads": []int64{1, 2}, "dilation": int64(2)}, x, w, bias)[0]
		checkTensorClose(t, "conv1d", got, ir.F32, shp(1, 2, 5), want, 0)
	}
	// No pads, no bias: y[t] = x[t] + 10·x[t+1].
	got := eval(t, ir.OpConv1d, nil, f32(shp(1, 1, 4), 1, 2, 3, 4), f32(shp(1, 2), 1, 10))[0]
	checkTensorClose(t, "conv1d valid", got, ir.F32, shp(1, 1, 3), []float64{21, 32, 43}, 0)
}

// naiveCausalConv is an independent reference: for each (b, d) it builds
// the time series state ++ x explicitly and slides the kernel over it.
func naiveCausalConv(x []float64, bt, l, dm int, w []float64, k int, bias, state []float64, silu bool) (y, stateOut []float64) {
	y = make([]float64, bt*l*dm)
	stateOut = make([]float64, bt*dm*(k-1))
	for b := 0; b < bt; b++ {
		for d := 0; d < dm; d++ {
			var series []float64
			for j := 0; j < k-1; j++ {
				if state != nil {
					series = append(series, state[(b*dm+d)*(k-1)+j])
				} else {
					series = append(series, 0)
				}
			}
			for t := 0; t < l; t++ {
				series = append(series, x[(b*l+t)*dm+d])
			}
			for t := 0; t < l; t++ {
				acc := 0.0
				if bias != nil {
					acc = bias[d]
				}
				for j := 0; j < k; j++ {
					acc += w[d*k+j] * series[t+j]
				}
				if silu {
					acc = acc / (1 + math.Exp(-acc))
				}
				y[(b*l+t)*dm+d] = acc
			}
			copy(stateOut[(b*dm+d)*(k-1):], series[len(series)-(k-1):])
		}
	}
	return y, stateOut
}

func TestCausalConv1d(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const bt, dm, k = 2, 3, 4
	w := randVals(r, dm*k, -1, 1)
	bias := randVals(r, dm, -1, 1)
	for _, l := range []int{1, 2, 3, 7} { // L < K-1, L = K-1, L > K-1
		for _, silu := range []bool{false, true} {
			for _, withState := range []bool{false, true} {
				x := randVals(r, int64(bt*l*dm), -2, 2)
				var state []float64
				args := []*ir.Tensor{f64(shp(bt, int64(l), dm), x...), f64(shp(dm, 1, k), w...), f64(shp(dm), bias...), nil}
				if withState {
					state = randVals(r, bt*dm*(k-1), -2, 2)
					args[3] = f64(shp(bt, dm, k-1), state...)
				}
				act := "none"
				if silu {
					act = "silu"
				}
				got := eval(t, ir.OpCausalConv1d, ir.Attrs{"activation": act}, args...)
				wantY, wantS := naiveCausalConv(x, bt, l, dm, w, k, bias, state, silu)
				checkTensorClose(t, "y", got[0], ir.F64, shp(bt, int64(l), dm), wantY, 1e-14)
				checkTensorClose(t, "state_out", got[1], ir.F64, shp(bt, dm, k-1), wantS, 0)
			}
		}
	}
}

// TestCausalConvIsConvOverConcat checks CausalConv1d with a state against
// Conv1d (no padding) over concat(state, xᵀ) along time, and without a
// state against Conv1d with K-1 zeros padded before.
func TestCausalConvIsConvOverConcat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const bt, l, dm, k = 2, 5, 3, 4
	x := f64(shp(bt, l, dm), randVals(r, bt*l*dm, -1, 1)...)
	w := f64(shp(dm, k), randVals(r, dm*k, -1, 1)...)
	bias := f64(shp(dm), randVals(r, dm, -1, 1)...)
	state := f64(shp(bt, dm, k-1), randVals(r, bt*dm*(k-1), -1, 1)...)

	xT := eval(t, ir.OpTranspose, ir.Attrs{"perm": []int64{0, 2, 1}}, x)[0] // [Bt, D, L]
	xs := eval(t, ir.OpConcat, ir.Attrs{"axis": int64(2)}, state, xT)[0]    // [Bt, D, K-1+L]
	conv := eval(t, ir.OpConv1d, nil, xs, w, bias)[0]                       // [Bt, D, L]
	want := eval(t, ir.OpTranspose, ir.Attrs{"perm": []int64{0, 2, 1}}, conv)[0]
	got := eval(t, ir.OpCausalConv1d, nil, x, w, bias, state)
	checkTensorClose(t, "with state", got[0], ir.F64, shp(bt, l, dm), want.Float64s(), 1e-15)
	last := eval(t, ir.OpSlice, ir.Attrs{"axes": []int64{2}, "starts": []int64{-(k - 1)}, "ends": []int64{ir.SliceEnd}}, xs)[0]
	if !got[1].Equal(last) {
		t.Errorf("state_out = %v, want the last K-1 columns %v", got[1].Float64s(), last.Float64s())
	}

	conv = eval(t, ir.OpConv1d, ir.Attrs{"pads": []int64{k - 1, 0}}, xT, w, bias)[0]
	want = eval(t, ir.OpTranspose, ir.Attrs{"perm": []int64{0, 2, 1}}, conv)[0]
	got = eval(t, ir.OpCausalConv1d, nil, x, w, bias)
	checkTensorClose(t, "zero state", got[0], ir.F64, shp(bt, l, dm), want.Float64s(), 1e-15)
}

// TestCausalConvChunked checks that two calls carrying the state equal one
// call over the whole sequence, bit for bit.
func TestCausalConvChunked(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const bt, dm, k = 2, 3, 4
	w := f32(shp(dm, 1, k), randVals(r, dm*k, -1, 1)...)
	bias := f32(shp(dm), randVals(r, dm, -1, 1)...)
	state0 := f32(shp(bt, dm, k-1), randVals(r, bt*dm*(k-1), -1, 1)...)
	for _, split := range [][2]int64{{1, 5}, {2, 1}, {3, 3}, {5, 2}} {
		l1, l2 := split[0], split[1]
		xv := randVals(r, bt*(l1+l2)*dm, -1, 1)
		x := f32(shp(bt, l1+l2, dm), xv...)
		attrs := ir.Attrs{"activation": "silu"}
		whole := eval(t, ir.OpCausalConv1d, attrs, x, w, bias, state0)
		parts := eval(t, ir.OpSplit, ir.Attrs{"axis": int64(1), "sizes": []int64{l1, l2}}, x)
		first := eval(t, ir.OpCausalConv1d, attrs, parts[0], w, bias, state0)
		second := eval(t, ir.OpCausalConv1d, attrs, parts[1], w, bias, first[1])
		joined := eval(t, ir.OpConcat, ir.Attrs{"axis": int64(1)}, first[0], second[0])[0]
		if !joined.Equal(whole[0]) {
			t.Errorf("split %v: chunked y differs:\n%v\n%v", split, joined.Float64s(), whole[0].Float64s())
		}
		if !second[1].Equal(whole[1]) {
			t.Errorf("split %v: chunked state differs", split)
		}
	}
}

// TestCausalConvShortInput checks L < K-1 by hand: the new state keeps old
// state columns.
func TestCausalConvShortInput(t *testing.T) {
	// One channel, K = 4, state [a,b,c] = [1,2,3], w = [1,1,1,1].
	state := f32(shp(1, 1, 3), 1, 2, 3)
	w := f32(shp(1, 4), 1, 1, 1, 1)
	got := eval(t, ir.OpCausalConv1d, nil, f32(shp(1, 1, 1), 10), w, nil, state)
	checkTensorClose(t, "L=1 y", got[0], ir.F32, shp(1, 1, 1), []float64{16}, 0)
	checkTensorClose(t, "L=1 state", got[1], ir.F32, shp(1, 1, 3), []float64{2, 3, 10}, 0)
	got = eval(t, ir.OpCausalConv1d, nil, f32(shp(1, 2, 1), 10, 20), w, nil, state)
	checkTensorClose(t, "L=2 y", got[0], ir.F32, shp(1, 2, 1), []float64{16, 35}, 0)
	checkTensorClose(t, "L=2 state", got[1], ir.F32, shp(1, 1, 3), []float64{3, 10, 20}, 0)
	// K = 1: the state is empty.
	got = eval(t, ir.OpCausalConv1d, nil, f32(shp(1, 2, 1), 10, 20), f32(shp(1, 1), 2))
	checkTensorClose(t, "K=1 y", got[0], ir.F32, shp(1, 2, 1), []float64{20, 40}, 0)
	if !slices.Equal(got[1].Shape, []int64{1, 1, 0}) {
		t.Errorf("K=1 state shape %v", got[1].Shape)
	}
}

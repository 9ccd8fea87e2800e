package cpu

import (
	"context"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// TestViews checks which Reshape and Slice steps become views, that the
// results equal the reference interpreter's over two runs (views of
// arguments are rebound per run), and that no step writes through a view
// into the caller's inputs.
func TestViews(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		views int // steps planned as views
	}{
		{"slice+reshape of an argument, then an elementwise op that must not run in place", `
func @f(%s: f32[2,B,4,3]) -> (y: f32[B,4,3]) {
  %0 = Slice(%s) {axes = [0], ends = [2], starts = [1]} : f32[1,B,4,3]
  %1 = Reshape(%0) {shape = [B,4,3]} : f32[B,4,3]
  %2 = Neg(%1) : f32[B,4,3]
  return %2
}`, 2},
		{"reshape of a temporary read after the view dies", `
func @f(%x: f32[B,6]) -> (y: f32[B,6], z: f32[B,2,3]) {
  %0 = Exp(%x) : f32[B,6]
  %1 = Reshape(%0) {shape = [B,2,3]} : f32[B,2,3]
  %2 = Neg(%1) : f32[B,2,3]
  %3 = Neg(%0) : f32[B,6]
  return %3, %2
}`, 1},
		{"a view outlives its root's last direct use: the root's memory stays reserved", `
func @f(%x: f32[B,6]) -> (y: f32[B,6], z: f32[B,2,3]) {
  %0 = Exp(%x) : f32[B,6]
  %1 = Reshape(%0) {shape = [B,2,3]} : f32[B,2,3]
  %2 = Neg(%0) : f32[B,6]
  %3 = Tanh(%x) : f32[B,6]
  %4 = Reshape(%3) {shape = [B,2,3]} : f32[B,2,3]
  %5 = Add(%1, %4) : f32[B,2,3]
  return %2, %5
}`, 2},
		{"slice of a reshape view of a temporary", `
func @f(%x: f32[6,B]) -> (y: f32[2,B]) {
  %0 = Exp(%x) : f32[6,B]
  %1 = Reshape(%0) {shape = [3,2,B]} : f32[3,2,B]
  %2 = Slice(%1) {axes = [0], ends = [3], starts = [2]} : f32[1,2,B]
  %3 = Reshape(%2) {shape = [2,B]} : f32[2,B]
  %4 = Neg(%3) : f32[2,B]
  return %4
}`, 3},
		{"not views: a strided slice, a clamped slice, a result", `
func @f(%x: f32[4,6]) -> (y: f32[4,2], z: f32[2,6], w: f32[24]) {
  %0 = Slice(%x) {axes = [1], ends = [3], starts = [1]} : f32[4,2]
  %1 = Slice(%x) {axes = [0], ends = [100], starts = [2]} : f32[2,6]
  %2 = Reshape(%x) {shape = [24]} : f32[24]
  return %0, %1, %2
}`, 0},
		{"a slice of a slice keeps one copy", `
func @f(%x: f32[4,6]) -> (y: f32[1,6]) {
  %0 = Slice(%x) {axes = [0], ends = [3], starts = [1]} : f32[2,6]
  %1 = Slice(%0) {axes = [0], ends = [2], starts = [1]} : f32[1,6]
  %2 = Neg(%1) : f32[1,6]
  return %2
}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, tc.src).Funcs[0]
			prog, err := Compile(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			views := 0
			for _, st := range prog.steps {
				if st.view {
					views++
				}
			}
			if views != tc.views {
				t.Errorf("%d view steps, want %d", views, tc.views)
			}
			env := map[string]int64{"B": 3}
			inst, err := prog.Instantiate(env)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(3))
			for run := 0; run < 2; run++ {
				var irIn []*ir.Tensor
				var in []*Tensor
				var before [][]float32
				for _, a := range f.Args {
					x := randomFor(t, rng, a.Type, env, 1)
					c, err := FromIR(x)
					if err != nil {
						t.Fatal(err)
					}
					irIn, in, before = append(irIn, x), append(in, c), append(before, slices.Clone(c.F32))
				}
				want, err := ref.Run(f, nil, irIn)
				if err != nil {
					t.Fatal(err)
				}
				got, err := inst.Run(context.Background(), in, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					w := want[i].Float64s()
					if len(got[i].F32) != len(w) {
						t.Fatalf("run %d result %d: %d elements, want %d", run, i, len(got[i].F32), len(w))
					}
					for k, g := range got[i].F32 {
						if math.Abs(float64(g)-w[k]) > 1e-6*math.Max(1, math.Abs(w[k])) {
							t.Fatalf("run %d result %d element %d: %g, reference %g", run, i, k, g, w[k])
						}
					}
				}
				for i := range in {
					if !slices.Equal(in[i].F32, before[i]) {
						t.Fatalf("run %d: input %d was written", run, i)
					}
				}
			}
		})
	}
}

// TestUnreadOutput: a tuple output nothing reads is still written by its
// kernel, so it must get memory of its own while the step runs (a
// CausalConv1d whose new state the graph recomputes itself, as ONNX
// decode graphs do). It once overlapped live temporaries.
func TestUnreadOutput(t *testing.T) {
	f := mustParse(t, `
func @f(%x: f32[B,8]) -> (y: f32[B,4]) {
  %0 = Exp(%x) : f32[B,8]
  %1 = Split(%x) {axis = -1, sizes = [4, 4]} : (f32[B,4], f32[B,4])
  %2 = Extract(%1) {index = 0} : f32[B,4]
  %3 = Slice(%0) {axes = [1], ends = [4], starts = [0]} : f32[B,4]
  %4 = Add(%2, %3) : f32[B,4]
  return %4
}`).Funcs[0]
	prog, err := Compile(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]int64{"B": 2}
	inst, err := prog.Instantiate(env)
	if err != nil {
		t.Fatal(err)
	}
	x := randomFor(t, rand.New(rand.NewSource(5)), f.Args[0].Type, env, 1)
	want, err := ref.Run(f, nil, []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromIR(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := inst.Run(context.Background(), []*Tensor{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range want[0].Float64s() {
		if math.Abs(float64(got[0].F32[k])-w) > 1e-6*math.Max(1, math.Abs(w)) {
			t.Fatalf("element %d: %g, reference %g", k, got[0].F32[k], w)
		}
	}
}

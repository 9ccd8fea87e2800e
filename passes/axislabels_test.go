package passes

import (
	"slices"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestMapUnits(t *testing.T) {
	b, l := ir.SymDim("B"), ir.SymDim("L")
	one := ir.StaticDim(1)
	tests := []struct {
		from, to ir.Shape
		labels   []int
		want     []int // nil: not a unit-only reshape
	}{
		{ir.Shape{b, l, ir.StaticDim(4)}, ir.Shape{b, l, ir.StaticDim(4), one}, []int{0, 1, 2}, []int{0, 1, 2, -1}},
		{ir.Shape{b, one, ir.StaticDim(4)}, ir.Shape{b, ir.StaticDim(4)}, []int{7, -1, 9}, []int{7, 9}},
		{ir.Shape{one, ir.StaticDim(4), one}, ir.Shape{ir.StaticDim(4)}, []int{-1, 3, -1}, []int{3}},
		{ir.Shape{b, ir.StaticDim(4), ir.StaticDim(2)}, ir.Shape{b, ir.StaticDim(8)}, []int{0, 1, 2}, nil}, // merges dims
		{ir.Shape{ir.StaticDim(4), ir.StaticDim(2)}, ir.Shape{ir.StaticDim(2), ir.StaticDim(4)}, []int{0, 1}, nil},
	}
	for _, tt := range tests {
		got, ok := mapUnits(tt.from, tt.to, tt.labels)
		if ok != (tt.want != nil) || ok && !slices.Equal(got, tt.want) {
			t.Errorf("mapUnits(%v -> %v, %v) = %v, %v; want %v", tt.from, tt.to, tt.labels, got, ok, tt.want)
		}
	}
}

func TestBcastLabels(t *testing.T) {
	tests := []struct {
		in, out ir.Shape
		labels  []int
		want    []int
	}{
		{ir.Static(4, 2), ir.Static(3, 5, 4, 2), []int{0, 1, 2, 3}, []int{2, 3}},
		{ir.Static(3, 1, 2), ir.Static(3, 5, 2), []int{0, 1, 2}, []int{0, -1, 2}},
		{ir.Static(1), ir.Static(3, 5), []int{0, 1}, []int{-1}},
	}
	for _, tt := range tests {
		if got := bcastLabels(tt.in, tt.out, tt.labels); !slices.Equal(got, tt.want) {
			t.Errorf("bcastLabels(%v -> %v) = %v, want %v", tt.in, tt.out, got, tt.want)
		}
	}
}

// TestViewSource follows Transpose, unit Reshape, Expand and a unit
// Gather back to the source and checks the labels it arrives with.
func TestViewSource(t *testing.T) {
	m, err := ir.Parse("t", `func @f(%x: f32[B,4,3]) -> (f32[B,1,3,4,2]) {
  %1 = Transpose(%x) {perm = [0, 2, 1]} : f32[B,3,4]
  %2 = Reshape(%1) {shape = [B,1,3,4,1]} : f32[B,1,3,4,1]
  %3 = Const() {value = dense(i64[], [0])} : i64[]
  %4 = Gather(%2, %3) {axis = 4} : f32[B,1,3,4]
  %5 = Reshape(%4) {shape = [B,1,3,4,1]} : f32[B,1,3,4,1]
  %6 = Expand(%5) {shape = [B,1,3,4,2]} : f32[B,1,3,4,2]
  return %6
}
`)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Funcs[0]
	src, l := viewSource(f.Results[0], []int{10, -1, 12, 13, 14})
	if src != f.Args[0] || !slices.Equal(l, []int{10, 13, 12}) {
		t.Errorf("viewSource = %v %v, want %%x [10 13 12]", src, l)
	}
	// Forward from %x through the Transpose.
	if l, ok := viewForward(f.Args[0], f.Body[0], []int{0, 1, 2}); !ok || !slices.Equal(l, []int{0, 2, 1}) {
		t.Errorf("viewForward = %v %v, want [0 2 1]", l, ok)
	}
}

package ir

import (
	"strings"
	"testing"
)

func TestDimArithmetic(t *testing.T) {
	L, B := SymDim("L"), SymDim("B")
	tests := []struct {
		name string
		got  func() (Dim, bool)
		want string
		ok   bool
	}{
		{"L+3", func() (Dim, bool) { return AddDims(L, StaticDim(3)) }, "L+3", true},
		{"3+L", func() (Dim, bool) { return AddDims(StaticDim(3), L) }, "L+3", true},
		{"L+L", func() (Dim, bool) { return AddDims(L, L) }, "2*L", true},
		{"L-L", func() (Dim, bool) { return SubDims(L, L) }, "0", true},
		{"L-1", func() (Dim, bool) { return SubDims(L, StaticDim(1)) }, "L-1", true},
		{"L+B", func() (Dim, bool) { return AddDims(L, B) }, "", false},
		{"L*B", func() (Dim, bool) { return MulDims(L, B) }, "B*L", true},
		{"2*L", func() (Dim, bool) { return MulDims(StaticDim(2), L) }, "2*L", true},
		{"0*L", func() (Dim, bool) { return MulDims(StaticDim(0), L) }, "0", true},
		{"(L+1)*B", func() (Dim, bool) { d, _ := AddDims(L, StaticDim(1)); return MulDims(d, B) }, "", false},
		{"3*(L+1)", func() (Dim, bool) { d, _ := AddDims(L, StaticDim(1)); return MulDims(StaticDim(3), d) }, "3*L+3", true},
		{"6*4", func() (Dim, bool) { return MulDims(StaticDim(6), StaticDim(4)) }, "24", true},
	}
	for _, tt := range tests {
		d, ok := tt.got()
		if ok != tt.ok || (ok && d.String() != tt.want) {
			t.Errorf("%s = %v, %v; want %s, %v", tt.name, d, ok, tt.want, tt.ok)
		}
	}
}

func TestBroadcast(t *testing.T) {
	L := SymDim("L")
	tests := []struct {
		a, b Shape
		want string
	}{
		{Static(2, 3), Static(3), "[2,3]"},
		{Static(2, 1), Static(1, 3), "[2,3]"},
		{Shape{L, StaticDim(4)}, Static(4), "[L,4]"},
		{Shape{L, StaticDim(1)}, Static(1, 5), "[L,5]"},
		{Static(), Static(2), "[2]"},
		{Static(2), Static(3), "error"},
		{Shape{L}, Shape{SymDim("M")}, "error"},
	}
	for _, tt := range tests {
		s, err := Broadcast(tt.a, tt.b)
		got := s.String()
		if err != nil {
			got = "error"
		}
		if got != tt.want {
			t.Errorf("Broadcast(%v, %v) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSliceRange(t *testing.T) {
	tests := []struct{ n, start, end, step, first, count int64 }{
		{10, 0, SliceEnd, 1, 0, 10},
		{10, -3, SliceEnd, 1, 7, 3},
		{10, 2, 5, 1, 2, 3},
		{10, 2, 100, 2, 2, 4},
		{10, 8, 2, 1, 8, 0},
		{10, -1, -SliceEnd, -1, 9, 10},
		{10, 9, 0, -3, 9, 3},
		{10, -20, 3, 1, 0, 3},
	}
	for _, tt := range tests {
		first, count := SliceRange(tt.n, tt.start, tt.end, tt.step)
		if first != tt.first || count != tt.count {
			t.Errorf("SliceRange(%d, %d, %d, %d) = %d, %d; want %d, %d", tt.n, tt.start, tt.end, tt.step, first, count, tt.first, tt.count)
		}
	}
}

func TestBindShape(t *testing.T) {
	L1, _ := AddDims(SymDim("L"), StaticDim(3))
	env := map[string]int64{}
	if err := BindShape(Shape{SymDim("B"), SymDim("L"), StaticDim(8)}, []int64{2, 5, 8}, env); err != nil {
		t.Fatal(err)
	}
	if err := BindShape(Shape{SymDim("B"), L1}, []int64{2, 8}, env); err != nil {
		t.Fatal(err)
	}
	if n, _ := SymDim("B*L").Eval(env); n != 10 {
		t.Errorf("B*L = %d", n)
	}
	for _, bad := range []struct {
		s     Shape
		sizes []int64
		want  string
	}{
		{Shape{SymDim("B")}, []int64{3}, "already bound"},
		{Shape{L1}, []int64{7}, "want L+3 = 8"},
		{Shape{StaticDim(8)}, []int64{8, 1}, "rank 2, want 1"},
		{Shape{SymDim("Q*R")}, []int64{4}, "unbound"},
	} {
		err := BindShape(bad.s, bad.sizes, env)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("BindShape(%v, %v) = %v, want %q", bad.s, bad.sizes, err, bad.want)
		}
	}
}

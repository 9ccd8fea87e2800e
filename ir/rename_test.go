package ir

import "testing"

// TestRenameSymbol renames a symbol in argument and value types, tuple
// elements, products and shape attributes, and checks the result prints
// as expected and verifies.
func TestRenameSymbol(t *testing.T) {
	src := `func @f(%x: f32[batch,L,4]) -> (y: f32[batch*L,4], z: f32[L,batch,4]) {
  %1 = Reshape(%x) {shape = [batch*L,4]} : f32[batch*L,4]
  %2 = Split(%x) {axis = 2, sizes = [2, 2]} : (f32[batch,L,2], f32[batch,L,2])
  %3 = Extract(%2) {index = 0} : f32[batch,L,2]
  %4 = Transpose(%x) {perm = [1, 0, 2]} : f32[L,batch,4]
  return %1, %4
}
`
	want := `func @f(%x: f32[B,L,4]) -> (y: f32[B*L,4], z: f32[L,B,4]) {
  %1 = Reshape(%x) {shape = [B*L,4]} : f32[B*L,4]
  %2 = Split(%x) {axis = 2, sizes = [2, 2]} : (f32[B,L,2], f32[B,L,2])
  %3 = Extract(%2) {index = 0} : f32[B,L,2]
  %4 = Transpose(%x) {perm = [1, 0, 2]} : f32[L,B,4]
  return %1, %4
}
`
	m, err := Parse("t.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Funcs[0]
	f.RenameSymbol("batch", "B")
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	if got := Print(m); got != want {
		t.Errorf("renamed:\n%s\nwant:\n%s", got, want)
	}
}

// TestSubstituteSymbol fixes L = 1 in a function over [B, L, ...]: plain
// dims become static, products keep their other factors, shape
// attributes follow, and the result verifies.
func TestSubstituteSymbol(t *testing.T) {
	src := `func @f(%x: f32[B,L,4]) -> (y: f32[B*L,4], z: f32[B,L,2]) {
  %1 = Reshape(%x) {shape = [B*L,4]} : f32[B*L,4]
  %2 = Split(%x) {axis = 2, sizes = [2, 2]} : (f32[B,L,2], f32[B,L,2])
  %3 = Extract(%2) {index = 1} : f32[B,L,2]
  return %1, %3
}
`
	want := `func @f(%x: f32[B,1,4]) -> (y: f32[B,4], z: f32[B,1,2]) {
  %1 = Reshape(%x) {shape = [B,4]} : f32[B,4]
  %2 = Split(%x) {axis = 2, sizes = [2, 2]} : (f32[B,1,2], f32[B,1,2])
  %3 = Extract(%2) {index = 1} : f32[B,1,2]
  return %1, %3
}
`
	m, err := Parse("t.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	m.Funcs[0].SubstituteSymbol("L", 1)
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	if got := Print(m); got != want {
		t.Errorf("substituted:\n%s\nwant:\n%s", got, want)
	}
}

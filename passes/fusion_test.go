package passes

import (
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// TestReorder checks that reorder moves a value appended at the end up to
// just before its first user, keeps the rest in place, and reports a
// cycle.
func TestReorder(t *testing.T) {
	m := parse(t, `func @f(%x: f32[4]) -> (f32[4]) {
  %1 = Exp(%x) : f32[4]
  %2 = Neg(%1) : f32[4]
  %3 = Tanh(%2) : f32[4]
  return %3
}
`)
	f := m.Funcs[0]
	late, err := f.Append(ir.OpSigmoid, nil, f.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	f.Body[1].SetArg(0, late) // Neg now reads a value placed after it
	if err := reorder(f); err != nil {
		t.Fatal(err)
	}
	want := `func @f(%x: f32[4]) -> (f32[4]) {
  %1 = Exp(%x) : f32[4]
  %2 = Sigmoid(%x) : f32[4]
  %3 = Neg(%2) : f32[4]
  %4 = Tanh(%3) : f32[4]
  return %4
}
`
	if got := ir.Print(m); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := ir.Verify(m); err != nil {
		t.Error(err)
	}
	// A cycle: Sigmoid reads Tanh, which reads Neg, which reads Sigmoid.
	f.Body[1].SetArg(0, f.Body[3])
	if err := reorder(f); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: got %v", err)
	}
}

// TestIndependent checks the dependency test of a fusion's operands.
func TestIndependent(t *testing.T) {
	m := parse(t, `func @f(%x: f32[4]) -> (f32[4], f32[4]) {
  %1 = Exp(%x) : f32[4]
  %2 = Neg(%1) : f32[4]
  %3 = Tanh(%x) : f32[4]
  %4 = Sigmoid(%2) : f32[4]
  %5 = Add(%3, %4) : f32[4]
  return %5, %3
}
`)
	f := m.Funcs[0]
	u := newFuser(&Context{}, f)
	b := f.Body
	t1 := u.begin(b[1]) // the pattern is Neg (position 1)
	for _, tc := range []struct {
		v    *ir.Value
		want bool
	}{{f.Args[0], true}, {b[0], true}, {b[2], true}, {b[3], false}, {b[4], false}, {b[1], false}} {
		if got := t1.independent(tc.v); got != tc.want {
			t.Errorf("independent(%v) = %v, want %v", tc.v.LongString(), got, tc.want)
		}
	}
}

// TestFusionIdempotent runs the pipeline twice on a decomposed model: the
// second run finds nothing to do.
func TestFusionIdempotent(t *testing.T) {
	cfg := modelConfig(modelConfigs[1].cfg)
	build, err := decomposedModelOf(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	compile(t, build, Options{})
	once := ir.Print(build)
	rep := compile(t, build, Options{})
	if twice := ir.Print(build); twice != once {
		t.Errorf("the second run changed the module")
	}
	for _, p := range rep.Passes {
		for k := range p.Counters {
			if strings.HasPrefix(k, "fused/") {
				t.Errorf("second run: %s fired %s", p.Name, k)
			}
		}
	}
}

package ref

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// hostile are functions that parse but break the op table's rules or lie
// about types (the parser does not check types; Verify would). Run must
// report an error naming the value, not panic.
var hostile = []struct {
	name, src, want string
}{
	{"matmul of two vectors with a wrong declared type", `func @f(%x: f32[3], %y: f32[3]) -> (f32[1]) {
  %2 = MatMul(%x, %y) : f32[1]
  return %2
}`, "MatMul"},
	{"declared type wrong", `func @f(%x: f32[2]) -> (f32[3]) {
  %1 = Neg(%x) : f32[3]
  return %1
}`, "hostile.ir:2:3: %1 = Neg : f32[3]: result 0 is f32[2], declared f32[3]"},
	{"gather axis", `func @f(%x: f32[2,3], %i: i64[2]) -> (f32[2]) {
  %2 = Gather(%x, %i) {axis = 5} : f32[2]
  return %2
}`, "axis 5 out of range"},
	{"gather index", `func @f(%x: f32[2,3], %i: i64[2]) -> (f32[2,3]) {
  %2 = Const() {value = dense(i64[2], [0, 7])} : i64[2]
  %3 = Gather(%x, %2) : f32[2,3]
  return %3
}`, "out of range"},
	{"scan A shape", `func @f(%u: f32[1,2,4], %dt: f32[1,2,4], %A: f32[3,2], %B: f32[1,2,2]) -> (f32[1,2,4]) {
  %4 = SelectiveScan(%u, %dt, %A, %B, %B) : (f32[1,2,4], f32[1,4,2])
  %5 = Extract(%4) {index = 0} : f32[1,2,4]
  return %5
}`, "SelectiveScan"},
	{"reshape size", `func @f(%x: f32[2,3]) -> (f32[5]) {
  %1 = Reshape(%x) {shape = [5]} : f32[5]
  return %1
}`, "Reshape"},
	{"conv kernel size 0", `func @f(%x: f32[1,2,4], %w: f32[4,0]) -> (f32[1,2,4]) {
  %2 = CausalConv1d(%x, %w) : (f32[1,2,4], f32[1,4,0])
  %3 = Extract(%2) {index = 0} : f32[1,2,4]
  return %3
}`, "CausalConv1d"},
	{"slice step 0", `func @f(%x: f32[4]) -> (f32[4]) {
  %1 = Slice(%x) {axes = [0], ends = [4], starts = [0], steps = [0]} : f32[4]
  return %1
}`, "step 0"},
	{"extract index", `func @f(%x: f32[4]) -> (f32[2]) {
  %1 = Split(%x) {axis = 0, sizes = [2, 2]} : (f32[2], f32[2])
  %2 = Extract(%1) {index = 2} : f32[2]
  return %2
}`, "index"},
	{"tuple operand", `func @f(%x: f32[4]) -> (f32[2]) {
  %1 = Split(%x) {axis = 0, sizes = [2, 2]} : (f32[2], f32[2])
  %2 = Neg(%1) : f32[2]
  return %2
}`, "tuple"},
	{"huge expand", `func @f(%x: f32[1]) -> (f32[1048576,4096]) {
  %1 = Expand(%x) {shape = [1048576, 4096]} : f32[1048576,4096]
  return %1
}`, "too large"},
	{"unbound symbol in attribute", `func @f(%x: f32[2]) -> (f32[K,2]) {
  %1 = Expand(%x) {shape = [K,2]} : f32[K,2]
  return %1
}`, "symbol K is unbound"},
	{"missing weight", `func @f(%x: f32[2]) -> (f32[2]) {
  %1 = Param() {name = "nope"} : f32[2]
  %2 = Add(%x, %1) : f32[2]
  return %2
}`, `missing weight "nope"`},
}

func TestHostileFunctions(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ir.Parse("hostile.ir", tc.src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, err = runWithZeros(m.Funcs[0], nil, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// runWithZeros runs f on zero inputs whose symbolic dims are all 2 and,
// when withWeights, weights of the Params' static types filled from r
// (zeros when r is nil).
func runWithZeros(f *ir.Func, r *rand.Rand, withWeights bool) ([]*ir.Tensor, error) {
	env := map[string]int64{}
	var inputs []*ir.Tensor
	for _, a := range f.Args {
		for _, d := range a.Type.Shape {
			for _, s := range strings.Split(d.S, "*") {
				if s != "" {
					env[s] = 2
				}
			}
		}
		sizes, err := ir.EvalShape(a.Type.Shape, env)
		if err != nil {
			return nil, err
		}
		if _, err := numElements(sizes); err != nil || a.Type.DType.Size() == 0 {
			return nil, err
		}
		inputs = append(inputs, zeros(a.Type.DType, sizes...))
	}
	weights := map[string]*ir.Tensor{}
	for _, v := range f.Body {
		if !withWeights || v.Op != ir.OpParam || v.Type.IsTuple() || !v.Type.Shape.IsStatic() || v.Type.DType.Size() == 0 {
			continue
		}
		sizes := v.Type.Shape.Sizes()
		n, err := numElements(sizes)
		if err != nil || n > 1<<20 {
			continue
		}
		vals := make([]float64, n)
		if r != nil {
			vals = randVals(r, n, -0.5, 0.5)
		}
		weights[v.StringAttr("name")] = ten(v.Type.DType, sizes, vals...)
	}
	return Run(f, weights, inputs)
}

// FuzzRun parses arbitrary IR text and runs every function on small inputs:
// whatever the text, Run returns results or an error and does not panic.
// The seeds are ir/testdata/mamba_layer.ir and the hostile functions.
func FuzzRun(f *testing.F) {
	if src, err := os.ReadFile("../../ir/testdata/mamba_layer.ir"); err == nil {
		f.Add(string(src))
	}
	for _, h := range hostile {
		f.Add(h.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		m, err := ir.Parse("fuzz.ir", src)
		if err != nil {
			return
		}
		for _, fn := range m.Funcs {
			runWithZeros(fn, rand.New(rand.NewPCG(1, 1)), true)
		}
	})
}

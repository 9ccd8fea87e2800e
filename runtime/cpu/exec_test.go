package cpu

import (
	"context"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// randomFor returns seeded random data of type t under env.
func randomFor(t *testing.T, rng *rand.Rand, typ ir.Type, env map[string]int64, maxInt int) *ir.Tensor {
	t.Helper()
	dims, err := ir.EvalShape(typ.Shape, env)
	if err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	vals := make([]float64, n)
	for i := range vals {
		if typ.DType.IsFloat() {
			vals[i] = rng.NormFloat64() * 0.5
		} else {
			vals[i] = float64(rng.Intn(maxInt))
		}
	}
	return ir.TensorFromFloat64s(typ.DType, dims, vals)
}

// TestExecMatchesReference runs the fused Mamba layer of ir/testdata through
// the planned executor and through the reference interpreter.
func TestExecMatchesReference(t *testing.T) {
	src, err := os.ReadFile("../../ir/testdata/mamba_layer.ir")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ir.Parse("mamba_layer.ir", string(src))
	if err != nil {
		t.Fatal(err)
	}
	f := m.Func("layer")
	rng := rand.New(rand.NewSource(7))
	env := map[string]int64{"B": 2, "L": 5}
	weights := map[string]*ir.Tensor{}
	for _, v := range f.Body {
		if v.Op == ir.OpParam {
			name := v.Attrs.String("name", "")
			w := randomFor(t, rng, v.Type, env, 1)
			if name == "A" { // a real scan is contractive: A = -exp(A_log) < 0
				vals := w.Float64s()
				for i := range vals {
					vals[i] = -math.Abs(vals[i]) - 0.1
				}
				w = ir.TensorFromFloat64s(ir.F32, w.Shape, vals)
			}
			weights[name] = w
		}
	}
	var irIn []*ir.Tensor
	var in []*Tensor
	for _, a := range f.Args {
		x := randomFor(t, rng, a.Type, env, 4)
		irIn = append(irIn, x)
		c, err := FromIR(x)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, c)
	}
	want, err := ref.Run(f, weights, irIn)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(f, weights)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := prog.Instantiate(env)
	if err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ { // the second run reuses the arena
		got, err := inst.Run(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			// f32 against f64: compare relative to the tensor's scale, since
			// dot products with cancellation lose relative precision per element
			w := want[i].Float64s()
			scale := 1.0
			for _, x := range w {
				scale = math.Max(scale, math.Abs(x))
			}
			for k, g := range got[i].F32 {
				if d := math.Abs(float64(g) - w[k]); d > 1e-5*scale {
					t.Fatalf("run %d result %d element %d: %g, reference %g", run, i, k, g, w[k])
				}
			}
		}
	}
	// The arena is smaller than the sum of all intermediates.
	sum := int64(0)
	for _, s := range prog.slots {
		if s.kind == slotTemp || s.kind == slotResult {
			dims, _ := ir.EvalShape(s.shape, env)
			n := int64(4)
			for _, d := range dims {
				n *= d
			}
			sum += n
		}
	}
	if inst.PeakBytes >= sum {
		t.Errorf("arena %d bytes, no smaller than all intermediates (%d)", inst.PeakBytes, sum)
	}
	t.Logf("arena %d bytes, intermediates %d bytes", inst.PeakBytes, sum)
}

// TestPlanNoOverlap checks the memory plan: slots alive at the same time
// never share memory, except an in-place output with its dying operand.
func TestPlanNoOverlap(t *testing.T) {
	src, _ := os.ReadFile("../../ir/testdata/mamba_layer.ir")
	m, err := ir.Parse("mamba_layer.ir", string(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Funcs {
		weights := map[string]*ir.Tensor{}
		rng := rand.New(rand.NewSource(1))
		env := map[string]int64{"B": 2, "L": 3}
		for _, v := range f.Body {
			if v.Op == ir.OpParam {
				weights[v.Attrs.String("name", "")] = randomFor(t, rng, v.Type, env, 1)
			}
		}
		prog, err := Compile(f, weights)
		if err != nil {
			t.Fatal(err)
		}
		sizes := make([]int, len(prog.slots))
		for i, s := range prog.slots {
			dims, _ := ir.EvalShape(s.shape, env)
			sizes[i] = 1
			for _, d := range dims {
				sizes[i] *= int(d)
			}
		}
		off, _ := planArena(prog, sizes, ir.F32)
		inPlace := map[[2]int]bool{}
		for _, st := range prog.steps {
			if st.inPlace >= 0 {
				inPlace[[2]int{st.out[0], st.in[st.inPlace]}] = true
			}
		}
		for i, a := range prog.slots {
			for j, b := range prog.slots {
				oi, ok1 := off[i]
				oj, ok2 := off[j]
				if i >= j || !ok1 || !ok2 || inPlace[[2]int{i, j}] || inPlace[[2]int{j, i}] {
					continue
				}
				timeOverlap := a.def <= b.last && b.def <= a.last
				memOverlap := oi < oj+sizes[j] && oj < oi+sizes[i]
				if timeOverlap && memOverlap && sizes[i] > 0 && sizes[j] > 0 {
					t.Errorf("@%s: slots %s and %s overlap in time and memory", f.Name, a.name, b.name)
				}
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	m, err := ir.Parse("t.ir", "func @f(%x: f32[B,4]) -> (f32[B,4]) {\n  %1 = Exp(%x) : f32[B,4]\n  return %1\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(m.Funcs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := prog.Instantiate(map[string]int64{"B": 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in   []*Tensor
		want string
	}{
		{nil, "takes 1 inputs, got 0"},
		{[]*Tensor{{DType: ir.F32, Shape: []int{3, 4}, F32: make([]float32, 12)}}, "got f32[3 4], want f32[2 4]"},
		{[]*Tensor{{DType: ir.F32, Shape: []int{2, 4}, F32: make([]float32, 3)}}, "3 elements of data"},
		{[]*Tensor{{DType: ir.I64, Shape: []int{2, 4}, I64: make([]int64, 8)}}, "got i64"},
	} {
		_, err := inst.Run(context.Background(), tt.in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
	if _, err := Compile(mustParse(t, "func @f() -> (f32[2]) {\n  %0 = Param() {name = \"w\"} : f32[2]\n  return %0\n}\n").Funcs[0], nil); err == nil || !strings.Contains(err.Error(), `weight "w" is not bound`) {
		t.Errorf("unbound weight: %v", err)
	}
}

func mustParse(t *testing.T, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse("t.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

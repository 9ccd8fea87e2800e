package passes

import (
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

var update = flag.Bool("update", false, "rewrite the out.ir sections of golden files")

// TestGolden runs each pass on testdata/<pass>/*.txtar: the in.ir section
// through that pass alone (verifying before and after) must print as the
// out.ir section, which must itself round-trip; and in and out must compute
// the same numbers on random inputs (unless the archive's comment says
// "numeric: skip"). A comment line "options: dtype=bf16" sets Options.DType.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no golden tests")
	}
	for _, dir := range dirs {
		pass := filepath.Base(dir)
		if _, ok := Lookup(pass); !ok {
			t.Errorf("testdata/%s does not name a pass", pass)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
		if len(files) < 5 {
			t.Errorf("pass %s has %d golden cases, want at least 5", pass, len(files))
		}
		for _, file := range files {
			t.Run(pass+"/"+strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
				runGolden(t, pass, file)
			})
		}
	}
}

func runGolden(t *testing.T, pass, file string) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var in, out *txtar.File
	for i := range ar.Files {
		switch ar.Files[i].Name {
		case "in.ir":
			in = &ar.Files[i]
		case "out.ir":
			out = &ar.Files[i]
		}
	}
	if in == nil {
		t.Fatal("no in.ir section")
	}
	m, err := ir.Parse(file+":in.ir", string(in.Data))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := ir.Parse(file+":in.ir", string(in.Data))
	opts := Options{Verify: true, Only: []string{pass}}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		if rest, ok := strings.CutPrefix(line, "options: dtype="); ok {
			opts.DType = strings.TrimSpace(rest)
		}
		if strings.TrimSpace(line) == "weights: bound" {
			// The passes that rewrite weights (transpose-weights) need
			// them bound: random values, seeded, shared by the
			// numeric check.
			m.Weights = map[string]*ir.Tensor{}
			rng := rand.New(rand.NewSource(2))
			for _, f := range m.Funcs {
				for _, v := range f.Body {
					if name := v.Attrs.String("name", ""); v.Op == ir.OpParam && m.Weights[name] == nil {
						m.Weights[name] = randomTensor(t, rng, v.Type, map[string]int64{})
					}
				}
			}
		}
	}
	rep, err := RunPasses(m, Pipeline, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := ir.Print(m)
	if *update {
		if out == nil {
			ar.Files = append(ar.Files, txtar.File{Name: "out.ir"})
			out = &ar.Files[len(ar.Files)-1]
		}
		out.Data = []byte(got)
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out == nil {
		t.Fatal("no out.ir section (run with -update)")
	}
	if diff := cmp.Diff(string(out.Data), got); diff != "" {
		t.Errorf("%s output differs (-want +got):\n%s\nreport:\n%v", pass, diff, rep)
	}
	back, err := ir.Parse(file+":out.ir", string(out.Data))
	if err != nil {
		t.Fatalf("out.ir does not parse: %v", err)
	}
	if err := ir.Verify(back); err != nil {
		t.Fatalf("out.ir does not verify: %v", err)
	}
	if ir.Print(back) != string(out.Data) {
		t.Errorf("out.ir does not round-trip")
	}
	if !strings.Contains(string(ar.Comment), "numeric: skip") {
		checkSameNumbers(t, orig, m)
	}
}

// checkSameNumbers runs every function of a and b on the same random
// inputs and weights with the reference interpreter and compares results.
// Symbols are bound to 3.
func checkSameNumbers(t *testing.T, a, b *ir.Module) {
	t.Helper()
	for _, fa := range a.Funcs {
		fb := b.Func(fa.Name)
		rng := rand.New(rand.NewSource(1))
		env := map[string]int64{}
		var inputs []*ir.Tensor
		for _, arg := range fa.Args {
			inputs = append(inputs, randomTensor(t, rng, arg.Type, env))
		}
		weights := map[string]*ir.Tensor{}
		for name, w := range b.Weights { // bound by the test ("weights: bound") or the pass
			weights[name] = w
		}
		for _, f := range []*ir.Func{fa, fb} {
			for _, v := range f.Body {
				name := v.Attrs.String("name", "")
				if v.Op == ir.OpParam && weights[name] == nil {
					weights[name] = randomTensor(t, rng, v.Type, env)
				}
			}
		}
		ra, err := ref.Run(fa, weights, inputs)
		if err != nil {
			t.Fatalf("@%s before the pass: %v", fa.Name, err)
		}
		rb, err := ref.Run(fb, weights, inputs)
		if err != nil {
			t.Fatalf("@%s after the pass: %v", fa.Name, err)
		}
		for i := range ra {
			if msg := compareTensors(ra[i], rb[i], 1e-5); msg != "" {
				t.Errorf("@%s result %d changed: %s", fa.Name, i, msg)
			}
		}
	}
}

func randomTensor(t *testing.T, rng *rand.Rand, typ ir.Type, env map[string]int64) *ir.Tensor {
	for _, d := range typ.Shape {
		if !d.IsStatic() {
			for _, s := range strings.Split(d.S, "*") {
				if _, ok := env[s]; !ok {
					env[s] = 3
				}
			}
		}
	}
	shape, err := ir.EvalShape(typ.Shape, env)
	if err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	vals := make([]float64, n)
	for i := range vals {
		if typ.DType.IsFloat() {
			vals[i] = rng.NormFloat64()
		} else {
			vals[i] = float64(rng.Intn(2))
		}
	}
	return ir.TensorFromFloat64s(typ.DType, shape, vals)
}

// compareTensors returns "" when a and b agree within rel (relative to the
// larger magnitude, with an absolute floor of rel), NaN matching NaN.
func compareTensors(a, b *ir.Tensor, rel float64) string {
	if a.DType != b.DType || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		return fmt.Sprintf("type %v%v vs %v%v", a.DType, a.Shape, b.DType, b.Shape)
	}
	x, y := a.Float64s(), b.Float64s()
	for i := range x {
		if math.IsNaN(x[i]) && math.IsNaN(y[i]) || x[i] == y[i] {
			continue
		}
		if d := math.Abs(x[i] - y[i]); d > rel*math.Max(1, math.Max(math.Abs(x[i]), math.Abs(y[i]))) {
			return fmt.Sprintf("element %d: %g vs %g", i, x[i], y[i])
		}
	}
	return ""
}

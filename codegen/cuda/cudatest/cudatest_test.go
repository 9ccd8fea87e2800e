package cudatest

import (
	"math"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestRelDiff(t *testing.T) {
	f32 := func(vals ...float64) *ir.Tensor {
		return ir.TensorFromFloat64s(ir.F32, []int64{int64(len(vals))}, vals)
	}
	tests := []struct {
		name      string
		got, want *ir.Tensor
		diff      float64
		bad       bool
	}{
		{"equal", f32(1, -2, 3), f32(1, -2, 3), 0, false},
		{"scaled by the largest", f32(1, -2, 4.5), f32(1, -2, 4), 0.125, false},
		{"zeros", f32(0, 0), f32(0, 0), 0, false},
		{"zeros expected", f32(0, 1e-9), f32(0, 0), 1, false},
		{"nan", f32(math.NaN(), 1), f32(1, 1), math.Inf(1), false},
		{"both nan", f32(math.NaN(), 1), f32(math.NaN(), 1), 0, false},
		{"shapes", f32(1, 2), f32(1), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := RelDiff(tt.got, tt.want)
			if (err != nil) != tt.bad {
				t.Fatalf("error %v, want error %v", err, tt.bad)
			}
			if !tt.bad && d != tt.diff {
				t.Errorf("RelDiff = %g, want %g", d, tt.diff)
			}
		})
	}
}

// TestCasesData checks that every case parses into the module, that its
// data is deterministic and that the scan's A inputs are negative.
func TestCasesData(t *testing.T) {
	m, err := Module()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Cases {
		f := m.Func(c.Name)
		if f == nil {
			t.Fatalf("case %s: no function @%s", c.Name, c.Name)
		}
		w1, in1, err := c.Data(f)
		if err != nil {
			t.Fatal(err)
		}
		w2, in2, _ := c.Data(f)
		for i := range in1 {
			if string(in1[i].Data) != string(in2[i].Data) {
				t.Errorf("%s: input %d differs between calls", c.Name, i)
			}
		}
		for name, w := range w1 {
			if string(w.Data) != string(w2[name].Data) {
				t.Errorf("%s: weight %s differs between calls", c.Name, name)
			}
			if name[:min(3, len(name))] == "neg" {
				for _, x := range w.Float64s() {
					if x >= 0 {
						t.Fatalf("%s: weight %s has %g, want negative values", c.Name, name, x)
					}
				}
			}
		}
	}
}

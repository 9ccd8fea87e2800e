package cuda

import (
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestSizeEval(t *testing.T) {
	env := map[string]int64{"B": 3, "L": 37, "Huge": 1 << 40}
	tests := []struct {
		name string
		dims []ir.Dim // summed
		want int64
		err  string
	}{
		{name: "static", dims: []ir.Dim{ir.StaticDim(64)}, want: 64},
		{name: "product", dims: []ir.Dim{ir.SymDim("B*L")}, want: 111},
		{name: "affine", dims: []ir.Dim{{K: 64, S: "L", Off: 192}}, want: 64*37 + 192},
		{name: "sum", dims: []ir.Dim{ir.SymDim("B"), {K: 2, S: "L", Off: -1}}, want: 3 + 73},
		{name: "unbound", dims: []ir.Dim{ir.SymDim("T")}, err: "unbound"},
		{name: "negative", dims: []ir.Dim{{K: 1, S: "B", Off: -5}}, err: "out of range"},
		{name: "overflow", dims: []ir.Dim{ir.SymDim("Huge*Huge")}, err: "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := constPoly(0)
			for _, d := range tt.dims {
				p = p.add(polyOf(d))
			}
			got, err := p.size().Eval(env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %d, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
			if back := polyFromSize(p.size()); !back.equal(p) {
				t.Errorf("%v does not convert back: %v", p.size(), back.size())
			}
		})
	}
}

func TestGridSize(t *testing.T) {
	l := Launch{Grid: [3]Extent{
		{Count: polyOf(ir.SymDim("B*L")).size(), Per: 64},
		{Count: constPoly(3072).size(), Per: 64},
		{Count: constPoly(1).size(), Per: 1},
	}}
	got, err := l.GridSize(map[string]int64{"B": 2, "L": 100})
	if err != nil || got != [3]uint32{4, 48, 1} {
		t.Errorf("GridSize = %v, %v; want [4 48 1]", got, err)
	}
	l.Grid[1].Count = polyOf(ir.SymDim("L")).size()
	l.Grid[1].Per = 1
	if _, err := l.GridSize(map[string]int64{"B": 2, "L": 70000}); err == nil {
		t.Error("a grid y of 70000 blocks was accepted")
	}
}

// TestUnmarshalTable round-trips a generated table and checks that
// corrupt tables are refused with an error, never a panic.
func TestUnmarshalTable(t *testing.T) {
	prog := emulationProgram(t)
	good, err := MarshalTable(prog.Table)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalTable(good)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := MarshalTable(back); string(again) != string(good) {
		t.Error("the table does not round-trip through JSON")
	}
	tests := []struct {
		name   string
		mutate func(tb *Table)
		want   string
	}{
		{"version", func(tb *Table) { tb.Version = 99 }, "version"},
		{"kernel name", func(tb *Table) { tb.Kernels[0].Name = "x; system()" }, "bad name"},
		{"threads", func(tb *Table) { tb.Kernels[0].Threads = 4096 }, "threads"},
		{"kernel index", func(tb *Table) { tb.Functions[0].Launches[0].Kernel = len(tb.Kernels) }, "out of range"},
		{"block", func(tb *Table) { tb.Functions[0].Launches[0].Block = [3]int{1, 1, 1} }, "is not the"},
		{"divisor", func(tb *Table) { tb.Functions[0].Launches[0].Grid[0].Per = 0 }, "divisor"},
		{"argument", func(tb *Table) { tb.Functions[0].Launches[0].Args[0] = Arg{} }, "buffer or a size"},
		{"argument buffer", func(tb *Table) {
			b := len(tb.Functions[0].Buffers)
			tb.Functions[0].Launches[0].Args[0] = Arg{Buffer: &b}
		}, "out of range"},
		{"dtype", func(tb *Table) { tb.Functions[0].Buffers[0].DType = "f128" }, "dtype"},
		{"kind", func(tb *Table) { tb.Functions[0].Buffers[0].Kind = "mystery" }, "kind"},
		{"lifetime", func(tb *Table) { tb.Functions[0].Buffers[0].Last = 1 << 20 }, "lifetime"},
		{"result buffer", func(tb *Table) { tb.Functions[0].Results[0].Buffer = -1 }, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := UnmarshalTable(good)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(tb)
			b, err := MarshalTable(tb)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := UnmarshalTable(b); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "{", `{"version": 1, "surprise": true}`, "[1, 2]", strings.Repeat("[", 10000)} {
		if _, err := UnmarshalTable([]byte(bad)); err == nil {
			t.Errorf("UnmarshalTable(%.20q) succeeded", bad)
		}
	}
}

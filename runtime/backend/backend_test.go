package backend

import (
	"context"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

func TestRegistry(t *testing.T) {
	b, err := Get("cpu")
	if err != nil || b.Name() != "cpu" {
		t.Fatalf("Get(cpu) = %v, %v", b, err)
	}
	if ok, _ := b.Available(); !ok {
		t.Error("cpu unavailable")
	}
	if _, err := Get("tpu"); err == nil || !strings.Contains(err.Error(), "not built in") {
		t.Errorf("Get(tpu) = %v", err)
	}
	if names := Names(); len(names) == 0 || names[0] != "cpu" && !strings.Contains(strings.Join(names, ","), "cpu") {
		t.Errorf("Names() = %v", names)
	}
}

func TestCPUBackendRuns(t *testing.T) {
	m, err := ir.Parse("t.ir", "func @f(%x: f32[B,2]) -> (f32[B,2]) {\n  %1 = Neg(%x) : f32[B,2]\n  return %1\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	p, err := CPU{}.Compile(m.Funcs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := p.Instantiate(map[string]int64{"B": 1})
	if err != nil {
		t.Fatal(err)
	}
	in := &cpu.Tensor{DType: ir.F32, Shape: []int{1, 2}, F32: []float32{1, -2}}
	out, err := inst.Run(context.Background(), []*cpu.Tensor{in}, nil)
	if err != nil || out[0].F32[0] != -1 || out[0].F32[1] != 2 {
		t.Errorf("Run = %v, %v", out, err)
	}
	if inst.PeakBytes() != 8 || len(p.Describe().Steps) != 1 {
		t.Errorf("PeakBytes %d, plan %+v", inst.PeakBytes(), p.Describe())
	}
}

package cpu

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	m := mustParse(t, "func @f(%x: f32[B,4]) -> (f32[B,4]) {\n  %1 = Exp(%x) : f32[B,4]\n  %2 = Neg(%1) : f32[B,4]\n  %3 = Add(%2, %x) : f32[B,4]\n  return %3\n}\n")
	p, err := Compile(m.Funcs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Describe()
	if len(d.Steps) != 3 || d.Steps[0].Op != "Exp" || d.Steps[1].InPlace != 0 {
		t.Errorf("plan = %+v", d)
	}
	if d.Slots[d.Results[0]].Kind != "result" || d.Slots[d.Args[0]].Shape != "[B,4]" {
		t.Errorf("slots = %+v", d.Slots)
	}
	b, _ := json.Marshal(d)
	var back PlanDesc
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("plan does not round-trip through JSON: %v", err)
	}
	if s := d.Summary(); !strings.Contains(s, "3 kernel calls") || !strings.Contains(s, "1 in place") {
		t.Errorf("summary %q", s)
	}
}

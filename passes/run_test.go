package passes

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestCheckPipeline(t *testing.T) {
	nop := func(*Context, *ir.Func) error { return nil }
	tests := []struct {
		name string
		pipe []Pass
		cons []Constraint
		want string
	}{
		{"ok", []Pass{{Name: "a", Fn: nop}, {Name: "b", Fn: nop}}, []Constraint{{"a", "b"}}, ""},
		{"order", []Pass{{Name: "b", Fn: nop}, {Name: "a", Fn: nop}}, []Constraint{{"a", "b"}}, "pass a must run before b"},
		{"dup", []Pass{{Name: "a", Fn: nop}, {Name: "a", Fn: nop}}, nil, "listed twice"},
		{"unknown", []Pass{{Name: "a", Fn: nop}}, []Constraint{{"a", "zz"}}, "unknown pass"},
		{"nofn", []Pass{{Name: "a"}}, nil, "no function"},
	}
	for _, tt := range tests {
		err := checkPipeline(tt.pipe, tt.cons)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := checkPipeline(Pipeline, Constraints); err != nil {
		t.Errorf("the real pipeline: %v", err)
	}
}

const sample = `func @main(%x: f32[B,4], %y: f32[B,4]) -> (f32[B,4]) {
  %2 = Mul(%x, %y) : f32[B,4]
  %3 = Exp(%x) : f32[B,4]
  %4 = Mul(%y, %x) : f32[B,4]
  %5 = Add(%2, %4) : f32[B,4]
  return %5
}
`

func parse(t *testing.T, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse("test.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPipelineRemovesDeadAndDuplicate is the foundation's acceptance check:
// a dead value and a duplicated expression both disappear.
func TestPipelineRemovesDeadAndDuplicate(t *testing.T) {
	m := parse(t, sample)
	rep, err := Run(m, Options{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `func @main(%x: f32[B,4], %y: f32[B,4]) -> (f32[B,4]) {
  %2 = Mul(%x, %y) : f32[B,4]
  %3 = Add(%2, %2) : f32[B,4]
  return %3
}
`
	if got := ir.Print(m); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(rep.Passes) != len(Pipeline) {
		t.Errorf("report has %d passes, pipeline %d", len(rep.Passes), len(Pipeline))
	}
	last := rep.Passes[len(rep.Passes)-1]
	if last.Name != "dce" || last.OpsBefore != 4 || last.OpsAfter != 2 || last.Counters["removed"] != 2 {
		t.Errorf("dce report = %+v", last)
	}
	if !strings.Contains(rep.String(), "merged=1") {
		t.Errorf("report does not show the CSE merge:\n%v", rep)
	}
}

func TestPanicNamesPass(t *testing.T) {
	m := parse(t, sample)
	boom := Pass{Name: "boom", Fn: func(*Context, *ir.Func) error { panic("kaput") }}
	_, err := RunPasses(m, []Pass{boom}, Options{})
	if err == nil || !strings.Contains(err.Error(), "pass boom panicked on @main: kaput") {
		t.Errorf("got %v", err)
	}
}

func TestVerifyAfterEachPass(t *testing.T) {
	m := parse(t, sample)
	breaker := Pass{Name: "breaker", Fn: func(c *Context, f *ir.Func) error {
		f.Body[0].Type = ir.TensorType(ir.F16, f.Body[0].Type.Shape)
		return nil
	}}
	_, err := RunPasses(m, []Pass{breaker}, Options{Verify: true})
	if err == nil || !strings.Contains(err.Error(), "after pass breaker") || !strings.Contains(err.Error(), "%2 = Mul") {
		t.Errorf("got %v", err)
	}
	// Without Verify the broken IR goes through unnoticed.
	m = parse(t, sample)
	if _, err := RunPasses(m, []Pass{breaker}, Options{}); err != nil {
		t.Errorf("without Verify: %v", err)
	}
}

func TestDump(t *testing.T) {
	dir := t.TempDir()
	m := parse(t, sample)
	if _, err := Run(m, Options{DumpDir: dir, DumpAfter: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ir"))
	if len(files) != len(Pipeline) {
		t.Fatalf("%d dumps, want %d: %v", len(files), len(Pipeline), files)
	}
	for _, f := range files {
		src, _ := os.ReadFile(f)
		if _, err := ir.Parse(f, string(src)); err != nil {
			t.Errorf("dump %s: %v", f, err)
		}
	}
	if want := fmt.Sprintf("%02d-%s.ir", len(Pipeline), Pipeline[len(Pipeline)-1].Name); filepath.Base(files[len(files)-1]) != want {
		t.Errorf("last dump is %s", files[len(files)-1])
	}
}

func TestRunOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{Disable: []string{"dce"}}, "required"},
		{Options{Disable: []string{"nope"}}, `unknown pass "nope"`},
		{Options{DumpAfter: []string{"nope"}}, "unknown pass"},
	} {
		_, err := Run(parse(t, sample), tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want %q", tt.opts, err, tt.want)
		}
	}
	bad := parse(t, "func @f(%x: f32[2]) -> (f32[3]) {\n  %1 = Neg(%x) : f32[3]\n  return %1\n}\n")
	if _, err := Run(bad, Options{Verify: true}); err == nil || !strings.Contains(err.Error(), "input IR") {
		t.Errorf("invalid input: got %v", err)
	}
}

func TestParseDebug(t *testing.T) {
	tests := []struct {
		in   string
		want Options
		err  string
	}{
		{"", Options{}, ""},
		{"check", Options{Verify: true}, ""},
		{"dump=all,dumpdir=/tmp/x", Options{DumpAfter: []string{"all"}, DumpDir: "/tmp/x"}, ""},
		{"dump=cse", Options{DumpAfter: []string{"cse"}, DumpDir: "ssmc-dump"}, ""},
		{"rules/stats,time,disable=cse", Options{RuleStats: true, Time: true, Disable: []string{"cse"}}, ""},
		{"check=1", Options{}, "unknown -d setting"},
		{"bogus", Options{}, "unknown -d setting"},
	}
	for _, tt := range tests {
		got, err := ParseDebug(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDebug(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDebug(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestRuleTable(t *testing.T) {
	names := map[string]bool{}
	for _, r := range Rules {
		if names[r.Name] || r.Match == nil || r.Rewrite == nil || r.Doc == "" {
			t.Errorf("rule %q is duplicated or incomplete", r.Name)
		}
		names[r.Name] = true
	}
}

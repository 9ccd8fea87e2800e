package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantO   string
		wantR   bool
		wantErr string
	}{
		{args: nil, wantPos: nil},
		{args: []string{"in.ir", "-o", "out.ir"}, wantPos: []string{"in.ir"}, wantO: "out.ir"},
		{args: []string{"-o", "out.ir", "in.ir"}, wantPos: []string{"in.ir"}, wantO: "out.ir"},
		{args: []string{"a", "--report", "b", "-o=-"}, wantPos: []string{"a", "b"}, wantO: "-", wantR: true},
		{args: []string{"a", "--", "-o", "b"}, wantPos: []string{"a", "-o", "b"}},
		{args: []string{"-", "-o", "x"}, wantPos: []string{"-"}, wantO: "x"},
		{args: []string{"a", "-nosuch"}, wantErr: "not defined: -nosuch"},
		{args: []string{"a", "-o"}, wantErr: "needs an argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := newFlagSet("test")
			o := fs.String("o", "", "")
			r := fs.Bool("report", false, "")
			pos, err := parseFlags(fs, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tt.wantPos) || *o != tt.wantO || *r != tt.wantR {
				t.Errorf("pos %q o %q report %v, want %q %q %v", pos, *o, *r, tt.wantPos, tt.wantO, tt.wantR)
			}
		})
	}
}

// TestExitStatuses drives run with a table of test commands, including one
// that panics.
func TestExitStatuses(t *testing.T) {
	t.Setenv("SSMC_TRACEBACK", "")
	mk := func(name string, fn func(c *ctx, args []string) error) *command {
		return &command{name: name, args: "ARGS", short: name, long: name,
			define: func(*flag.FlagSet) func(*ctx, []string) error { return fn }}
	}
	cmds := []*command{
		mk("ok", func(c *ctx, _ []string) error { fmt.Fprintln(c.stdout, "fine"); return nil }),
		mk("fail", func(*ctx, []string) error { return errors.New("bad input") }),
		mk("usage", func(*ctx, []string) error { return usagef("missing FILE") }),
		mk("reported", func(c *ctx, _ []string) error { fmt.Fprintln(c.stderr, "x.ir:1:2: oops"); return errReported }),
		mk("boom", func(*ctx, []string) error { panic("kaboom") }),
		mk("stack", func(*ctx, []string) error { return errors.New("pass x panicked\ngoroutine 1 [running]:\nmain.f()") }),
		helpCmd,
	}
	tests := []struct {
		args       []string
		code       int
		wantOut    string
		wantErr    string
		notWantErr string
	}{
		{[]string{"ok"}, ExitOK, "fine", "", ""},
		{[]string{"fail"}, ExitError, "", "ssmc: bad input", ""},
		{[]string{"usage"}, ExitUsage, "", "ssmc usage: missing FILE\nusage: ssmc usage ARGS", ""},
		{[]string{"reported"}, ExitError, "", "x.ir:1:2: oops", "ssmc:"},
		{[]string{"boom"}, ExitError, "", "ssmc: internal error: kaboom", "goroutine"},
		{[]string{"stack"}, ExitError, "", "ssmc: pass x panicked\n(stack trace omitted", "goroutine"},
		{[]string{"nosuch"}, ExitUsage, "", `unknown command "nosuch"`, ""},
		{[]string{"ok", "-zz"}, ExitUsage, "", "flag provided but not defined: -zz", ""},
		{[]string{"ok", "-h"}, ExitOK, "usage: ssmc ok ARGS", "", ""},
		{[]string{"help", "fail"}, ExitOK, "usage: ssmc fail ARGS", "", ""},
		{[]string{"help", "nope"}, ExitUsage, "", `ssmc help: unknown command "nope"`, ""},
		{[]string{"--help"}, ExitOK, "Commands:", "", ""},
		{nil, ExitUsage, "", "Commands:", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(cmds, tt.args, strings.NewReader(""), &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.wantErr)
			}
			if tt.notWantErr != "" && strings.Contains(errb.String(), tt.notWantErr) {
				t.Errorf("stderr %q contains %q", errb.String(), tt.notWantErr)
			}
		})
	}
}

func TestLoadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.ir", "func @f(%x: f32[2]) -> (f32[2]) {\n  %1 = Exp(%x) : f32[2]\n  return %1\n}\n")
	upper := write("UPPER.IR", "func @f(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n")
	bad := write("bad.ir", "func @f(\n")
	onnx := write("m.onnx", "")
	st := write("model.safetensors", "")
	txt := write("notes.txt", "")
	ckpt := filepath.Join(dir, "ckpt")
	if err := os.Mkdir(ckpt, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		wantErr string // "" for success
	}{
		{good, ""},
		{upper, ""},
		{bad, "bad.ir:2:1: "},
		{onnx, "onnx: " + onnx + ": IR version 0 is not supported"}, // an empty file is an empty ModelProto
		{st, "unsupported input kind: " + st + ": safetensors checkpoint"},
		{ckpt, "unsupported input kind: " + ckpt + ": checkpoint directory"},
		{txt, "unsupported input kind: " + txt},
		{filepath.Join(dir, "missing.ir"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			m, err := loadInput(tt.path)
			if tt.wantErr == "" {
				if err != nil || m == nil || len(m.Funcs) != 1 {
					t.Fatalf("got %v, %v", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	perr := &ir.ParseError{Pos: ir.Pos{File: "a.ir", Line: 3, Col: 7}, Msg: "expected"}
	vpos := &ir.VerifyError{Func: "f", Msg: "no results"}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"parse", perr, []string{"a.ir:3:7: expected"}},
		{"func-level", vpos, []string{"a.ir: @f: no results"}},
		{"joined", errors.Join(errors.Join(perr, vpos), errors.New("x\ny")),
			[]string{"a.ir:3:7: expected", "a.ir: @f: no results", "a.ir: x", "a.ir: y"}},
	}
	for _, tt := range tests {
		if got := diagnostics("a.ir", tt.err); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.ir")
	if err := writeFileAtomic(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "two" {
		t.Fatalf("read %q, %v", data, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the file's own 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := writeFileAtomic(filepath.Join(dir, "no/such/dir/x.ir"), []byte("x"), 0o644); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

// TestFlagNames checks that every flag of every op has a name in
// opFlagNames (a new flag in package ir must be added there).
func TestFlagNames(t *testing.T) {
	if got := flagNames(ir.Fused | ir.Stateful); got != "Fused, Stateful" {
		t.Errorf("flagNames(Fused|Stateful) = %q", got)
	}
	if got := flagNames(1 << 30); got != "0x40000000" {
		t.Errorf("flagNames(1<<30) = %q", got)
	}
	for _, op := range ir.Ops() {
		if s := flagNames(op.Info().Flags); strings.Contains(s, "0x") {
			t.Errorf("op %s has an unnamed flag: %s", op, s)
		}
	}
}

// TestDemo runs the demo: deterministic for a seed, different across
// seeds, the CPU backend within tolerance of the reference interpreter.
func TestDemo(t *testing.T) {
	run := func(seed uint64) (*demoResult, string) {
		var out bytes.Buffer
		res, err := demo(&out, "Hello world", 12, seed)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		return res, out.String()
	}
	a, out := run(1)
	b, _ := run(1)
	c, _ := run(2)
	if !slices.Equal(a.tokens, b.tokens) {
		t.Errorf("two runs with seed 1 differ: %v vs %v", a.tokens, b.tokens)
	}
	if slices.Equal(a.tokens, c.tokens) {
		t.Errorf("seeds 1 and 2 give the same tokens %v", a.tokens)
	}
	if len(a.tokens) != 12 || a.maxDiff > demoTolerance {
		t.Errorf("%d tokens, max diff %g", len(a.tokens), a.maxDiff)
	}
	for _, want := range []string{"pass ", "tiny.ssmc", "check: CPU backend", "tokens/s", "Hello world"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestMaxRelDiff(t *testing.T) {
	f := func(xs ...float64) *ir.Tensor { return ir.TensorFromFloat64s(ir.F64, []int64{int64(len(xs))}, xs) }
	nan := func() float64 { z := 0.0; return z / z }()
	tests := []struct {
		name    string
		a, b    *ir.Tensor
		want    float64
		wantErr bool
	}{
		{"equal", f(1, 2), f(1, 2), 0, false},
		{"small", f(0.5), f(0.25), 0.25, false},
		{"relative", f(100), f(101), 1.0 / 101, false},
		{"shape", f(1), f(1, 2), 0, true},
		{"nan", f(nan), f(nan), 0, true},
	}
	for _, tt := range tests {
		got, err := maxRelDiff(tt.a, tt.b)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v, err %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

package artifact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

const modelIR = `func @f(%x: f32[B,4]) -> (f32[B,3]) {
  %1 = Param() {name = "w"} : bf16[3,4]
  %2 = MatMul(%x, %1) {transpose_b = true} : f32[B,3]
  %3 = Param() {name = "b"} : f32[3]
  %4 = Add(%2, %3) : f32[B,3]
  return %4
}
`

func testModule(t *testing.T) *ir.Module {
	t.Helper()
	m, err := ir.Parse("t.ir", modelIR)
	if err != nil {
		t.Fatal(err)
	}
	m.Weights = map[string]*ir.Tensor{
		"w":      ir.TensorFromFloat64s(ir.BF16, []int64{3, 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
		"b":      ir.TensorFromFloat64s(ir.F32, []int64{3}, []float64{0.5, -1, 2}),
		"unused": ir.TensorFromFloat64s(ir.F32, []int64{1000}, make([]float64, 1000)),
	}
	return m
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.ssmc")
	m := testModule(t)
	meta := Meta{Producer: "test", Source: "t.ir", Dtype: "bf16"}
	if err := Save(path, m, meta, Section{Name: "extra", Data: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Meta.Producer != "test" || got.Meta.Dtype != "bf16" {
		t.Errorf("meta = %+v", got.Meta)
	}
	if ir.Print(got.Module) != ir.Print(m) {
		t.Errorf("IR differs:\n%s", ir.Print(got.Module))
	}
	if len(got.Module.Weights) != 2 || got.Module.Weights["unused"] != nil {
		t.Errorf("weights = %v (unused weights must not be saved)", len(got.Module.Weights))
	}
	for name, w := range got.Module.Weights {
		if !w.Equal(m.Weights[name]) {
			t.Errorf("weight %s differs", name)
		}
		if got.File.m.Mapped() && len(w.Data) > 0 {
			base := &got.File.m.Bytes()[0]
			off := uintptr(unsafePointer(&w.Data[0])) - uintptr(unsafePointer(base))
			if off%64 != 0 {
				t.Errorf("weight %s at offset %d, not 64-byte aligned", name, off)
			}
		}
	}
	if b, ok := got.File.Section("extra"); !ok || string(b) != "hello" {
		t.Errorf("extra section = %q, %v", b, ok)
	}
	if err := got.File.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestSaveDeterministicAndAtomic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ssmc"), filepath.Join(dir, "b.ssmc")
	for _, p := range []string{a, b} {
		if err := Save(p, testModule(t), Meta{Producer: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Error("two saves of the same module differ")
	}
	// A failing section writer leaves neither the target nor a temp file.
	fail := filepath.Join(dir, "fail.ssmc")
	err := WriteFile(fail, []Section{{Name: "x", Len: 10, Write: func(w io.Writer) error { return errors.New("disk full") }}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("failed write left files behind: %v", entries)
	}
	// Overwriting keeps the old file intact until the rename.
	if err := WriteFile(a, []Section{{Name: "x", Len: 10, Write: func(w io.Writer) error { return errors.New("boom") }}}); err == nil {
		t.Fatal("no error")
	}
	if now, _ := os.ReadFile(a); !bytes.Equal(now, ba) {
		t.Error("failed overwrite damaged the existing file")
	}
}

func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ssmc")
	if err := Save(good, testModule(t), Meta{Producer: "x"}); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(good)
	irOff := func(b []byte) int { // offset of the "ir" section's bytes
		f, err := parse("x", b)
		if err != nil {
			t.Fatal(err)
		}
		return int(f.sections["ir"].offset)
	}(orig)
	wOff := func(b []byte) int {
		f, _ := parse("x", b)
		return int(f.sections[WeightsName].offset)
	}(orig)
	tests := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"empty", func(b []byte) []byte { return nil }, "bad magic"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		{"version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 99); return b }, "format version 99, this ssmc reads version 1; recompile"},
		{"count", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<30); return b }, "corrupt section table"},
		{"table crc", func(b []byte) []byte { b[headerSize+30]++; return b }, "section table checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, "lies outside the file"},
		{"ir bytes", func(b []byte) []byte { b[irOff+3] ^= 1; return b }, "section ir checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".ssmc")
			os.WriteFile(p, tt.edit(bytes.Clone(orig)), 0o644)
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("got %v, want an error naming the file and %q", err, tt.want)
			}
			if tt.name == "version" && !errors.Is(err, ErrVersion) {
				t.Errorf("version error does not wrap ErrVersion")
			}
		})
	}
	// Weight corruption is found by Verify, not at load.
	b := bytes.Clone(orig)
	b[wOff+1] ^= 0x40
	p := filepath.Join(dir, "weights.ssmc")
	os.WriteFile(p, b, 0o644)
	m, err := Load(p)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer m.Close()
	if err := m.File.Verify(); err == nil || !strings.Contains(err.Error(), "section weights checksum mismatch") {
		t.Errorf("Verify = %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.ssmc")
	m, _ := ir.Parse("t.ir", modelIR)
	m.Weights = map[string]*ir.Tensor{
		"w": ir.TensorFromFloat64s(ir.BF16, []int64{3, 4}, make([]float64, 12)),
		"b": ir.TensorFromFloat64s(ir.F32, []int64{3}, []float64{1, 2, 3}),
	}
	if err := Save(p, m, Meta{}); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		f, err := parse("fuzz", b)
		if err != nil {
			return
		}
		_, _ = load(f)
	})
}

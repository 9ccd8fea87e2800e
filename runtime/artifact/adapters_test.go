package artifact

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

const loraIR = `func @f(%x: f32[B,4]) -> (f32[B,3]) {
  %1 = Param() {name = "w"} : f32[3,4]
  %2 = Param() {name = "w.lora.0.A"} : f32[2,4]
  %3 = Param() {name = "w.lora.0.B"} : f32[3,2]
  %4 = LoRAMatMul(%x, %1, %2, %3) {scale = 0.5, transpose_b = true} : f32[B,3]
  return %4
}
`

// TestAdapterSection: LoRA factors go to the "adapters" section, not the
// base weights, and load back bound like them; a damaged adapters
// section or index is refused naming the section.
func TestAdapterSection(t *testing.T) {
	m, err := ir.Parse("t.ir", loraIR)
	if err != nil {
		t.Fatal(err)
	}
	m.Weights = map[string]*ir.Tensor{
		"w":          ir.TensorFromFloat64s(ir.F32, []int64{3, 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
		"w.lora.0.A": ir.TensorFromFloat64s(ir.F32, []int64{2, 4}, []float64{1, 0, 0, 1, 0, 1, 1, 0}),
		"w.lora.0.B": ir.TensorFromFloat64s(ir.F32, []int64{3, 2}, []float64{0.25, 0.5, 0.75, 1, 1.25, 1.5}),
	}
	path := filepath.Join(t.TempDir(), "m.ssmc")
	if err := Save(path, m, Meta{Producer: "test"}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Weights) != 1 || got.Weights[0].Name != "w" || len(got.Adapters) != 2 {
		t.Errorf("base %v, adapters %v", got.Weights, got.Adapters)
	}
	for name, w := range m.Weights {
		if !got.Module.Weights[name].Equal(w) {
			t.Errorf("weight %s differs", name)
		}
	}
	if err := got.File.Verify(); err != nil {
		t.Error(err)
	}
	got.Close()

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"adapter data flipped", func(b []byte) []byte {
			i := bytes.LastIndex(b, m.Weights["w.lora.0.B"].Data[:4])
			b[i] ^= 0x40
			return b
		}, "adapters checksum mismatch"},
		{"adapter index lies", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"name":"w.lora.0.B","dtype":"f32","shape":[3,2]`))
			copy(b[i:], []byte(`"name":"w.lora.0.B","dtype":"f32","shape":[3,9]`))
			return b
		}, "adapters.index checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)*3/4] }, "outside the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.ssmc")
			if err := os.WriteFile(p, tc.edit(bytes.Clone(data)), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Load(p)
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name %q and the file", err, tc.want)
			}
		})
	}
}

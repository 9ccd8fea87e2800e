package safetensors

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkOpen measures opening and validating a checkpoint shaped like a
// small model: 400 tensors, 4 MiB of data.
func BenchmarkOpen(b *testing.B) {
	var ts []WriteTensor
	for i := 0; i < 400; i++ {
		ts = append(ts, WriteTensor{
			Name:  fmt.Sprintf("backbone.layers.%d.mixer.w%d.weight", i/10, i%10),
			DType: F32, Shape: []int64{16, 160}, Data: make([]byte, 16*160*4),
		})
	}
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	if err := Write(path, ts, map[string]string{"format": "pt"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkFloat32sBF16 measures bfloat16 to float32 conversion.
func BenchmarkFloat32sBF16(b *testing.B) {
	const n = 1 << 16
	path := filepath.Join(b.TempDir(), "bf16.safetensors")
	if err := Write(path, []WriteTensor{{Name: "w", DType: BF16, Shape: []int64{n}, Data: make([]byte, 2*n)}}, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(2 * n)
	for b.Loop() {
		if _, err := f.Float32s("w"); err != nil {
			b.Fatal(err)
		}
	}
}

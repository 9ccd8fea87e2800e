package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteErrors(t *testing.T) {
	good := WriteTensor{Name: "good", DType: F32, Shape: []int64{1}, Data: le32(1)}
	tests := []struct {
		name    string
		tensors []WriteTensor
		meta    map[string]string
		want    []string
	}{
		{"size mismatch", []WriteTensor{good, {Name: "w", DType: F32, Shape: []int64{2}, Data: le32(1)}}, nil,
			[]string{`tensor "w"`, "data is 4 bytes", "needs 8"}},
		{"unknown dtype", []WriteTensor{{Name: "w", DType: "F8", Shape: []int64{1}, Data: []byte{1}}}, nil,
			[]string{`tensor "w": dtype`, `"F8"`}},
		{"negative dim", []WriteTensor{{Name: "w", DType: I8, Shape: []int64{-1}}}, nil,
			[]string{`tensor "w": shape`, "negative"}},
		{"overflow", []WriteTensor{{Name: "w", DType: I8, Shape: []int64{1 << 62, 4}}}, nil,
			[]string{`tensor "w": shape`, "overflows"}},
		{"duplicate name", []WriteTensor{good, good}, nil, []string{`tensor "good"`, "duplicate"}},
		{"empty name", []WriteTensor{{Name: "", DType: I8, Shape: []int64{0}}}, nil, []string{`tensor ""`, "empty"}},
		{"reserved name", []WriteTensor{{Name: metadataKey, DType: I8, Shape: []int64{0}}}, nil, []string{`tensor "__metadata__"`, "reserved"}},
		{"invalid UTF-8 name", []WriteTensor{{Name: "a\xff", DType: I8, Shape: []int64{0}}}, nil, []string{`tensor "a\xff"`, "UTF-8"}},
		{"invalid UTF-8 metadata", []WriteTensor{good}, map[string]string{"k": "\xff"}, []string{`__metadata__`, `"k"`, "UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			err := Write(path, tt.tensors, tt.meta)
			if err == nil {
				t.Fatal("Write succeeded")
			}
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("failed Write left %d files behind", len(ents))
			}
			if err := Encode(&bytes.Buffer{}, tt.tensors, tt.meta); err == nil {
				t.Error("Encode succeeded")
			}
		})
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(path, []byte("old contents"), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path) // a reader holding the old file keeps seeing it
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	ts := []WriteTensor{{Name: "x", DType: I32, Shape: []int64{2}, Data: le32(5, 6)}}
	if err := Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := old.ReadAt(buf, 0); err != nil || string(buf) != "old contents" {
		t.Errorf("old file changed in place: %q, %v", buf, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory has %d entries, want 1 (temp file left?)", len(ents))
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("stat = %v, %v; want mode 0644", st, err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := f.Bytes("x"); !bytes.Equal(b, le32(5, 6)) {
		t.Errorf("Bytes = %v", b)
	}
	if err := Write(filepath.Join(dir, "missing-dir", "m.safetensors"), ts, nil); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

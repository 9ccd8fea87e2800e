package mmap

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello")},
		{"page", bytes.Repeat([]byte{7}, 3*4096+5)},
	} {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Bytes(), tt.data) {
			t.Errorf("%s: contents differ", tt.name)
		}
		if err := m.Close(); err != nil {
			t.Errorf("%s: close: %v", tt.name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file opened")
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory opened")
	}
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package safetensors

import "testing"

// TestOpenMaps checks that Open really maps the file on unix rather than
// silently taking the read fallback.
func TestOpenMaps(t *testing.T) {
	path := writeTemp(t, t.TempDir(), "m.safetensors", rawFile(`{}`, 0))
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.mapping == nil || !f.mapping.Mapped() {
		t.Error("Open fell back to reading the file")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

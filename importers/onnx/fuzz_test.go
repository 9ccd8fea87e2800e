package onnx

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// allocBound is the most a file of n bytes may make the importer
// allocate: proportional to the file (see Limits) plus a constant.
func allocBound(n int) uint64 { return 64<<20 + 8<<10*uint64(n) }

// FuzzLoad feeds arbitrary bytes to the importer: it never panics (not
// even one it recovers from), reports every problem as a one-line error, allocates at most
// allocBound(len(data)), and whatever it accepts verifies and prints as
// IR text that parses back.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/seed/*.onnx")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed corpus: %v", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := LoadBytes(data)
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > allocBound(len(data)) {
			t.Fatalf("a %d-byte file made the importer allocate %d bytes", len(data), grown)
		}
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "onnx: ") {
				t.Fatalf("error is not one line starting with onnx: %q", msg)
			}
			if msg := err.Error(); strings.Contains(msg, "internal error") {
				t.Fatalf("a recovered panic or inconsistency: %s", msg)
			}
			return
		}
		if err := ir.Verify(m); err != nil {
			t.Fatalf("the imported module does not verify: %v", err)
		}
		text := ir.Print(m)
		if _, err := ir.Parse("fuzz.ir", text); err != nil {
			t.Fatalf("printed IR does not parse: %v\n%s", err, text)
		}
	})
}

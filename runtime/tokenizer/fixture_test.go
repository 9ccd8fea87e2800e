package tokenizer_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/ssmc-dev/ssmc/runtime/tokenizer/internal/gen"
)

var update = flag.Bool("update", false, "rewrite testdata/tiny-bpe.json from internal/gen")

const tinyPath = "testdata/tiny-bpe.json"

// TestFixtureUpToDate checks that the committed fixture is what the
// generator produces; run with -update to rewrite it.
func TestFixtureUpToDate(t *testing.T) {
	want, err := gen.TinyJSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(tinyPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(tinyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./runtime/tokenizer -run TestFixtureUpToDate -update", tinyPath)
	}
}

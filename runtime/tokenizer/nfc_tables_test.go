package tokenizer_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/ssmc-dev/ssmc/runtime/tokenizer/internal/gen"
)

// ucdDir holds the Unicode Character Database (Debian package unicode-data).
const ucdDir = "/usr/share/unicode/"

// TestNFCTablesUpToDate regenerates nfc_tables.go from the Unicode
// Character Database when it is installed; run with -update to rewrite it.
func TestNFCTablesUpToDate(t *testing.T) {
	ud, err := os.Open(ucdDir + "UnicodeData.txt")
	if err != nil {
		t.Skipf("Unicode Character Database not installed (apt-get install unicode-data): %v", err)
	}
	defer ud.Close()
	dn, err := os.Open(ucdDir + "DerivedNormalizationProps.txt")
	if err != nil {
		t.Skipf("Unicode Character Database not installed: %v", err)
	}
	defer dn.Close()
	da, err := os.Open(ucdDir + "DerivedAge.txt")
	if err != nil {
		t.Skipf("Unicode Character Database not installed: %v", err)
	}
	defer da.Close()
	want, err := gen.NFCTables(ud, dn, da)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("nfc_tables.go", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("nfc_tables.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("nfc_tables.go is stale: run go test ./runtime/tokenizer -run TestNFCTablesUpToDate -update")
	}
}

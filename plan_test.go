package ssmc

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// TestPlanSection: an artifact carries the CPU plans; loading checks them,
// and a file whose plan differs from this runtime's is refused.
func TestPlanSection(t *testing.T) {
	mod := buildTestModule(t, 11)
	sec, err := PlanSection(mod)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ssmc")
	if err := artifact.Save(good, mod, artifact.Meta{}, sec); err != nil {
		t.Fatal(err)
	}
	lm, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	lm.Close()
	bad := sec
	bad.Data = bytes.Replace(sec.Data, []byte(`"in_place":-1`), []byte(`"in_place":0`), 1)
	if bytes.Equal(bad.Data, sec.Data) {
		t.Fatal("no step to tamper with")
	}
	badPath := filepath.Join(dir, "bad.ssmc")
	if err := artifact.Save(badPath, mod, artifact.Meta{}, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(badPath, LoadOptions{Backend: "cpu"}); err == nil || !strings.Contains(err.Error(), "recompile the model") {
		t.Errorf("tampered plan: %v", err)
	}
}

func TestPlanMemory(t *testing.T) {
	mod := buildTestModule(t, 12)
	short, err := PlanMemory(mod, 16)
	if err != nil {
		t.Fatal(err)
	}
	long, err := PlanMemory(mod, 256)
	if err != nil {
		t.Fatal(err)
	}
	if short.DecodeBytes != long.DecodeBytes || short.DecodeBytes == 0 {
		t.Errorf("decode arena %d vs %d", short.DecodeBytes, long.DecodeBytes)
	}
	if long.PrefillBytes <= short.PrefillBytes || short.StateBytes != long.StateBytes {
		t.Errorf("prefill arenas %d, %d; state %d, %d", short.PrefillBytes, long.PrefillBytes, short.StateBytes, long.StateBytes)
	}
	if !strings.Contains(long.String(), "prefill L=256") {
		t.Errorf("report %q", long)
	}
}

package tests

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/cmd/ssmc/cli"
)

// TestAdapterFlag: the CLI side of swapping adapters at load time
// (ssmc_test's TestSwapAdapters checks the swap itself bit for bit). A
// fixture compiled with its adapter lists the adapter section's tensors
// in inspect, and run --adapter with that adapter reproduces the
// adapter's independent expected logits (mambaref, float64); a model
// compiled with -lora-mode merge refuses --adapter, saying why.
func TestAdapterFlag(t *testing.T) {
	dir := "testdata/fixtures/lora-f32-d16-emb"
	tmp := t.TempDir()
	adapted := filepath.Join(tmp, "adapted.ssmc")
	ssmcCmd(t, "compile", dir, "--lora", filepath.Join(dir, "adapter"), "-o", adapted)
	info := ssmcCmd(t, "inspect", adapted)
	if !strings.Contains(info, "backbone.layers.0.mixer.in_proj.weight.lora.0.A") {
		t.Errorf("inspect does not list the adapter section's tensors:\n%s", info)
	}
	var e struct {
		InputIDs [][]int `json:"input_ids"`
		Logits   struct {
			Data []float64 `json:"data"`
		} `json:"logits"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "adapter", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	ids := e.InputIDs[0]
	toks := strings.Trim(jsonInts(ids), "[]")
	out := filepath.Join(tmp, "logits.json")
	ssmcCmd(t, "run", adapted, "--backend", "cpu", "--tokens", toks, "--logits-out", out, "--adapter", filepath.Join(dir, "adapter"))
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Logits []float64 `json:"logits"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, g := range got.Logits {
		worst = math.Max(worst, math.Abs(g-e.Logits.Data[i]))
	}
	if len(got.Logits) != len(e.Logits.Data)/len(e.InputIDs) || worst > 1e-4 {
		t.Errorf("run --adapter: %d logits, max |diff| %g against the adapter's expected logits", len(got.Logits), worst)
	}

	merged := filepath.Join(tmp, "merged.ssmc")
	ssmcCmd(t, "compile", dir, "--lora", filepath.Join(dir, "adapter"), "-lora-mode", "merge", "-o", merged)
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"run", merged, "--tokens", "1,2", "--adapter", filepath.Join(dir, "adapter")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "compiled with -lora-mode merge") || strings.Contains(stderr.String(), "ssmc: ssmc:") {
		t.Errorf("run --adapter on a merged model: exit %d, %q", code, stderr.String())
	}
}

func jsonInts(v []int) string {
	b, _ := json.Marshal(v)
	return string(b)
}

package tests

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/cmd/ssmc/cli"
)

const referenceDir = "../../shared/reference/tiny-mamba"

func ssmcCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main(args, &out, &errb); code != 0 {
		t.Fatalf("ssmc %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// TestCheckpointEndToEnd: compile the shared reference checkpoint to an
// artifact, inspect it, and run it from the CLI; the logits it writes must
// match the reference's independent results.
func TestCheckpointEndToEnd(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(referenceDir, "reference.json"))
	if err != nil {
		t.Skipf("shared reference not available: %v", err)
	}
	var ref struct {
		Cases []struct {
			InputIDs struct{ Data []float64 } `json:"input_ids"`
			Logits   struct {
				Shape []int
				Data  []float64
			} `json:"logits"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	art := filepath.Join(dir, "tiny.ssmc")
	ssmcCmd(t, "compile", referenceDir, "-o", art)
	info := ssmcCmd(t, "inspect", art)
	for _, want := range []string{"(artifact)", "backbone.layers.1.mixer.in_proj.weight", "SelectiveScan", "SelectiveStateUpdate", "state per sequence: 19456 bytes"} {
		if !strings.Contains(info, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, info)
		}
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(ssmcCmd(t, "inspect", "--json", referenceDir)), &js); err != nil {
		t.Fatalf("inspect --json: %v", err)
	}
	c := ref.Cases[1] // b1_s64
	ids := make([]string, len(c.InputIDs.Data))
	for i, x := range c.InputIDs.Data {
		ids[i] = formatInt(x)
	}
	logitsFile := filepath.Join(dir, "logits.json")
	ssmcCmd(t, "run", art, "--tokens", strings.Join(ids, ","), "--logits-out", logitsFile)
	var got struct {
		Shape  []int     `json:"shape"`
		Logits []float64 `json:"logits"`
	}
	b, _ := os.ReadFile(logitsFile)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Logits) != len(c.Logits.Data) || got.Shape[0] != c.Logits.Shape[1] {
		t.Fatalf("logits shape %v, reference %v", got.Shape, c.Logits.Shape)
	}
	worst := 0.0
	for i := range got.Logits {
		worst = math.Max(worst, math.Abs(got.Logits[i]-c.Logits.Data[i]))
	}
	if worst > 1e-4 {
		t.Errorf("CLI logits differ from the reference by %g", worst)
	}
	gen := strings.TrimSpace(ssmcCmd(t, "run", art, "--tokens", "1,2,3", "-n", "5"))
	if n := len(strings.Split(gen, ",")); n != 5 {
		t.Errorf("run -n 5 printed %q", gen)
	}
	t.Logf("max abs diff through the CLI: %.3g", worst)
}

func formatInt(x float64) string {
	b, _ := json.Marshal(int64(x))
	return string(b)
}

// TestCompileDType: -dtype bf16 narrows the projection weights in the
// artifact, and the model still tracks the f32 reference closely.
func TestCompileDType(t *testing.T) {
	if _, err := os.Stat(filepath.Join(referenceDir, "reference.json")); err != nil {
		t.Skipf("shared reference not available: %v", err)
	}
	dir := t.TempDir()
	f32, bf16 := filepath.Join(dir, "f32.ssmc"), filepath.Join(dir, "bf16.ssmc")
	ssmcCmd(t, "compile", referenceDir, "-o", f32)
	ssmcCmd(t, "compile", referenceDir, "-o", bf16, "-dtype", "bf16")
	info := ssmcCmd(t, "inspect", bf16)
	if !regexp.MustCompile(`layers\.0\.mixer\.in_proj\.weight +bf16 `).MatchString(info) {
		t.Errorf("in_proj is not bf16 in the artifact:\n%s", info)
	}
	read := func(path string) []float64 {
		out := filepath.Join(dir, filepath.Base(path)+".json")
		ssmcCmd(t, "run", path, "--tokens", "5,17,200,3,99,4,18", "--logits-out", out)
		var got struct{ Logits []float64 }
		b, _ := os.ReadFile(out)
		json.Unmarshal(b, &got)
		return got.Logits
	}
	a, b := read(f32), read(bf16)
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(a[i]-b[i]))
	}
	if worst == 0 || worst > 5e-2 {
		t.Errorf("bf16 vs f32 logits differ by %g, want (0, 5e-2]", worst)
	}
	ssmcExit(t, 2, "compile", referenceDir, "-o", bf16, "-dtype", "fp8")
}

func ssmcExit(t *testing.T, want int, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main(args, &out, &errb); code != want {
		t.Errorf("ssmc %s: exit %d, want %d", strings.Join(args, " "), code, want)
	}
}

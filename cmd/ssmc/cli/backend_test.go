package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/runtime/cuda"
)

// TestBackendFlag runs `ssmc run` and `ssmc bench` on the tiny-mamba
// checkpoint with each --backend: both name the backend that runs; auto
// and cpu give the same tokens; cuda fails with the reason where CUDA is
// not available; an unknown name is a usage error.
func TestBackendFlag(t *testing.T) {
	ckpt := "../../../../shared/reference/tiny-mamba"
	if _, err := os.Stat(filepath.Join(ckpt, "config.json")); err != nil {
		t.Skipf("tiny-mamba checkpoint not available: %v", err)
	}
	model := filepath.Join(t.TempDir(), "tiny.ssmc")
	var out, errb bytes.Buffer
	if code := Main([]string{"compile", ckpt, "-o", model}, &out, &errb); code != ExitOK {
		t.Fatalf("compile: exit %d: %s", code, errb.String())
	}
	gpu, why := cuda.Available()
	want := "cpu"
	if gpu {
		want = "cuda"
	}
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	tests := []struct {
		backend    string
		code       int
		wantStderr string
	}{
		{"", ExitOK, "backend: " + want + " ("},
		{"auto", ExitOK, "backend: " + want + " ("},
		{"cpu", ExitOK, "backend: cpu (requested)"},
		{"tpu", ExitUsage, `--backend "tpu": want auto, cpu or cuda`},
	}
	if !gpu {
		tests = append(tests, struct {
			backend    string
			code       int
			wantStderr string
		}{"cuda", ExitError, why})
	}
	var tokens []string
	for _, tt := range tests {
		t.Run("run "+tt.backend, func(t *testing.T) {
			args := []string{"run", model, "--tokens", "1,2,3", "-n", "5"}
			if tt.backend != "" {
				args = append(args, "--backend", tt.backend)
			}
			code, stdout, stderr := runCLI(args...)
			if code != tt.code || !strings.Contains(stderr, tt.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.wantStderr)
			}
			if code == ExitOK {
				tokens = append(tokens, strings.TrimSpace(stdout))
			}
		})
	}
	for _, tk := range tokens {
		if tk != tokens[0] || strings.Count(tk, ",") != 4 {
			t.Errorf("generated %q, want the same 5 tokens on every backend (%q)", tokens, tokens[0])
		}
	}
	for _, b := range []string{"auto", "cpu"} {
		code, stdout, stderr := runCLI("bench", model, "--json", "--runs", "1", "--prefill", "4", "--decode-batch", "1", "--decode-steps", "2", "--backend", b)
		if code != ExitOK {
			t.Fatalf("bench --backend %s: exit %d: %s", b, code, stderr)
		}
		var res benchResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		if wantB := map[string]string{"auto": want, "cpu": "cpu"}[b]; res.Backend != wantB || res.BackendReason == "" {
			t.Errorf("bench --backend %s: backend %q (%q), want %q with a reason", b, res.Backend, res.BackendReason, wantB)
		}
	}
	if code, _, stderr := runCLI("bench", model, "--backend", "gpu"); code != ExitUsage || !strings.Contains(stderr, "want auto, cpu or cuda") {
		t.Errorf("bench --backend gpu: exit %d, %q", code, stderr)
	}
}

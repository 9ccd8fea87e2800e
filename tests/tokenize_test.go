package tests

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/cmd/ssmc/cli"
)

// TestTextCommands: a checkpoint with tokenizer.json compiles into an
// artifact that carries the tokenizer; tokenize and detokenize round-trip
// through it and run --prompt streams text.
func TestTextCommands(t *testing.T) {
	ckpt := "../cmd/ssmc/cli/demo/tiny"
	art := filepath.Join(t.TempDir(), "tiny.ssmc")
	ssmcCmd(t, "compile", ckpt, "-o", art)
	text := "Hello, wörld!  It's 2026\tnaïve 中文"
	var ids []int
	if err := json.Unmarshal([]byte(ssmcCmd(t, "tokenize", "--model", art, text)), &ids); err != nil {
		t.Fatal(err)
	}
	var fromFile []int
	json.Unmarshal([]byte(ssmcCmd(t, "tokenize", "--tokenizer", filepath.Join(ckpt, "tokenizer.json"), text)), &fromFile)
	if len(ids) == 0 || len(ids) != len(fromFile) {
		t.Fatalf("ids %v from the model, %v from the file", ids, fromFile)
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		b, _ := json.Marshal(id)
		strs[i] = string(b)
	}
	if back := ssmcCmd(t, "detokenize", "--model", art, strings.Join(strs, ",")); back != text {
		t.Errorf("detokenize(tokenize(%q)) = %q", text, back)
	}
	out := ssmcCmd(t, "run", art, "--prompt", "The quick", "-n", "8", "--temperature", "0.7", "--seed", "3")
	if !strings.HasPrefix(out, "The quick") || len(out) <= len("The quick\n") {
		t.Errorf("run --prompt printed %q", out)
	}
	// --stdin reads bytes exactly
	var o, e bytes.Buffer
	code := cli.MainWithStdin([]string{"tokenize", "--model", art, "--stdin"}, strings.NewReader(text), &o, &e)
	var viaStdin []int
	if code != 0 || json.Unmarshal(o.Bytes(), &viaStdin) != nil || len(viaStdin) != len(ids) {
		t.Errorf("tokenize --stdin: exit %d, %q, %s", code, o.String(), e.String())
	}
}

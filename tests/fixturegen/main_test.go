package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/internal/fixture"
)

// TestRunMatchesSpec checks that flags map onto the Spec fields: the
// command's output equals fixture.Generate's for the equivalent spec.
func TestRunMatchesSpec(t *testing.T) {
	tests := []struct {
		name string
		args []string
		spec fixture.Spec
	}{
		{
			name: "base",
			args: []string{"-seed", "5", "-d-model", "8", "-n-layer", "1", "-vocab", "20", "-d-state", "3", "-d-conv", "2", "-dtype", "bf16", "-tied=false", "-ids", "1,2;3,4"},
			spec: fixture.Spec{Seed: 5, DType: "bf16", DModel: 8, NLayer: 1, Vocab: 20, DState: 3, Expand: 2, DConv: 2, Eps: 1e-5,
				InputIDs: [][]int{{1, 2}, {3, 4}}},
		},
		{
			name: "lora",
			args: []string{"-seed", "6", "-d-model", "8", "-n-layer", "2", "-vocab", "16", "-d-state", "2", "-dt-rank", "2", "-batch", "1", "-seq", "3",
				"-lora-rank", "3", "-lora-alpha", "6", "-lora-targets", "in_proj,embeddings", "-lora-rank-pattern", "layers.0.mixer.in_proj=1", "-lora-rslora"},
			spec: fixture.Spec{Seed: 6, DType: "f32", DModel: 8, NLayer: 2, Vocab: 16, DState: 2, Expand: 2, DConv: 4, DtRank: 2, Eps: 1e-5,
				Tied: true, Batch: 1, SeqLen: 3, LoRA: &fixture.LoRASpec{Rank: 3, Alpha: 6, RSLoRA: true,
					Targets: []string{"in_proj", "embeddings"}, RankPattern: []fixture.RankRule{{Key: "layers.0.mixer.in_proj", Rank: 1}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := t.TempDir(), t.TempDir()
			if err := run(append([]string{"-out", got}, tt.args...), io.Discard); err != nil {
				t.Fatal(err)
			}
			if err := fixture.Generate(want, tt.spec); err != nil {
				t.Fatal(err)
			}
			n := 0
			err := filepath.Walk(want, func(p string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(want, p)
				a, err := os.ReadFile(filepath.Join(got, rel))
				if err != nil {
					return err
				}
				b, _ := os.ReadFile(p)
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs", rel)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 4 {
				t.Errorf("only %d files generated", n)
			}
		})
	}
}

// TestRunErrors checks that bad flags are reported, not panics.
func TestRunErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "-out is required"},
		{[]string{"-out", "x", "extra"}, "unexpected arguments"},
		{[]string{"-out", "x", "-ids", "1,a"}, `"a" is not an integer`},
		{[]string{"-out", "x", "-lora-rank-pattern", "x_proj=2"}, "needs -lora-rank"},
		{[]string{"-out", "x", "-lora-rank", "2", "-lora-rank-pattern", "x_proj"}, "not key=rank"},
		{[]string{"-out", "x", "-dtype", "f8"}, "dtype"},
		{[]string{"-out", "x", "-lora-rank", "2", "-lora-targets", "q_proj"}, "q_proj"},
		{[]string{"-no-such-flag"}, "not defined"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(tt.args, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// BenchmarkLoad measures Load of the reference checkpoint (config, mapping,
// validation, conversions and building both functions).
func BenchmarkLoad(b *testing.B) {
	if _, err := os.Stat(filepath.Join(refDir, "model.safetensors")); err != nil {
		b.Skip("reference data absent")
	}
	for _, opts := range []struct {
		name string
		o    Options
	}{{"fused", Options{}}, {"decomposed-64", Options{Decomposed: true, SeqLen: 64}}} {
		b.Run(opts.name, func(b *testing.B) {
			for b.Loop() {
				m, err := Load(refDir, opts.o)
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
	}
}

// TestDocExample checks that the prefill printed in doc.go is what Build
// emits for that one-layer bf16 model.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		body, ok := strings.CutPrefix(line, "//\t")
		switch {
		case ok && strings.HasPrefix(body, "func @prefill(%input_ids"):
			in = true
		case !ok:
			in = false
		}
		if in {
			doc = append(doc, body)
		}
	}
	cfg := configOf(Config{DModel: 4, DInner: 8, DState: 2, DConv: 4, DTRank: 1, NLayer: 1, VocabSize: 16, NormEps: 1e-5, ConvBias: true, TieEmbeddings: true})
	m, err := Build(cfg, randomWeights(cfg, 1, ir.BF16), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(ir.PrintFunc(m.Func("prefill")))
	if want := strings.Join(doc, "\n"); got != want {
		t.Errorf("doc.go example is stale; Build prints:\n%s\ndoc.go has:\n%s", got, want)
	}
}

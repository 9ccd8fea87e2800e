package onnx

import (
	"os"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/ir"
)

// TestExportMambaONNXFile writes a checkpoint as an ONNX model, for
// measuring ONNX Runtime on the same weights as ssmc (scripts/peers.sh).
// It runs only when asked:
//
//	SSMC_EXPORT_ONNX_DIR=/tmp/m130 SSMC_EXPORT_ONNX_OUT=/tmp/m130.onnx \
//	  go test ./importers/onnx -run TestExportMambaONNXFile
//
// The graph is the "Scan" export shape (one Scan per layer with the
// discretization in its body, opset 18; see mamba_export_test.go): input
// input_ids [batch, seq], outputs the logits of every position and the
// final SSM states; with SSMC_EXPORT_ONNX_SHAPE=decode, one decoding step
// with the stacked states as inputs and outputs (opset 18). The
// checkpoint must be f32.
func TestExportMambaONNXFile(t *testing.T) {
	dir, out := os.Getenv("SSMC_EXPORT_ONNX_DIR"), os.Getenv("SSMC_EXPORT_ONNX_OUT")
	if dir == "" || out == "" {
		t.Skip("SSMC_EXPORT_ONNX_DIR and SSMC_EXPORT_ONNX_OUT are not set")
	}
	cfg, err := hf.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := map[string]*ir.Tensor{}
	for _, ti := range r.Tensors() {
		b, err := r.Bytes(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if ti.DType != safetensors.F32 {
			t.Fatalf("%s is %s, want F32", ti.Name, ti.DType)
		}
		if w[ti.Name], err = ir.NewTensor(ir.F32, slices.Clone(ti.Shape), b); err != nil {
			t.Fatal(err)
		}
	}
	d := mambaDims{layers: cfg.NLayer, dModel: cfg.DModel, dInner: cfg.DInner, dState: cfg.DState,
		dConv: cfg.DConv, dtRank: cfg.DTRank, eps: cfg.NormEps, tied: cfg.TieEmbeddings}
	e := &mambaExport{d: d, w: w, shape: exportScan}
	if os.Getenv("SSMC_EXPORT_ONNX_SHAPE") == "decode" {
		e.shape = exportDecode
	}
	b, err := proto.Marshal(e.model())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(b))
}

package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
)

// writeONNX writes a one-node model y = op(x, w) with w (2 floats) in the
// external file "w.bin", and returns the model's path.
func writeONNX(t *testing.T, op string) string {
	t.Helper()
	dir := t.TempDir()
	data := make([]byte, 8)
	binary.LittleEndian.PutUint32(data, math.Float32bits(1))
	binary.LittleEndian.PutUint32(data[4:], math.Float32bits(2))
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f32 := int32(onnxpb.TensorProto_FLOAT)
	ext := onnxpb.TensorProto_EXTERNAL
	info := func(name string, dims ...any) *onnxpb.ValueInfoProto {
		sh := &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			switch d := d.(type) {
			case int:
				sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
			case string:
				sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
			}
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32, Shape: sh}}}}
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("g"),
			Node:   []*onnxpb.NodeProto{{OpType: proto.String(op), Name: proto.String("n"), Input: []string{"x", "w"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{info("x", "batch", 2)},
			Output: []*onnxpb.ValueInfoProto{info("y", "batch", 2)},
			Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), DataType: &f32, Dims: []int64{2}, DataLocation: &ext,
				ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}}}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInspectONNX runs `ssmc inspect` on ONNX models: the reference
// Mamba export (the fusions it compiles to), a small model with external
// data, and one with an operator the importer does not know (described,
// with the import error as a warning).
func TestInspectONNX(t *testing.T) {
	forward := "../../../../shared/reference/tiny-mamba/forward.onnx"
	tests := []struct {
		name, path string
		want       []string
	}{
		{"mamba", forward, []string{"IR version 8, opsets: ai.onnx 17", "input_ids  INT64[batch,seq]",
			"logits  FLOAT[batch,seq,256]", "external data: none", "Scan                   2",
			"fusions: fused/add-rmsnorm=2 fused/conv=2 fused/linear-scan=2 fused/rmsnorm=3", "SelectiveScan"}},
		{"external", writeONNX(t, "Add"), []string{"external data:\n  w.bin: 1 tensors, 8 bytes", "x  FLOAT[batch,2]",
			"Add                    1", "fusions: none"}},
		{"unsupported", writeONNX(t, "NoSuchOp"), []string{"NoSuchOp               1", "warning: import: ", "NoSuchOp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skipf("absent: %v", err)
			}
			var out, errb bytes.Buffer
			if code := run(commands(), []string{"inspect", tt.path}, nil, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			out.Reset()
			if code := run(commands(), []string{"inspect", "--json", tt.path}, nil, &out, &errb); code != 0 {
				t.Fatalf("--json: exit %d: %s", code, errb.String())
			}
			var js struct {
				Kind string `json:"kind"`
				ONNX struct {
					IRVersion int64          `json:"ir_version"`
					Ops       map[string]int `json:"ops"`
				} `json:"onnx"`
			}
			if err := json.Unmarshal(out.Bytes(), &js); err != nil {
				t.Fatal(err)
			}
			if js.Kind != "onnx" || js.ONNX.IRVersion != 8 || len(js.ONNX.Ops) == 0 {
				t.Errorf("--json: kind %q, IR %d, ops %v", js.Kind, js.ONNX.IRVersion, js.ONNX.Ops)
			}
		})
	}
}

package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
)

// externalTensor is an f32 initializer whose data is in file loc.
func externalTensor(name, loc string, dims ...int64) *onnxpb.TensorProto {
	et := int32(onnxpb.TensorProto_FLOAT)
	ext := onnxpb.TensorProto_EXTERNAL
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: &et, Dims: dims, DataLocation: &ext,
		ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(loc)}}}
}

func TestDescribe(t *testing.T) {
	f32 := onnxpb.TensorProto_FLOAT
	body := graph("body", []*onnxpb.NodeProto{nd("Add", "add", []string{"s", "x"}, []string{"s2"}),
		nd("Identity", "id", []string{"s2"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{tinfo("s", f32, 2), tinfo("x", f32, 2)},
		[]*onnxpb.ValueInfoProto{tinfo("s2", f32, 2), tinfo("y", f32, 2)})
	scan := graph("scan", []*onnxpb.NodeProto{
		nd("Scan", "scan", []string{"s0", "xs"}, []string{"s", "ys"}, attrGraph("body", body), attrInt("num_scan_inputs", 1)),
		nd("FusedMatMul", "fm", []string{"ys", "w"}, []string{"out"})},
		[]*onnxpb.ValueInfoProto{tinfo("s0", f32, 2), tinfo("xs", f32, "T", 2)},
		[]*onnxpb.ValueInfoProto{tinfo("out", f32, "T", 2), {Name: proto.String("untyped")}},
		f32Tensor("w", []int64{2, 2}, 1, 2, 3, 4), externalTensor("e1", "b.bin", 3, 4),
		externalTensor("e2", "a.bin", 5), externalTensor("e3", "b.bin", 2))
	mp := model(8, 17, scan)
	mp.ProducerName, mp.ProducerVersion = proto.String("exporter"), proto.String("1.2")
	mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)})
	scan.Node[1].Domain = proto.String("com.microsoft")

	mi := Describe(mp)
	tests := []struct {
		what      string
		got, want any
	}{
		{"ir version", mi.IRVersion, int64(8)},
		{"producer", mi.Producer, "exporter 1.2"},
		{"graph", mi.Graph, "scan"},
		{"opsets", mi.Opsets, []OpsetInfo{{"ai.onnx", 17}, {"com.microsoft", 1}}},
		{"inputs", mi.Inputs, []ValueInfo{{"s0", "FLOAT[2]"}, {"xs", "FLOAT[T,2]"}}},
		{"outputs", mi.Outputs, []ValueInfo{{"out", "FLOAT[T,2]"}, {"untyped", "?"}}},
		{"nodes (with the Scan body)", mi.Nodes, 4},
		{"Scan", mi.Ops["Scan"], 1},
		{"Add (in the body)", mi.Ops["Add"], 1},
		{"other domain", mi.Ops["com.microsoft:FusedMatMul"], 1},
		{"initializers", len(mi.Initializers), 4},
		{"inline bytes", mi.Initializers[0].Bytes, int64(16)},
		{"external location", mi.Initializers[1].Location, "b.bin"},
		{"external files", mi.ExternalFiles, []ExternalFile{{"a.bin", 1, 20}, {"b.bin", 2, 56}}},
	}
	for _, tt := range tests {
		if !equalAny(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.what, tt.got, tt.want)
		}
	}
}

// equalAny compares the values TestDescribe checks.
func equalAny(a, b any) bool {
	switch a := a.(type) {
	case []OpsetInfo:
		return slices.Equal(a, b.([]OpsetInfo))
	case []ValueInfo:
		return slices.Equal(a, b.([]ValueInfo))
	case []ExternalFile:
		return slices.Equal(a, b.([]ExternalFile))
	}
	return a == b
}

// TestReadInfo reads the reference forward.onnx and a file that is not
// a model.
func TestReadInfo(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(bad, []byte{0xff, 0xff, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInfo(bad); err == nil {
		t.Error("ReadInfo of garbage: no error")
	}
	path := filepath.Join(tinyMambaDir, "forward.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("reference absent: %v", err)
	}
	mi, err := ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if mi.IRVersion != 8 || len(mi.Opsets) != 1 || mi.Opsets[0] != (OpsetInfo{"ai.onnx", 17}) {
		t.Errorf("header: IR %d, opsets %v; want IR 8, ai.onnx 17", mi.IRVersion, mi.Opsets)
	}
	if mi.Ops["Scan"] != 2 || mi.Ops["Conv"] != 2 {
		t.Errorf("ops %v: want 2 Scan and 2 Conv", mi.Ops)
	}
	if len(mi.Inputs) != 1 || mi.Inputs[0] != (ValueInfo{"input_ids", "INT64[batch,seq]"}) {
		t.Errorf("inputs %v", mi.Inputs)
	}
	if len(mi.Initializers) == 0 || len(mi.ExternalFiles) != 0 {
		t.Errorf("%d initializers, external files %v", len(mi.Initializers), mi.ExternalFiles)
	}
}

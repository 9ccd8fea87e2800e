package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

var (
	f32T = onnxpb.TensorProto_FLOAT
	i64T = onnxpb.TensorProto_INT64
)

// identityModel is y = Identity(x) over f32[2] (opset 17), for tests that
// change one thing.
func identityModel() *onnxpb.ModelProto {
	return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Identity", "id", []string{"x"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{tinfo("x", f32T, 2)}, []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2)}))
}

// TestBadModels: malformed files give one-line errors naming the node,
// tensor or field, and never a module.
func TestBadModels(t *testing.T) {
	in := []*onnxpb.ValueInfoProto{tinfo("x", f32T, 2)}
	out := []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2)}
	tests := []struct {
		name string
		m    func() *onnxpb.ModelProto
		want string
	}{
		{"cycle", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{
				nd("Add", "a", []string{"x", "b_out"}, []string{"a_out"}),
				nd("Relu", "b", []string{"a_out"}, []string{"b_out"}),
				nd("Identity", "c", []string{"a_out"}, []string{"y"}),
			}, in, out))
		}, `node "a" (Add): the graph has a cycle`},
		{"dangling", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Add", "add", []string{"x", "nope"}, []string{"y"})}, in, out))
		}, `node "add" (Add): input "nope" is not defined`},
		{"defined twice", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{
				nd("Relu", "r1", []string{"x"}, []string{"y"}), nd("Relu", "r2", []string{"x"}, []string{"y"})}, in, out))
		}, `value "y" is defined twice`},
		{"output undefined", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Relu", "r", []string{"x"}, []string{"z"})}, in, out))
		}, `output "y" is not defined`},
		{"old IR", func() *onnxpb.ModelProto { m := identityModel(); m.IrVersion = proto.Int64(2); return m }, "IR version 2 is not supported (3 to 13 are)"},
		{"new IR", func() *onnxpb.ModelProto { m := identityModel(); m.IrVersion = proto.Int64(14); return m }, "IR version 14 is not supported"},
		{"no graph", func() *onnxpb.ModelProto { m := identityModel(); m.Graph = nil; return m }, "the model has no graph"},
		{"raw size", func() *onnxpb.ModelProto {
			m := identityModel()
			w := f32Tensor("w", []int64{2}, 1, 2)
			w.RawData = w.RawData[:7]
			m.Graph.Initializer = append(m.Graph.Initializer, w)
			return m
		}, `initializer "w": raw_data has 7 bytes, f32[2] needs 8`},
		{"typed count", func() *onnxpb.ModelProto {
			m := identityModel()
			dt := int32(f32T)
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), DataType: &dt, Dims: []int64{3}, FloatData: []float32{1, 2}})
			return m
		}, `initializer "w": has 2 typed values, the shape [3] needs 3`},
		{"huge dims", func() *onnxpb.ModelProto {
			m := identityModel()
			dt := int32(f32T)
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), DataType: &dt, Dims: []int64{1 << 40, 1 << 20}, RawData: []byte{1, 2, 3, 4}})
			return m
		}, `initializer "w": raw_data has 4 bytes`},
		{"overflowing dims", func() *onnxpb.ModelProto {
			m := identityModel()
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{1 << 40, 1 << 40}})
			return m
		}, `initializer "w": shape [1099511627776 1099511627776] overflows`},
		{"negative dim", func() *onnxpb.ModelProto {
			m := identityModel()
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{-1}})
			return m
		}, `negative dimension in [-1]`},
		{"external from memory", func() *onnxpb.ModelProto {
			m := identityModel()
			loc := onnxpb.TensorProto_EXTERNAL
			m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{4},
				DataLocation: &loc, ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}})
			return m
		}, `initializer "w": external data "w.bin": the model was not read from a file`},
		{"attribute type", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Softmax", "sm", []string{"x"}, []string{"y"}, attrInts("axis", 0))}, in, out))
		}, `node "sm" (Softmax): attribute axis is INTS, want INT`},
		{"bad axis", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Softmax", "sm", []string{"x"}, []string{"y"}, attrInt("axis", 3))}, in, out))
		}, `node "sm" (Softmax): axis 3 out of range for rank 1`},
		{"shape mismatch", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Add", "add", []string{"x", "w"}, []string{"y"})}, in, out,
				f32Tensor("w", []int64{3}, 1, 2, 3)))
		}, `node "add" (Add): `},
		{"missing input", func() *onnxpb.ModelProto {
			return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Add", "add", []string{"x"}, []string{"y"})}, in, out))
		}, `node "add" (Add): input 1 is required`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := LoadBytes(encode(t, tc.m()))
			if err == nil {
				t.Fatalf("no error; module %v", m)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T (%v), want *Error", err, err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "onnx: ") {
				t.Errorf("error %q, want one line containing %q", msg, tc.want)
			}
		})
	}
	if _, err := LoadBytes([]byte("not a model")); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Errorf("garbage: %v", err)
	}
}

// TestUnsupportedListsEverything: one error names every unsupported
// (domain, op, opset) with its nodes, also inside subgraphs.
func TestUnsupportedListsEverything(t *testing.T) {
	branch := func(op string) *onnxpb.GraphProto {
		return graph("b", []*onnxpb.NodeProto{nd(op, "in_"+op, []string{"x"}, []string{"o"})}, nil, []*onnxpb.ValueInfoProto{tinfo("o", f32T, 2)})
	}
	g := graph("g", []*onnxpb.NodeProto{
		nd("Sin", "f1", []string{"x"}, []string{"a"}),
		nd("Sin", "", []string{"a"}, []string{"b"}),
		{OpType: proto.String("FusedMatMul"), Domain: proto.String("com.microsoft"), Name: proto.String("fm"), Input: []string{"b", "b"}, Output: []string{"c"}},
		nd("If", "if", []string{"cond"}, []string{"y"}, attrGraph("then_branch", branch("Cos")), attrGraph("else_branch", branch("Relu"))),
	}, []*onnxpb.ValueInfoProto{tinfo("x", f32T, 2), tinfo("cond", onnxpb.TensorProto_BOOL)}, []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2)})
	m := model(8, 17, g)
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)})
	_, err := LoadBytes(encode(t, m))
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want *UnsupportedError", err)
	}
	want := `onnx: unsupported: ai.onnx Cos (opset 17) at node "in_Cos"; ai.onnx Sin (opset 17) at nodes "f1", "output b"; com.microsoft FusedMatMul (opset 1) at node "fm"`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if len(ue.Items) != 3 || ue.Items[1].Op != "Sin" || len(ue.Items[1].Nodes) != 2 {
		t.Errorf("items %+v", ue.Items)
	}
}

// TestExternalData: tensors in files next to the model load; locations
// outside the model's folder (relative, absolute, through a symbolic
// link) and ranges past the end of the file are refused.
func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	data := f32Tensor("", []int64{6}, 1, 2, 3, 4, 5, 6).RawData
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), append(make([]byte, 8), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	ext := func(loc, offset, length string) *onnxpb.TensorProto {
		l := onnxpb.TensorProto_EXTERNAL
		kv := []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(loc)}}
		if offset != "" {
			kv = append(kv, &onnxpb.StringStringEntryProto{Key: proto.String("offset"), Value: proto.String(offset)})
		}
		if length != "" {
			kv = append(kv, &onnxpb.StringStringEntryProto{Key: proto.String("length"), Value: proto.String(length)})
		}
		return &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{2, 3}, DataLocation: &l, ExternalData: kv}
	}
	load := func(w *onnxpb.TensorProto) ([]float64, error) {
		g := graph("g", []*onnxpb.NodeProto{nd("Add", "add", []string{"x", "w"}, []string{"y"})},
			[]*onnxpb.ValueInfoProto{tinfo("x", f32T, 2, 3)}, []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2, 3)}, w)
		path := filepath.Join(dir, "model.onnx")
		if err := os.WriteFile(path, encode(t, model(8, 17, g)), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path)
		if err != nil {
			return nil, err
		}
		out := runModule(t, m, ir.TensorFromFloat64s(ir.F32, []int64{2, 3}, make([]float64, 6)))
		return out[0].Float64s(), nil
	}
	got, err := load(ext("w.bin", "8", "24"))
	if err != nil || len(got) != 6 || got[0] != 1 || got[5] != 6 {
		t.Fatalf("in-folder external data: %v, %v", got, err)
	}
	if runtime.GOOS != "windows" {
		abs := filepath.Join(outside, "secret.bin")
		for _, tc := range []struct{ loc, offset, length, want string }{
			{"../" + filepath.Base(outside) + "/secret.bin", "", "", "outside the model's folder"},
			{abs, "", "", "must be a relative path"},
			{"link.bin", "", "", "leads outside the model's folder"},
			{"w.bin", "16", "24", "past the end of the file"},
			{"w.bin", "8", "16", "has 16 bytes, the tensor needs 24"},
			{"w.bin", "-1", "", "bad offset"},
			{"missing.bin", "", "", "no such file"},
		} {
			if _, err := load(ext(tc.loc, tc.offset, tc.length)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `initializer "w"`) {
				t.Errorf("location %q offset %q length %q: error %v, want %q", tc.loc, tc.offset, tc.length, err, tc.want)
			}
		}
	}
}

// TestAllocationsBoundedByFileSize: small files asking for huge
// constants, unrolls or tensors fail without allocating much.
func TestAllocationsBoundedByFileSize(t *testing.T) {
	big := []*onnxpb.ValueInfoProto{tinfo("x", f32T, 1<<20, 1<<20)}
	out := []*onnxpb.ValueInfoProto{tinfo("y", f32T, 1)}
	cases := map[string]*onnxpb.ModelProto{
		"trilu":   model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Trilu", "t", []string{"x"}, []string{"y"})}, big, out)),
		"eyelike": model(8, 17, graph("g", []*onnxpb.NodeProto{nd("EyeLike", "e", []string{"x"}, []string{"y"})}, big, out)),
		"range": model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Range", "r", []string{"s", "l", "d"}, []string{"y"})}, nil, out,
			i64Tensor("s", nil, 0), i64Tensor("l", nil, 1<<40), i64Tensor("d", nil, 1))),
		"pad": model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Pad", "p", []string{"v", "pads"}, []string{"y"}, attrStr("mode", "edge"))},
			[]*onnxpb.ValueInfoProto{tinfo("v", f32T, 2)}, out, i64Tensor("pads", []int64{2}, 1<<40, 1<<40))),
		"loop": model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Loop", "loop", []string{"m", "", "v"}, []string{"y"},
			attrGraph("body", graph("body", []*onnxpb.NodeProto{
				nd("Identity", "c", []string{"cin"}, []string{"cout"}),
				nd("Add", "a", []string{"vin", "vin"}, []string{"vout"}),
			}, []*onnxpb.ValueInfoProto{tinfo("i", i64T), tinfo("cin", onnxpb.TensorProto_BOOL), tinfo("vin", f32T, 2)},
				[]*onnxpb.ValueInfoProto{tinfo("cout", onnxpb.TensorProto_BOOL), tinfo("vout", f32T, 2)})))},
			[]*onnxpb.ValueInfoProto{tinfo("v", f32T, 2)}, out, i64Tensor("m", nil, 1<<40))),
	}
	for name, m := range cases {
		data := encode(t, m)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := LoadBytes(data)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		t.Logf("%s: %v (%d bytes allocated)", name, err, after.TotalAlloc-before.TotalAlloc)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > allocBound(len(data)) {
			t.Errorf("%s: a %d-byte file made the importer allocate %d bytes (%v)", name, len(data), grown, err)
		}
	}
}

func attrStr(name, v string) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_STRING
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, S: []byte(v)}
}

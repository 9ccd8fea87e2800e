package onnx

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// Helpers that build ONNX models with the generated types, for tests.

// tinfo is a tensor value's declared type: dims are ints (static) or
// strings (symbolic).
func tinfo(name string, et onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		}
	}
	et32 := int32(et)
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: &et32, Shape: shape}}}}
}

// nd builds a node; attrs are *onnxpb.AttributeProto.
func nd(op, name string, ins, outs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: ins, Output: outs, Attribute: attrs}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INTS
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, Ints: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_FLOAT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, F: proto.Float32(v)}
}

func attrFloats(name string, v ...float32) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_FLOATS
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, Floats: v}
}

func attrTensor(name string, v *onnxpb.TensorProto) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_TENSOR
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, T: v}
}

func attrGraph(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_GRAPH
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, G: g}
}

// graph builds a graph.
func graph(name string, nodes []*onnxpb.NodeProto, ins, outs []*onnxpb.ValueInfoProto, inits ...*onnxpb.TensorProto) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{Name: proto.String(name), Node: nodes, Input: ins, Output: outs, Initializer: inits}
}

// model wraps a graph into a model of the given IR version and opset.
func model(irVersion, opset int64, g *onnxpb.GraphProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{IrVersion: proto.Int64(irVersion), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(opset)}}}
}

// f32Tensor is a named raw-data f32 TensorProto.
func f32Tensor(name string, dims []int64, vals ...float64) *onnxpb.TensorProto {
	return tensorProto(name, ir.TensorFromFloat64s(ir.F32, dims, vals))
}

// i64Tensor is a named raw-data i64 TensorProto.
func i64Tensor(name string, dims []int64, vals ...int64) *onnxpb.TensorProto {
	return tensorProto(name, ir.TensorFromInt64s(ir.I64, dims, vals))
}

// encode serializes a model.
func encode(t testing.TB, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run imports a model from memory and runs it on inputs with the
// reference interpreter after the pass pipeline.
func runModel(t *testing.T, m *onnxpb.ModelProto, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	mod, err := LoadBytes(encode(t, m))
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	return runModule(t, mod, inputs...)
}

func runModule(t *testing.T, mod *ir.Module, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	if _, err := passes.Run(mod, passes.Options{Verify: true}); err != nil {
		t.Fatalf("passes: %v", err)
	}
	out, err := ref.Run(mod.Funcs[0], mod.Weights, inputs)
	if err != nil {
		t.Fatalf("ref.Run: %v", err)
	}
	return out
}

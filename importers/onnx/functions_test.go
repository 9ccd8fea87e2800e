package onnx

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// TestLocalFunctions: calls of model-local functions are inlined, with
// attributes referring to the call's attributes or the function's
// defaults, and names inside the function kept apart from the caller's.
func TestLocalFunctions(t *testing.T) {
	ref := attrFloat("alpha", 0)
	ref.F = nil
	ref.RefAttrName = proto.String("slope")
	fn := &onnxpb.FunctionProto{
		Name: proto.String("LeakyTimes2"), Domain: proto.String("local"),
		Input: []string{"a"}, Output: []string{"r"},
		Attribute:      []string{},
		AttributeProto: []*onnxpb.AttributeProto{attrFloat("slope", 0.5)},
		Node: []*onnxpb.NodeProto{
			nd("LeakyRelu", "lr", []string{"a"}, []string{"t"}, ref),
			nd("Add", "twice", []string{"t", "t"}, []string{"r"}),
		},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
	}
	call := func(name, in, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		n := nd("LeakyTimes2", name, []string{in}, []string{out}, attrs...)
		n.Domain = proto.String("local")
		return n
	}
	g := graph("g", []*onnxpb.NodeProto{
		call("c1", "x", "t", attrFloat("slope", 0.1)), // "t" is also a name inside the function
		call("c2", "t", "y"),
	}, []*onnxpb.ValueInfoProto{tinfo("x", f32T, 2)}, []*onnxpb.ValueInfoProto{tinfo("y", f32T, 2)})
	m := model(10, 17, g)
	m.Functions = []*onnxpb.FunctionProto{fn}
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("local"), Version: proto.Int64(1)})
	out := runModel(t, m, ir.TensorFromFloat64s(ir.F32, []int64{2}, []float64{-1, 3}))
	// c1: -1 -> 2·(-0.1) = -0.2, 3 -> 6; c2 (default slope 0.5): -0.2 -> -0.2, 6 -> 12
	if got := fmt.Sprint(out[0].Float32s()); got != "[-0.2 12]" {
		t.Errorf("got %s, want [-0.2 12]", got)
	}
	// an unsupported op inside a function is reported with the function's node
	fn.Node[1].OpType = proto.String("Cos")
	fn.Node[1].Input = []string{"t"}
	if _, err := LoadBytes(encode(t, m)); err == nil || err.Error() != `onnx: unsupported: ai.onnx Cos (opset 17) at node "twice"` {
		t.Errorf("unsupported op in a function: %v", err)
	}
}

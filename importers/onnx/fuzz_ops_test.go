package onnx

import (
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
)

// FuzzNodes builds one-node models for every supported operator from
// fuzzed element types, shapes (static or symbolic), integer attributes
// and a constant integer input, and checks that the importer answers each
// with a module or a clean error: never a panic, recovered or not.
func FuzzNodes(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte{2, 3}, []byte{1, 3}, int64(1), []byte{1, 0}, int64(17))
	f.Add(uint8(7), uint8(7), []byte{4}, []byte{}, int64(-1), []byte{0xff}, int64(13))
	f.Add(uint8(40), uint8(0), []byte{1, 2, 3, 0x80}, []byte{3}, int64(0), []byte{2, 2}, int64(9))
	ops := SupportedOps()
	types := []onnxpb.TensorProto_DataType{onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64, onnxpb.TensorProto_BOOL,
		onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_INT32}
	f.Fuzz(func(t *testing.T, opIdx, dt uint8, shapeA, shapeB []byte, axis int64, ints []byte, opset int64) {
		if len(shapeA) > 5 || len(shapeB) > 5 || len(ints) > 8 {
			return
		}
		dims := func(b []byte) []any {
			var d []any
			for _, x := range b {
				if x&0x80 != 0 {
					d = append(d, string(rune('A'+x%4)))
				} else {
					d = append(d, int(x%6))
				}
			}
			return d
		}
		var iv []int64
		for _, b := range ints {
			iv = append(iv, int64(int8(b)))
		}
		op := ops[int(opIdx)%len(ops)]
		et := types[int(dt)%len(types)]
		attrs := []*onnxpb.AttributeProto{attrInt("axis", axis), attrInts("axes", iv...), attrInts("perm", iv...),
			attrInt("keepdims", axis&1), attrInts("pads", iv...), attrInts("kernel_shape", iv...), attrInt("to", int64(et)),
			attrInt("group", 1+axis&3), attrInt("num_scan_inputs", 1)}
		if op == "Loop" || op == "Scan" || op == "If" || op == "Constant" {
			attrs = nil // covered by their own tests
		}
		node := nd(op, "n", []string{"a", "b", "c"}, []string{"y", "y2"}, attrs...)
		g := graph("g", []*onnxpb.NodeProto{node},
			[]*onnxpb.ValueInfoProto{tinfo("a", et, dims(shapeA)...), tinfo("b", et, dims(shapeB)...)},
			[]*onnxpb.ValueInfoProto{tinfo("y", et)}, i64Tensor("c", []int64{int64(len(iv))}, iv...))
		opset = 7 + (opset%21+21)%21
		_, err := LoadBytes(encode(t, model(8, opset, g)))
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%s (opset %d): %v", op, opset, err)
		}
	})
}

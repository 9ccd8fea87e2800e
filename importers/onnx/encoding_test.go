package onnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// constModel returns a model whose only output is the tensor t, as an
// initializer passed through Identity.
func constModel(t *onnxpb.TensorProto, et onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ModelProto {
	t.Name = proto.String("w")
	return model(8, 17, graph("g", []*onnxpb.NodeProto{nd("Identity", "id", []string{"w"}, []string{"y"})},
		nil, []*onnxpb.ValueInfoProto{tinfo("y", et, dims...)}, t))
}

// TestInitializerEncodings: every element type the IR has, stored as
// raw_data and in its typed field, decodes to the same values (the
// expected values are written out by hand).
func TestInitializerEncodings(t *testing.T) {
	dt := func(d onnxpb.TensorProto_DataType) *int32 { v := int32(d); return &v }
	tests := []struct {
		name string
		t    *onnxpb.TensorProto
		et   onnxpb.TensorProto_DataType
		want []float64
	}{
		{"f32 raw", &onnxpb.TensorProto{DataType: dt(f32T), Dims: []int64{2}, RawData: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}}, f32T, []float64{1, -2}},
		{"f32 typed", &onnxpb.TensorProto{DataType: dt(f32T), Dims: []int64{2}, FloatData: []float32{1, -2}}, f32T, []float64{1, -2}},
		{"f64 typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_DOUBLE), Dims: []int64{1}, DoubleData: []float64{0.1}}, onnxpb.TensorProto_DOUBLE, []float64{0.1}},
		// f16 0x3c00 = 1, 0xc100 = -2.5; bf16 0x3f80 = 1, 0x4049 = 3.140625
		{"f16 raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT16), Dims: []int64{2}, RawData: []byte{0x00, 0x3c, 0x00, 0xc1}}, onnxpb.TensorProto_FLOAT16, []float64{1, -2.5}},
		{"f16 typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT16), Dims: []int64{2}, Int32Data: []int32{0x3c00, 0xc100}}, onnxpb.TensorProto_FLOAT16, []float64{1, -2.5}},
		{"bf16 raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BFLOAT16), Dims: []int64{2}, RawData: []byte{0x80, 0x3f, 0x49, 0x40}}, onnxpb.TensorProto_BFLOAT16, []float64{1, 3.140625}},
		{"bf16 typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BFLOAT16), Dims: []int64{2}, Int32Data: []int32{0x3f80, 0x4049}}, onnxpb.TensorProto_BFLOAT16, []float64{1, 3.140625}},
		{"i64 raw", &onnxpb.TensorProto{DataType: dt(i64T), Dims: []int64{1}, RawData: []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, i64T, []float64{-2}},
		{"i64 typed", &onnxpb.TensorProto{DataType: dt(i64T), Dims: []int64{2}, Int64Data: []int64{-2, 1 << 40}}, i64T, []float64{-2, 1 << 40}},
		{"i32 typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT32), Dims: []int64{1}, Int32Data: []int32{-7}}, onnxpb.TensorProto_INT32, []float64{-7}},
		{"i8 typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT8), Dims: []int64{2}, Int32Data: []int32{-128, 127}}, onnxpb.TensorProto_INT8, []float64{-128, 127}},
		{"bool raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BOOL), Dims: []int64{3}, RawData: []byte{1, 0, 7}}, onnxpb.TensorProto_BOOL, []float64{1, 0, 1}},
		{"bool typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BOOL), Dims: []int64{2}, Int32Data: []int32{0, 1}}, onnxpb.TensorProto_BOOL, []float64{0, 1}},
		{"scalar", &onnxpb.TensorProto{DataType: dt(f32T), FloatData: []float32{5}}, f32T, []float64{5}},
		{"large weight", &onnxpb.TensorProto{DataType: dt(f32T), Dims: []int64{20}, FloatData: make([]float32, 20)}, f32T, make([]float64, 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var dims []any
			for _, d := range tc.t.Dims {
				dims = append(dims, int(d))
			}
			out := runModel(t, constModel(tc.t, tc.et, dims...))
			if got := out[0].Float64s(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// an element type the IR does not have is unsupported, with its name
	_, err := LoadBytes(encode(t, constModel(&onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_UINT16), Dims: []int64{1}, Int32Data: []int32{1}}, onnxpb.TensorProto_UINT16, 1)))
	if err == nil || !strings.Contains(err.Error(), "element type UINT16") {
		t.Errorf("uint16 initializer: %v", err)
	}
}

// TestConstantForms: every form of Constant the IR can hold.
func TestConstantForms(t *testing.T) {
	tests := []struct {
		attr *onnxpb.AttributeProto
		et   onnxpb.TensorProto_DataType
		dims []any
		want string
	}{
		{attrTensor("value", f32Tensor("", []int64{2}, 1.5, -1)), f32T, []any{2}, "[1.5 -1]"},
		{attrFloat("value_float", 0.25), f32T, nil, "[0.25]"},
		{attrFloats("value_floats", 1, 2, 3), f32T, []any{3}, "[1 2 3]"},
		{attrInt("value_int", -9), i64T, nil, "[-9]"},
		{attrInts("value_ints", 4, 5), i64T, []any{2}, "[4 5]"},
	}
	for _, tc := range tests {
		m := model(8, 13, graph("g", []*onnxpb.NodeProto{nd("Constant", "c", nil, []string{"y"}, tc.attr)},
			nil, []*onnxpb.ValueInfoProto{tinfo("y", tc.et, tc.dims...)}))
		out := runModel(t, m)
		if got := fmt.Sprint(out[0].Float64s()); got != tc.want {
			t.Errorf("%s: got %v, want %s", tc.attr.GetName(), got, tc.want)
		}
	}
	st := onnxpb.AttributeProto_STRING
	m := model(8, 13, graph("g", []*onnxpb.NodeProto{nd("Constant", "c", nil, []string{"y"},
		&onnxpb.AttributeProto{Name: proto.String("value_string"), Type: &st, S: []byte("hi")})}, nil, []*onnxpb.ValueInfoProto{tinfo("y", f32T)}))
	if _, err := LoadBytes(encode(t, m)); err == nil || !strings.Contains(err.Error(), "Constant (opset 13): string constants") {
		t.Errorf("string constant: %v", err)
	}
}

// TestOpsetVersions: operators whose attributes became inputs read the
// form of the model's opset.
func TestOpsetVersions(t *testing.T) {
	x := ir.TensorFromFloat64s(ir.F32, []int64{2, 1, 3}, []float64{1, 2, 3, 4, 5, 6})
	in := []*onnxpb.ValueInfoProto{tinfo("x", f32T, 2, 1, 3)}
	tests := []struct {
		name  string
		opset int64
		nodes []*onnxpb.NodeProto
		inits []*onnxpb.TensorProto
		out   *onnxpb.ValueInfoProto
		want  string
	}{
		{"squeeze attr", 11, []*onnxpb.NodeProto{nd("Squeeze", "s", []string{"x"}, []string{"y"}, attrInts("axes", 1))}, nil,
			tinfo("y", f32T, 2, 3), "[2 3] [1 2 3 4 5 6]"},
		{"squeeze input", 13, []*onnxpb.NodeProto{nd("Squeeze", "s", []string{"x", "ax"}, []string{"y"})}, []*onnxpb.TensorProto{i64Tensor("ax", []int64{1}, -2)},
			tinfo("y", f32T, 2, 3), "[2 3] [1 2 3 4 5 6]"},
		{"unsqueeze attr", 11, []*onnxpb.NodeProto{nd("Unsqueeze", "u", []string{"x"}, []string{"y"}, attrInts("axes", 0, 4))}, nil,
			tinfo("y", f32T, 1, 2, 1, 3, 1), "[1 2 1 3 1] [1 2 3 4 5 6]"},
		{"split attr", 11, []*onnxpb.NodeProto{nd("Split", "s", []string{"x"}, []string{"y", "z"}, attrInt("axis", 2), attrInts("split", 1, 2))}, nil,
			tinfo("z", f32T, 2, 1, 2), "[2 1 2] [2 3 5 6]"},
		{"split input", 13, []*onnxpb.NodeProto{nd("Split", "s", []string{"x", "sp"}, []string{"y", "z"}, attrInt("axis", -1))}, []*onnxpb.TensorProto{i64Tensor("sp", []int64{2}, 2, 1)},
			tinfo("z", f32T, 2, 1, 1), "[2 1 1] [3 6]"},
		{"split num_outputs", 18, []*onnxpb.NodeProto{nd("Split", "s", []string{"x"}, []string{"y", "z"}, attrInt("axis", 2), attrInt("num_outputs", 2))}, nil,
			tinfo("z", f32T, 2, 1, 1), "[2 1 1] [3 6]"},
		{"reducemean attr", 17, []*onnxpb.NodeProto{nd("ReduceMean", "r", []string{"x"}, []string{"y"}, attrInts("axes", 0), attrInt("keepdims", 0))}, nil,
			tinfo("y", f32T, 1, 3), "[1 3] [2.5 3.5 4.5]"},
		{"reducemean input", 18, []*onnxpb.NodeProto{nd("ReduceMean", "r", []string{"x", "ax"}, []string{"y"}, attrInt("keepdims", 0))}, []*onnxpb.TensorProto{i64Tensor("ax", []int64{1}, 0)},
			tinfo("y", f32T, 1, 3), "[1 3] [2.5 3.5 4.5]"},
		{"reducesum noop", 13, []*onnxpb.NodeProto{nd("ReduceSum", "r", []string{"x"}, []string{"y"}, attrInt("noop_with_empty_axes", 1))}, nil,
			tinfo("y", f32T, 2, 1, 3), "[2 1 3] [1 2 3 4 5 6]"},
		{"slice attrs", 9, []*onnxpb.NodeProto{nd("Slice", "s", []string{"x"}, []string{"y"}, attrInts("starts", 1), attrInts("ends", 100), attrInts("axes", 2))}, nil,
			tinfo("y", f32T, 2, 1, 2), "[2 1 2] [2 3 5 6]"},
		{"slice inputs steps", 13, []*onnxpb.NodeProto{nd("Slice", "s", []string{"x", "st", "en", "ax", "sp"}, []string{"y"})},
			[]*onnxpb.TensorProto{i64Tensor("st", []int64{1}, -1), i64Tensor("en", []int64{1}, math.MinInt64), i64Tensor("ax", []int64{1}, 2), i64Tensor("sp", []int64{1}, -2)},
			tinfo("y", f32T, 2, 1, 2), "[2 1 2] [3 1 6 4]"},
		{"softmax 11 flattens", 11, []*onnxpb.NodeProto{nd("Softmax", "s", []string{"x"}, []string{"y"}, attrInt("axis", 0))}, nil,
			tinfo("y", f32T, 2, 1, 3), "sums to 1 over all"},
		{"clip attrs", 9, []*onnxpb.NodeProto{nd("Clip", "c", []string{"x"}, []string{"y"}, attrFloat("min", 2), attrFloat("max", 4))}, nil,
			tinfo("y", f32T, 2, 1, 3), "[2 1 3] [2 2 3 4 4 4]"},
		{"clip inputs", 13, []*onnxpb.NodeProto{nd("Clip", "c", []string{"x", "", "hi"}, []string{"y"})}, []*onnxpb.TensorProto{f32Tensor("hi", nil, 3)},
			tinfo("y", f32T, 2, 1, 3), "[2 1 3] [1 2 3 3 3 3]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := graph("g", tc.nodes, in, []*onnxpb.ValueInfoProto{tc.out}, tc.inits...)
			m := model(8, tc.opset, g)
			mod, err := LoadBytes(encode(t, m))
			if err != nil {
				t.Fatal(err)
			}
			out := runModule(t, mod, x)
			got := out[0]
			if tc.want == "sums to 1 over all" {
				s := 0.0
				for _, v := range got.Float64s() {
					s += v
				}
				if math.Abs(s-1) > 1e-6 || fmt.Sprint(got.Shape) != "[2 1 3]" {
					t.Errorf("softmax over the flattened input: %v sums to %v", got.Float64s(), s)
				}
				return
			}
			if s := fmt.Sprint(got.Shape, " ", got.Float64s()); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
		})
	}
}

package onnx

import (
	"math"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// Operators that make constants or pass values through.

// convConstantOfShape fills the shape (static or symbolic) with the value
// attribute (f32 0 by default): an Expand of the scalar.
func convConstantOfShape(n *node) []*val {
	shape := n.shapeIn(0, "shape")
	fill := constVal(ir.TensorFromFloat64s(ir.F32, nil, []float64{0}))
	if a := n.attr("value", onnxpb.AttributeProto_TENSOR); a != nil {
		t, err := n.g.imp.decodeOnce(a.GetT())
		if err != nil {
			n.fail(err)
			return nil
		}
		if t.NumElements() != 1 {
			n.failf("value must have one element, has %d", t.NumElements())
			return nil
		}
		fill = constVal(&ir.Tensor{DType: t.DType, Shape: []int64{}, Data: t.Data})
	}
	if !n.ok() {
		return nil
	}
	for _, d := range shape {
		if d.IsStatic() && d.Off < 0 {
			n.failf("negative dim in %v", shape)
			return nil
		}
	}
	return []*val{n.op(ir.OpExpand, ir.Attrs{"shape": shape.Clone()}, fill)}
}

// convRange computes Range at import time: its output's length depends
// on its inputs' values.
func convRange(n *node) []*val {
	s, l, d := n.need(0), n.need(1), n.need(2)
	sv, ok1 := s.floats()
	lv, ok2 := l.floats()
	dv, ok3 := d.floats()
	if !n.ok() {
		return nil
	}
	if !ok1 || !ok2 || !ok3 || len(sv) != 1 || len(lv) != 1 || len(dv) != 1 {
		n.unsupported("start, limit and delta computed at run time")
		return nil
	}
	if dv[0] == 0 {
		n.failf("delta is 0")
		return nil
	}
	count := math.Max(math.Ceil((lv[0]-sv[0])/dv[0]), 0)
	if count > foldMaxElems*16 || math.IsNaN(count) || !n.alloc(int64(count), 8) {
		n.failf("%v elements", count)
		return nil
	}
	dt := s.dtype()
	if dt.IsInt() {
		si, _ := s.ints()
		di, _ := d.ints()
		out := make([]int64, int(count))
		for i := range out {
			out[i] = si[0] + int64(i)*di[0]
		}
		return []*val{constVal(ir.TensorFromInt64s(dt, []int64{int64(count)}, out))}
	}
	out := make([]float64, int(count))
	for i := range out {
		out[i] = sv[0] + float64(i)*dv[0]
	}
	return []*val{constVal(ir.TensorFromFloat64s(dt, []int64{int64(count)}, out))}
}

// convDropout is the identity in inference; its mask is all true.
func convDropout(n *node) []*val {
	x := n.need(0)
	if n.opset >= 12 {
		if t := n.arg(2); t != nil {
			if v, ok := t.ints(); !ok || len(v) != 1 || v[0] != 0 {
				n.unsupported("training mode")
				return nil
			}
		}
	}
	mask := n.op(ir.OpExpand, ir.Attrs{"shape": x.shape().Clone()}, scalar(ir.Bool, 1))
	return []*val{x, mask}
}

// convConstant converts every form of Constant: value (a tensor),
// value_float(s), value_int(s); strings and sparse tensors are not
// supported.
func convConstant(n *node) []*val {
	if len(n.attrs) != 1 || len(n.p.GetOutput()) != 1 {
		n.failf("needs exactly one value attribute and one output")
		return nil
	}
	for name := range n.attrs {
		switch name {
		case "value":
			a := n.attr(name, onnxpb.AttributeProto_TENSOR)
			if a == nil {
				return nil
			}
			if v, ok := n.g.imp.constVals[a.GetT()]; ok { // a loop body converted again
				return []*val{{typ: v.typ, c: v.c, param: v.param}}
			}
			t, err := n.g.imp.decodeOnce(a.GetT())
			if err != nil {
				n.fail(err)
				return nil
			}
			v := n.g.imp.tensorVal(n.p.GetOutput()[0], t)
			n.g.imp.constVals[a.GetT()] = v
			return []*val{{typ: v.typ, c: v.c, param: v.param}}
		case "value_float":
			return []*val{scalar(ir.F32, n.float(name, 0))}
		case "value_int":
			return []*val{constVal(ir.TensorFromInt64s(ir.I64, nil, []int64{n.int(name, 0)}))}
		case "value_floats":
			fs := n.floatsAttr(name)
			v := make([]float64, len(fs))
			for i, f := range fs {
				v[i] = float64(f)
			}
			return []*val{constVal(ir.TensorFromFloat64s(ir.F32, []int64{int64(len(v))}, v))}
		case "value_ints":
			return []*val{i64s(n.ints(name, []int64{})...)}
		case "value_string", "value_strings":
			n.unsupported("string constants")
			return nil
		case "sparse_value":
			n.unsupported("sparse constants")
			return nil
		}
		n.failf("unknown attribute %q", clip(name))
	}
	return nil
}

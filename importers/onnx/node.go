package onnx

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// node is the converter's view of one ONNX node. Its helpers keep the
// first error (n.err), after which they do nothing and return
// placeholders, so converters are straight-line code that the graph
// converter checks once.
type node struct {
	g     *graphCtx
	p     *onnxpb.NodeProto
	opset int64 // the version of the node's domain that the model imports
	in    []*val
	attrs map[string]*onnxpb.AttributeProto
	err   error
}

// converter translates a node into IR and returns one val per output
// (fewer when trailing optional outputs are not supported).
type converter func(n *node) []*val

// arg returns input i, or nil when it is absent.
func (n *node) arg(i int) *val {
	if i < len(n.in) {
		return n.in[i]
	}
	return nil
}

// need returns input i, failing when it is absent.
func (n *node) need(i int) *val {
	x := n.arg(i)
	if x == nil && n.err == nil {
		n.err = fmt.Errorf("input %d is required", i)
	}
	if x == nil {
		return placeholder()
	}
	return x
}

// placeholder is returned after an error.
func placeholder() *val { return &val{typ: ir.TensorType(ir.F32, ir.Shape{})} }

// ok reports whether no error has happened yet.
func (n *node) ok() bool { return n.err == nil }

// fail keeps err as the node's error unless it already has one.
func (n *node) fail(err error) {
	if n.err == nil && err != nil {
		n.err = err
	}
}

// failf fails with a formatted error.
func (n *node) failf(format string, a ...any) { n.fail(fmt.Errorf(format, a...)) }

// unsupported fails with an unsupported-use reason.
func (n *node) unsupported(format string, a ...any) { n.fail(unsupportedf(format, a...)) }

// op emits op(args){attrs} (see graphCtx.emit).
func (n *node) op(op ir.Op, attrs ir.Attrs, args ...*val) *val {
	if n.err != nil {
		return placeholder()
	}
	for _, a := range args {
		if a != nil && a.typ.DType == ir.InvalidDType {
			n.failf("internal error: operand without a type")
			return placeholder()
		}
	}
	v, err := n.g.emit(op, attrs, args...)
	if err != nil {
		n.fail(err)
		return placeholder()
	}
	return v
}

// tuple emits a multi-result op.
func (n *node) tuple(op ir.Op, attrs ir.Attrs, want int, args ...*val) []*val {
	out := make([]*val, want)
	for i := range out {
		out[i] = placeholder()
	}
	if n.err != nil {
		return out
	}
	res, err := n.g.emitTuple(op, attrs, args...)
	if err != nil {
		n.fail(err)
		return out
	}
	if len(res) != want {
		n.failf("internal error: %v gave %d results, want %d", op, len(res), want)
		return out
	}
	return res
}

// attr returns the attribute name when present with the given type.
func (n *node) attr(name string, typ onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
	a := n.attrs[name]
	if a == nil {
		return nil
	}
	if a.GetType() != typ && !(a.Type == nil && inferAttrType(a) == typ) {
		n.failf("attribute %s is %v, want %v", name, a.GetType(), typ)
		return nil
	}
	return a
}

// inferAttrType guesses the type of an attribute without the type field
// (IR version 1 files) from the field that is set.
func inferAttrType(a *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	switch {
	case a.F != nil:
		return onnxpb.AttributeProto_FLOAT
	case a.I != nil:
		return onnxpb.AttributeProto_INT
	case a.S != nil:
		return onnxpb.AttributeProto_STRING
	case a.T != nil:
		return onnxpb.AttributeProto_TENSOR
	case a.G != nil:
		return onnxpb.AttributeProto_GRAPH
	case len(a.Floats) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(a.Ints) > 0:
		return onnxpb.AttributeProto_INTS
	case len(a.Strings) > 0:
		return onnxpb.AttributeProto_STRINGS
	}
	return onnxpb.AttributeProto_UNDEFINED
}

// has reports whether attribute name is present.
func (n *node) has(name string) bool { return n.attrs[name] != nil }

// int returns an int attribute or def.
func (n *node) int(name string, def int64) int64 {
	if a := n.attr(name, onnxpb.AttributeProto_INT); a != nil {
		return a.GetI()
	}
	return def
}

// float returns a float attribute or def.
func (n *node) float(name string, def float64) float64 {
	if a := n.attr(name, onnxpb.AttributeProto_FLOAT); a != nil {
		return float64(a.GetF())
	}
	return def
}

// str returns a string attribute or def.
func (n *node) str(name, def string) string {
	if a := n.attr(name, onnxpb.AttributeProto_STRING); a != nil {
		return string(a.GetS())
	}
	return def
}

// ints returns an ints attribute, or def when absent.
func (n *node) ints(name string, def []int64) []int64 {
	if a := n.attr(name, onnxpb.AttributeProto_INTS); a != nil {
		return append([]int64{}, a.GetInts()...)
	}
	return def
}

// floatsAttr returns a floats attribute, or nil when absent.
func (n *node) floatsAttr(name string) []float32 {
	if a := n.attr(name, onnxpb.AttributeProto_FLOATS); a != nil {
		return a.GetFloats()
	}
	return nil
}

// graph returns a graph attribute, failing when it is absent.
func (n *node) graph(name string) *onnxpb.GraphProto {
	a := n.attr(name, onnxpb.AttributeProto_GRAPH)
	if a == nil || a.GetG() == nil {
		n.failf("attribute %s (a graph) is required", name)
		return nil
	}
	return a.GetG()
}

// constInts returns input i as integers known at import time; absent
// inputs give def.
func (n *node) constInts(i int, what string, def []int64) []int64 {
	x := n.arg(i)
	if x == nil || n.err != nil {
		return def
	}
	v, ok := x.ints()
	if !ok {
		n.unsupported("%s (input %d) computed at run time", what, i)
		return def
	}
	if x.rank() > 1 {
		n.failf("%s (input %d) must be a scalar or 1-D, is %v", what, i, x.typ)
	}
	return v
}

// normAxis maps axis into [0, rank).
func (n *node) normAxis(axis int64, rank int) int {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		n.failf("axis %d out of range for rank %d", axis, rank)
		return 0
	}
	return int(a)
}

// normAxes maps every axis into [0, rank), refusing repeats.
func (n *node) normAxes(axes []int64, rank int) []int {
	out := make([]int, 0, len(axes))
	seen := map[int]bool{}
	for _, a := range axes {
		ax := n.normAxis(a, rank)
		if seen[ax] && n.ok() {
			n.failf("axis %d is repeated", a)
		}
		seen[ax] = true
		out = append(out, ax)
	}
	return out
}

// scalar returns a rank-0 constant of dtype dt.
func scalar(dt ir.DType, x float64) *val {
	return constVal(ir.TensorFromFloat64s(dt, nil, []float64{x}))
}

// i64s returns a 1-D i64 constant.
func i64s(v ...int64) *val { return constVal(ir.TensorFromInt64s(ir.I64, []int64{int64(len(v))}, v)) }

// alloc reserves n elements of size bytes for a constant the converter
// computes; false (with the node failed) when over the import's budget.
func (n *node) alloc(elems, size int64) bool {
	if !n.ok() {
		return false
	}
	if elems < 0 || elems > 1<<40 {
		n.failf("a constant of %d elements", elems)
		return false
	}
	if err := n.g.imp.spendBytes(elems * size); err != nil {
		n.fail(err)
		return false
	}
	return true
}

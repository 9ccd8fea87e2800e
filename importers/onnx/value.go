package onnx

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/ref"
)

// foldMaxElems bounds the size of tensors the importer computes at import
// time (shape arithmetic, constant subgraphs); larger results stay ops.
const foldMaxElems = 1 << 12

// val is an ONNX value during import. It is known in one or more of three
// ways: as an IR value of the function being built (v), as a constant
// known at import time (c, possibly with param naming the weight it is),
// or, for integer tensors of rank ≤ 1 computed from shapes, as a list of
// possibly symbolic dims (dims). IR values for constants and weights are
// made on first use as data, so that shape arithmetic leaves no ops
// behind.
type val struct {
	typ   ir.Type
	v     *ir.Value
	c     *ir.Tensor
	dims  []ir.Dim
	param string
	// bad marks a value the importer could not make (an unsupported
	// element type); nodes reading it are skipped.
	bad bool
}

// constVal is a known tensor.
func constVal(t *ir.Tensor) *val { return &val{typ: t.Type(), c: t} }

// dimsVal is an integer tensor of dtype dt and rank ≤ 1 (scalar when
// scalar) whose elements are dims; a constant when they are all static.
func dimsVal(dt ir.DType, dims []ir.Dim, scalar bool) *val {
	shape := []int64{int64(len(dims))}
	if scalar {
		shape = nil
	}
	static := make([]int64, len(dims))
	for i, d := range dims {
		if !d.IsStatic() {
			return &val{typ: ir.TensorType(dt, ir.Static(shape...)), dims: dims}
		}
		static[i] = d.Off
	}
	return constVal(ir.TensorFromInt64s(dt, shape, static))
}

// foldable reports whether x is a constant that is not a weight, small
// enough to compute with at import time.
func (x *val) foldable() bool {
	return x.c != nil && x.param == "" && x.c.NumElements() <= foldMaxElems
}

// symDims returns x's elements as dims when x is a small integer tensor
// of rank ≤ 1 known at import time.
func (x *val) symDims() ([]ir.Dim, bool) {
	if x == nil || !x.typ.DType.IsInt() || x.typ.Shape.Rank() > 1 {
		return nil, false
	}
	if x.dims != nil {
		return x.dims, true
	}
	if !x.foldable() {
		return nil, false
	}
	ints := x.c.Int64s()
	out := make([]ir.Dim, len(ints))
	for i, n := range ints {
		out[i] = ir.StaticDim(n)
	}
	return out, true
}

// ints returns x's elements when x is a known integer tensor.
func (x *val) ints() ([]int64, bool) {
	if x == nil || x.c == nil || !(x.c.DType.IsInt() || x.c.DType == ir.Bool) || x.c.NumElements() > foldMaxElems {
		return nil, false
	}
	return x.c.Int64s(), true
}

// floats returns x's elements when x is a known tensor.
func (x *val) floats() ([]float64, bool) {
	if x == nil || x.c == nil || x.c.NumElements() > foldMaxElems {
		return nil, false
	}
	return x.c.Float64s(), true
}

// shape returns x's shape (nil for a nil val).
func (x *val) shape() ir.Shape {
	if x == nil {
		return nil
	}
	return x.typ.Shape
}

// rank returns x's rank.
func (x *val) rank() int { return len(x.shape()) }

// dtype returns x's dtype.
func (x *val) dtype() ir.DType {
	if x == nil {
		return ir.InvalidDType
	}
	return x.typ.DType
}

// mat returns x as an IR value of g's function, making the Param or
// Const on first use.
func (g *graphCtx) mat(x *val) (*ir.Value, error) {
	switch {
	case x == nil:
		return nil, nil
	case x.v != nil:
		return x.v, nil
	case x.param != "":
		x.v = g.f.Param(x.param, x.typ)
	case x.c != nil:
		x.v = g.f.Const(x.c)
	case x.dims != nil:
		return nil, unsupportedf("a shape with symbolic dims %v used as runtime data", ir.Shape(x.dims))
	default:
		return nil, fmt.Errorf("internal error: value without a definition")
	}
	return x.v, nil
}

// emit appends op(args){attrs}, or computes it at import time when every
// operand is a small constant and so is the result.
func (g *graphCtx) emit(op ir.Op, attrs ir.Attrs, args ...*val) (*val, error) {
	res, err := g.emitN(op, attrs, false, args...)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// emitTuple appends a multi-result op and returns its results.
func (g *graphCtx) emitTuple(op ir.Op, attrs ir.Attrs, args ...*val) ([]*val, error) {
	return g.emitN(op, attrs, true, args...)
}

func (g *graphCtx) emitN(op ir.Op, attrs ir.Attrs, tuple bool, args ...*val) (res []*val, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%v: internal error: %v", op, r)
		}
	}()
	if out, ok, err := fold(op, attrs, args); err != nil {
		return nil, err
	} else if ok {
		for _, o := range out {
			if err := g.imp.spendBytes(int64(len(o.c.Data)) + 64); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	ops := make([]*ir.Value, len(args))
	for i, a := range args {
		if ops[i], err = g.mat(a); err != nil {
			return nil, err
		}
	}
	v, err := g.f.Append(op, attrs, ops...)
	if err != nil {
		return nil, err
	}
	if err := g.imp.spend(1); err != nil {
		return nil, err
	}
	if !tuple {
		if v.Type.IsTuple() {
			return nil, fmt.Errorf("internal error: %v has several results", op)
		}
		return []*val{{typ: v.Type, v: v}}, nil
	}
	out := make([]*val, len(v.Type.Elems))
	for i := range out {
		e, err := g.f.Append(ir.OpExtract, ir.Attrs{"index": int64(i)}, v)
		if err != nil {
			return nil, err
		}
		out[i] = &val{typ: e.Type, v: e}
	}
	return out, nil
}

// fold evaluates op at import time when all operands are small constants
// and so is every result.
func fold(op ir.Op, attrs ir.Attrs, args []*val) ([]*val, bool, error) {
	ts := make([]*ir.Tensor, len(args))
	ops := make([]*ir.Value, len(args))
	for i, a := range args {
		if a == nil {
			continue
		}
		if !a.foldable() {
			return nil, false, nil
		}
		ts[i] = a.c
		ops[i] = &ir.Value{Op: ir.OpArg, Name: "a", Type: a.c.Type()}
	}
	v := &ir.Value{Op: op, Args: ops, Attrs: attrs}
	t, err := ir.InferType(v)
	if err != nil {
		return nil, false, err
	}
	elems := []ir.Type{t}
	if t.IsTuple() {
		elems = t.Elems
	}
	for _, e := range elems {
		n, ok := e.Shape.NumElements()
		if !ok || !n.IsStatic() || n.Off > foldMaxElems {
			return nil, false, nil
		}
	}
	v.Type = t
	res, err := ref.EvalOp(v, ts)
	if err != nil {
		return nil, false, err
	}
	out := make([]*val, len(res))
	for i, r := range res {
		out[i] = constVal(r)
	}
	return out, true, nil
}

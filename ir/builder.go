package ir

import "fmt"

// Builder appends values to a function and keeps the first error, so that
// code building a model can chain calls and check once at the end:
//
//	b := ir.NewBuilder(f)
//	h := b.Op(ir.OpRMSNorm, ir.Attrs{"eps": 1e-5}, x, w)
//	y := b.Op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, h, wIn)
//	if b.Err != nil { ... }
type Builder struct {
	F   *Func
	Err error
}

// NewBuilder returns a builder that appends to f.
func NewBuilder(f *Func) *Builder { return &Builder{F: f} }

// Op appends op(args){attrs}. After an error it does nothing and returns a
// placeholder value, so later calls stay safe.
func (b *Builder) Op(op Op, attrs Attrs, args ...*Value) *Value {
	if b.Err != nil {
		return b.placeholder()
	}
	for _, a := range args {
		if a != nil && a.Op == OpInvalidPlaceholder {
			return b.placeholder()
		}
	}
	v, err := b.F.Append(op, attrs, args...)
	if err != nil {
		b.Err = fmt.Errorf("@%s: building %s: %w", b.F.Name, op, err)
		return b.placeholder()
	}
	return v
}

// Tuple appends a multi-result op and returns its results via Extract.
func (b *Builder) Tuple(op Op, attrs Attrs, args ...*Value) []*Value {
	t := b.Op(op, attrs, args...)
	if b.Err != nil {
		out := make([]*Value, maxTupleResults)
		for i := range out {
			out[i] = b.placeholder()
		}
		return out
	}
	out := make([]*Value, len(t.Type.Elems))
	for i := range out {
		out[i] = b.Op(OpExtract, Attrs{"index": int64(i)}, t)
	}
	return out
}

// maxTupleResults is how many placeholders Tuple returns after an error,
// enough for any op's results.
const maxTupleResults = 16

// Param appends a weight reference.
func (b *Builder) Param(name string, t Type) *Value { return b.F.Param(name, t) }

// Const appends an inline constant.
func (b *Builder) Const(t *Tensor) *Value { return b.F.Const(t) }

// Scalar appends a rank-0 constant of dtype dt.
func (b *Builder) Scalar(dt DType, x float64) *Value {
	return b.F.Const(TensorFromFloat64s(dt, []int64{}, []float64{x}))
}

// OpInvalidPlaceholder marks values a Builder returns after an error; they
// never enter a function.
const OpInvalidPlaceholder = Op(0xffff)

func (b *Builder) placeholder() *Value {
	return &Value{Op: OpInvalidPlaceholder, Type: TensorType(F32, Shape{})}
}

package onnx

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// maxRank bounds the rank of any tensor type read from a file.
const maxRank = 32

// names turns ONNX names (any string) into IR identifiers, the same ONNX
// name always giving the same identifier and different names different
// ones.
type names struct {
	byONNX map[string]string
	used   map[string]bool
	next   map[string]int // per base: the next suffix to try
}

func newNames() *names {
	return &names{byONNX: map[string]string{}, used: map[string]bool{}, next: map[string]int{}}
}

// ident returns the identifier for ONNX name s: s itself when it is one,
// otherwise s with every other character replaced by '_' (and a leading
// '_' when it starts with a digit or '.'), made unique with a suffix.
func (n *names) ident(s string) string {
	if id, ok := n.byONNX[s]; ok {
		return id
	}
	id := n.unique(sanitize(s))
	n.byONNX[s] = id
	return id
}

// fresh returns a new identifier starting with base that no ONNX name
// maps to.
func (n *names) fresh(base string) string { return n.unique(sanitize(base)) }

// unique returns base, or base_2, base_3, … when taken, and marks it used.
func (n *names) unique(base string) string {
	id := base
	for n.used[id] {
		k := max(n.next[base], 2)
		n.next[base] = k + 1
		id = base + "_" + strconv.Itoa(k)
	}
	n.used[id] = true
	return id
}

// sanitize maps s to an IR identifier: letters, digits, '_' and '.', not
// starting with a digit or '.'; at most 64 characters.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		c := s[i]
		ok := c == '_' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !ok {
			c = '_'
		}
		if b.Len() == 0 && (c == '.' || '0' <= c && c <= '9') {
			b.WriteByte('_')
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// typeOf converts a value's declared ONNX type to an IR tensor type.
// Symbolic dims (dim_param) become IR symbols through syms; dims with
// neither a value nor a name become fresh symbols named after the value.
func typeOf(tp *onnxpb.TypeProto, value string, syms *names) (ir.Type, error) {
	tt := tp.GetTensorType()
	if tt == nil {
		switch {
		case tp.GetSequenceType() != nil:
			return ir.Type{}, unsupportedf("sequence-typed value %q", clip(value))
		case tp.GetOptionalType() != nil:
			return ir.Type{}, unsupportedf("optional-typed value %q", clip(value))
		case tp.GetMapType() != nil:
			return ir.Type{}, unsupportedf("map-typed value %q", clip(value))
		case tp.GetSparseTensorType() != nil:
			return ir.Type{}, unsupportedf("sparse tensor value %q", clip(value))
		}
		return ir.Type{}, fmt.Errorf("value %q has no tensor type", clip(value))
	}
	dt, ok := dtypeOf(tt.GetElemType())
	if !ok {
		return ir.Type{}, unsupportedDType(tt.GetElemType())
	}
	if tt.GetShape() == nil {
		return ir.Type{}, unsupportedf("value %q of unknown rank", clip(value))
	}
	dims := tt.GetShape().GetDim()
	if len(dims) > maxRank {
		return ir.Type{}, fmt.Errorf("value %q has rank %d, over %d", clip(value), len(dims), maxRank)
	}
	shape := make(ir.Shape, len(dims))
	for i, d := range dims {
		switch v := d.Value.(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if v.DimValue < 0 {
				return ir.Type{}, fmt.Errorf("value %q: negative dimension %d", clip(value), v.DimValue)
			}
			shape[i] = ir.StaticDim(v.DimValue)
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if v.DimParam != "" {
				shape[i] = ir.SymDim(syms.ident(v.DimParam))
				break
			}
			shape[i] = ir.SymDim(syms.fresh(value + "_d" + strconv.Itoa(i)))
		default:
			shape[i] = ir.SymDim(syms.fresh(value + "_d" + strconv.Itoa(i)))
		}
	}
	return ir.TensorType(dt, shape), nil
}

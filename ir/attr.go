package ir

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// AttrKind is the kind of an attribute value.
type AttrKind uint8

// The attribute kinds and the Go types that hold them.
const (
	AttrInt     AttrKind = iota + 1 // int64
	AttrFloat                       // float64
	AttrString                      // string
	AttrBool                        // bool
	AttrInts                        // []int64
	AttrFloats                      // []float64
	AttrStrings                     // []string
	AttrDType                       // DType
	AttrShape                       // Shape (dims may be symbolic)
	AttrTensor                      // *Tensor
)

var attrKindNames = [...]string{
	AttrInt: "int", AttrFloat: "float", AttrString: "string", AttrBool: "bool",
	AttrInts: "ints", AttrFloats: "floats", AttrStrings: "strings",
	AttrDType: "dtype", AttrShape: "shape", AttrTensor: "tensor",
}

// String returns the kind's name.
func (k AttrKind) String() string {
	if int(k) < len(attrKindNames) && attrKindNames[k] != "" {
		return attrKindNames[k]
	}
	return fmt.Sprintf("attrkind(%d)", uint8(k))
}

// kindOf returns the kind of a Go attribute value, or 0 if it is not one.
func kindOf(v any) AttrKind {
	switch v.(type) {
	case int64:
		return AttrInt
	case float64:
		return AttrFloat
	case string:
		return AttrString
	case bool:
		return AttrBool
	case []int64:
		return AttrInts
	case []float64:
		return AttrFloats
	case []string:
		return AttrStrings
	case DType:
		return AttrDType
	case Shape:
		return AttrShape
	case *Tensor:
		return AttrTensor
	}
	return 0
}

// Attrs maps attribute names to values. Values have one of the Go types
// listed with AttrKind.
type Attrs map[string]any

// Int returns attribute k as an int64, or def when absent.
func (a Attrs) Int(k string, def int64) int64 {
	if v, ok := a[k].(int64); ok {
		return v
	}
	return def
}

// Float returns attribute k as a float64, or def when absent.
func (a Attrs) Float(k string, def float64) float64 {
	if v, ok := a[k].(float64); ok {
		return v
	}
	return def
}

// String returns attribute k as a string, or def when absent.
func (a Attrs) String(k string, def string) string {
	if v, ok := a[k].(string); ok {
		return v
	}
	return def
}

// Bool returns attribute k as a bool, or def when absent.
func (a Attrs) Bool(k string, def bool) bool {
	if v, ok := a[k].(bool); ok {
		return v
	}
	return def
}

// Ints returns attribute k as []int64, or nil when absent.
func (a Attrs) Ints(k string) []int64 { v, _ := a[k].([]int64); return v }

// Floats returns attribute k as []float64, or nil when absent.
func (a Attrs) Floats(k string) []float64 { v, _ := a[k].([]float64); return v }

// DType returns attribute k as a DType, or InvalidDType when absent.
func (a Attrs) DType(k string) DType { v, _ := a[k].(DType); return v }

// Shape returns attribute k as a Shape, or nil when absent.
func (a Attrs) Shape(k string) Shape { v, _ := a[k].(Shape); return v }

// Tensor returns attribute k as a tensor, or nil when absent.
func (a Attrs) Tensor(k string) *Tensor { v, _ := a[k].(*Tensor); return v }

// Clone returns a shallow copy of a (attribute values are immutable).
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	b := make(Attrs, len(a))
	for k, v := range a {
		b[k] = v
	}
	return b
}

// Keys returns the attribute names, sorted.
func (a Attrs) Keys() []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// attrsEqual reports whether a and b hold equal values (used by CSE).
func attrsEqual(a, b Attrs) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || FormatAttr(v) != FormatAttr(w) {
			return false
		}
	}
	return true
}

// AttrsEqual reports whether two attribute maps hold equal values.
func AttrsEqual(a, b Attrs) bool { return attrsEqual(a, b) }

// FormatAttr renders one attribute value in the text format.
func FormatAttr(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatFloat(v, 64)
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case []int64:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strconv.FormatInt(x, 10)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []float64:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = formatFloat(x, 64)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strconv.Quote(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case DType:
		return v.String()
	case Shape:
		return v.String()
	case *Tensor:
		return formatTensor(v)
	}
	return fmt.Sprintf("<bad attr %T>", v)
}

// formatFloat prints x so that it parses back to the same value of the
// given bit size and always reads as a float (1.0, 1e-05, inf, nan).
func formatFloat(x float64, bits int) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(x, 'g', -1, bits)
	if !strings.ContainsAny(s, ".en") {
		s += ".0"
	}
	return s
}

// formatTensor renders dense(f32[2,2], [1.0, 2.0, 3.0, 4.0]).
func formatTensor(t *Tensor) string {
	var b strings.Builder
	b.WriteString("dense(")
	b.WriteString(t.Type().String())
	b.WriteString(", [")
	n := int(t.NumElements())
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case t.DType == Bool:
			b.WriteString(strconv.FormatBool(t.IntAt(i) != 0))
		case t.DType.IsInt():
			b.WriteString(strconv.FormatInt(t.IntAt(i), 10))
		case t.DType == F64:
			b.WriteString(formatFloat(t.At(i), 64))
		default:
			b.WriteString(formatFloat(t.At(i), 32))
		}
	}
	b.WriteString("])")
	return b.String()
}

package ir

import "fmt"

// The ops below exist for models imported from ONNX whose operators have
// no exact spelling in the other ops: selection and comparison (Where,
// Equal, Less, Not, And, Or, …), Erf (GELU), ReduceMax (ReduceMax,
// ReduceMin, LogSoftmax), CumSum, and LinearScan, the first-order linear
// recurrence that an ONNX Scan whose state update is affine in the state
// (the Mamba selective scan, running sums, linear attention with an
// elementwise decay) is rewritten to, so that it runs for any sequence
// length:
//
//	LinearScan(a, b, h0?) {axis}:
//	  h[-1] = h0 (zeros when absent)
//	  h[t]  = a[t] * h[t-1] + b[t]      for t = 0 .. T-1 along axis
//	  y     = h[0 .. T-1] stacked along axis
//
// a and b broadcast to y's shape; h0 has y's shape without axis. The
// product and the sum are each rounded to the dtype, as the Mul and Add
// of the ONNX body are, and h[t] is stored in the dtype.

// CompareOps lists the comparisons Compare's cmp attribute selects.
var CompareOps = []string{"eq", "ne", "lt", "le", "gt", "ge"}

// defineONNXOps fills the op table entries of this file.
func defineONNXOps() {
	builtinOps[OpWhere] = &OpInfo{Name: "Where", Flags: Elementwise, Infer: inferWhere,
		Args:    []ArgSpec{{Name: "cond"}, {Name: "a"}, {Name: "b"}},
		Formula: "y = cond ? a : b (cond bool; the three operands broadcast)"}
	builtinOps[OpCompare] = &OpInfo{Name: "Compare", Flags: Elementwise, Infer: inferCompare,
		Args: []ArgSpec{{Name: "a"}, {Name: "b"}},
		Attrs: []AttrSpec{{Name: "cmp", Kind: AttrString, Required: true,
			Enum: CompareOps}},
		Formula: "y = a cmp b as bool, cmp one of ==, !=, <, <=, >, >= (operands broadcast; " +
			"NaN compares false except !=; false < true)"}
	builtinOps[OpErf] = unary("Erf", "y = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt", float)
	builtinOps[OpReduceMax] = reduce("ReduceMax", "y = max of x over axes (-inf, or the type's minimum, over no elements; NaN wins)")
	builtinOps[OpCumSum] = &OpInfo{Name: "CumSum", Infer: inferCumSum,
		Args: []ArgSpec{{Name: "x"}},
		Attrs: []AttrSpec{{Name: "axis", Kind: AttrInt, Required: true},
			{Name: "exclusive", Kind: AttrBool, Default: false},
			{Name: "reverse", Kind: AttrBool, Default: false}},
		Formula: "y[.., i, ..] = sum of x[.., j, ..] along axis over j <= i (j < i when exclusive; " +
			"j >= i, or j > i, when reverse), accumulated in float64 or int64"}
	builtinOps[OpLinearScan] = &OpInfo{Name: "LinearScan", Infer: inferLinearScan,
		Args:  []ArgSpec{{Name: "a"}, {Name: "b"}, {Name: "h0", Optional: true}},
		Attrs: []AttrSpec{{Name: "axis", Kind: AttrInt, Default: int64(0)}},
		Formula: "h[t] = a[t] * h[t-1] + b[t] along axis, h[-1] = h0 or 0, y = all h[t] " +
			"(product and sum each rounded to the dtype)"}
}

func inferWhere(v *Value) (Type, error) {
	c, a, b := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	if c.DType != Bool {
		return Type{}, fmt.Errorf("Where: cond is %v, want bool", c.DType)
	}
	if a.DType != b.DType {
		return Type{}, fmt.Errorf("Where: operand dtypes differ: %v and %v", a.DType, b.DType)
	}
	s, err := Broadcast(a.Shape, b.Shape)
	if err == nil {
		s, err = Broadcast(c.Shape, s)
	}
	if err != nil {
		return Type{}, fmt.Errorf("Where: %v", err)
	}
	return TensorType(a.DType, s), nil
}

func inferCompare(v *Value) (Type, error) {
	a, b := v.Args[0].Type, v.Args[1].Type
	if a.DType != b.DType {
		return Type{}, fmt.Errorf("Compare: operand dtypes differ: %v and %v", a.DType, b.DType)
	}
	if a.DType.Size() == 0 {
		return Type{}, fmt.Errorf("Compare: operands are %v", a.DType)
	}
	s, err := Broadcast(a.Shape, b.Shape)
	if err != nil {
		return Type{}, fmt.Errorf("Compare: %v", err)
	}
	return TensorType(Bool, s), nil
}

func inferCumSum(v *Value) (Type, error) {
	x := v.Args[0].Type
	if !numeric.ok(x.DType) {
		return Type{}, fmt.Errorf("CumSum: x is %v, want %s", x.DType, numeric.name)
	}
	if _, err := normAxis(v.IntAttr("axis"), x.Shape.Rank()); err != nil {
		return Type{}, fmt.Errorf("CumSum: %v", err)
	}
	return x, nil
}

func inferLinearScan(v *Value) (Type, error) {
	a, b := v.Args[0].Type, v.Args[1].Type
	if a.DType != b.DType || !a.DType.IsFloat() {
		return Type{}, fmt.Errorf("LinearScan: a is %v, b is %v; want the same float type", a.DType, b.DType)
	}
	s, err := Broadcast(a.Shape, b.Shape)
	if err != nil {
		return Type{}, fmt.Errorf("LinearScan: %v", err)
	}
	ax, err := normAxis(v.IntAttr("axis"), s.Rank())
	if err != nil {
		return Type{}, fmt.Errorf("LinearScan: %v", err)
	}
	if h := v.Arg(2); h != nil {
		want := append(s[:ax:ax], s[ax+1:]...)
		if h.Type.DType != a.DType || !h.Type.Shape.Equal(want) {
			return Type{}, fmt.Errorf("LinearScan: h0 is %v, want %v", h.Type, TensorType(a.DType, want))
		}
	}
	return TensorType(a.DType, s), nil
}

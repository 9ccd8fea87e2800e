package ir

import "fmt"

// The built-in ops. Their table entries are in builtinOps; the order of
// this list is the order of registration.
const (
	OpArg Op = iota
	OpParam
	OpConst
	OpExtract

	OpAdd
	OpSub
	OpMul
	OpDiv
	OpPow
	OpNeg
	OpExp
	OpLog
	OpSqrt
	OpRsqrt
	OpSigmoid
	OpSiLU
	OpSoftplus
	OpTanh
	OpRelu
	OpCast

	OpMatMul
	OpGather
	OpReshape
	OpTranspose
	OpSlice
	OpSplit
	OpConcat
	OpExpand
	OpReduceSum
	OpReduceMean
	OpRMSNorm
	OpSoftmax
	OpConv1d

	OpSelectiveScan
	OpSelectiveStateUpdate
	OpCausalConv1d
	OpLoRAMatMul

	OpWhere
	OpCompare
	OpErf
	OpReduceMax
	OpCumSum
	OpLinearScan

	OpAddRMSNorm
	OpFusedElementwise

	numBuiltinOps
)

func init() {
	defineTensorOps()
	defineSSMOps()
	defineFusedOps()
	defineONNXOps()
	for i := Op(0); i < numBuiltinOps; i++ {
		info := builtinOps[i]
		if info == nil {
			panic(fmt.Sprintf("ir: built-in op %d has no table entry", i))
		}
		if got := Register(info); got != i {
			panic("ir: built-in op registered out of order: " + info.Name)
		}
	}
}

// builtinOps is the op table of the built-in ops, indexed by Op.
var builtinOps = [numBuiltinOps]*OpInfo{
	OpArg: {Name: "Arg", Flags: Source, Infer: inferDeclared,
		Formula: "a runtime input of the function"},
	OpParam: {Name: "Param", Flags: Source, Infer: inferDeclared,
		Attrs:   []AttrSpec{{Name: "name", Kind: AttrString, Required: true}},
		Formula: "the weight tensor stored under name"},
	OpConst: {Name: "Const", Flags: Source, Infer: inferConst,
		Attrs:   []AttrSpec{{Name: "value", Kind: AttrTensor, Required: true}},
		Formula: "the inline tensor value"},
	OpExtract: {Name: "Extract", Infer: inferExtract,
		Args:    []ArgSpec{{Name: "tuple"}},
		Attrs:   []AttrSpec{{Name: "index", Kind: AttrInt, Required: true}},
		Formula: "y = tuple[index]"},

	OpAdd: binop("Add", "y = a + b", Commutative, numeric),
	OpSub: binop("Sub", "y = a - b", 0, numeric),
	OpMul: binop("Mul", "y = a * b", Commutative, numeric),
	OpDiv: binop("Div", "y = a / b (integer division truncates)", 0, numeric),
	OpPow: binop("Pow", "y = a ** b", 0, float),

	OpNeg:      unary("Neg", "y = -x", numeric),
	OpExp:      unary("Exp", "y = exp(x)", float),
	OpLog:      unary("Log", "y = log(x)", float),
	OpSqrt:     unary("Sqrt", "y = sqrt(x)", float),
	OpRsqrt:    unary("Rsqrt", "y = 1 / sqrt(x)", float),
	OpSigmoid:  unary("Sigmoid", "y = 1 / (1 + exp(-x))", float),
	OpSiLU:     unary("SiLU", "y = x * sigmoid(x)", float),
	OpSoftplus: unary("Softplus", "y = log(1 + exp(x))", float),
	OpTanh:     unary("Tanh", "y = tanh(x)", float),
	OpRelu:     unary("Relu", "y = max(x, 0)", numeric),
	OpCast: {Name: "Cast", Flags: Elementwise, Infer: inferCast,
		Args:  []ArgSpec{{Name: "x"}},
		Attrs: []AttrSpec{{Name: "to", Kind: AttrDType, Required: true}},
		Formula: "y = (to) x: floats round to nearest even; float -> int truncates toward zero, " +
			"saturating, NaN -> 0; int -> float rounds to nearest; anything -> bool is x != 0"},
}

// dtypeRule is a predicate on operand dtypes with a name for errors.
type dtypeRule struct {
	ok   func(DType) bool
	name string
}

var (
	numeric = dtypeRule{func(d DType) bool { return d.IsFloat() || d.IsInt() }, "a number type"}
	float   = dtypeRule{DType.IsFloat, "a float type"}
)

func unary(name, formula string, rule dtypeRule) *OpInfo {
	return &OpInfo{Name: name, Flags: Elementwise, Args: []ArgSpec{{Name: "x"}}, Formula: formula,
		Infer: func(v *Value) (Type, error) {
			t := v.Args[0].Type
			if !rule.ok(t.DType) {
				return Type{}, fmt.Errorf("%s: x is %v, want %s", name, t.DType, rule.name)
			}
			return t, nil
		}}
}

func binop(name, formula string, flags OpFlags, rule dtypeRule) *OpInfo {
	return &OpInfo{Name: name, Flags: Elementwise | flags, Args: []ArgSpec{{Name: "a"}, {Name: "b"}}, Formula: formula,
		Infer: func(v *Value) (Type, error) {
			a, b := v.Args[0].Type, v.Args[1].Type
			if a.DType != b.DType {
				return Type{}, fmt.Errorf("%s: operand dtypes differ: %v and %v", name, a.DType, b.DType)
			}
			if !rule.ok(a.DType) {
				return Type{}, fmt.Errorf("%s: operands are %v, want %s", name, a.DType, rule.name)
			}
			s, err := Broadcast(a.Shape, b.Shape)
			if err != nil {
				return Type{}, fmt.Errorf("%s: %v", name, err)
			}
			return TensorType(a.DType, s), nil
		}}
}

func inferDeclared(v *Value) (Type, error) {
	if v.Type.IsTuple() || v.Type.DType == InvalidDType {
		return Type{}, fmt.Errorf("%s needs a tensor type, has %v", v.Op, v.Type)
	}
	for _, d := range v.Type.Shape {
		if d.IsStatic() && d.Off < 0 {
			return Type{}, fmt.Errorf("%s: negative dimension in %v", v.Op, v.Type)
		}
	}
	return v.Type, nil
}

func inferConst(v *Value) (Type, error) {
	t := v.Attrs.Tensor("value")
	if t == nil {
		return Type{}, fmt.Errorf("Const: value is missing")
	}
	return t.Type(), nil
}

func inferExtract(v *Value) (Type, error) {
	t := v.Args[0].Type
	if !t.IsTuple() {
		return Type{}, fmt.Errorf("Extract: operand is %v, not a tuple", t)
	}
	i := v.Attrs.Int("index", -1)
	if i < 0 || i >= int64(len(t.Elems)) {
		return Type{}, fmt.Errorf("Extract: index %d out of range for %v", i, t)
	}
	return t.Elems[i], nil
}

func inferCast(v *Value) (Type, error) {
	to := v.Attrs.DType("to")
	if to == InvalidDType {
		return Type{}, fmt.Errorf("Cast: invalid target dtype")
	}
	return TensorType(to, v.Args[0].Type.Shape), nil
}

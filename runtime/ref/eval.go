package ref

import (
	"fmt"
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// EvalOp evaluates one value given its operand tensors: args has one entry
// per operand, in the order of v.Args, nil for absent optional operands.
// For Extract, whose operand is a tuple, args are the tuple's elements. It
// returns one tensor per result: 1 for single-result ops, len(v.Type.Elems)
// for tuple-typed ops.
//
// The operand tensors must have the dtypes of v's operand types and shapes
// that bind their symbolic dims consistently (ir.BindShape); the op's
// shape and dtype rules (ir.InferType) are then checked on the concrete
// shapes, and the result must match v's declared type. Const returns a
// copy of its tensor; Arg and Param have no value outside Run and are
// errors here.
func EvalOp(v *ir.Value, args []*ir.Tensor) ([]*ir.Tensor, error) {
	if v == nil {
		return nil, fmt.Errorf("ref: EvalOp of a nil value")
	}
	res, err := evalOp(v, args, map[string]int64{})
	if err != nil {
		return nil, fmt.Errorf("ref: %w", err)
	}
	return res, nil
}

// call is one op evaluation with everything checked: the kernels read
// static shapes and attributes from at and trust that the operands match.
type call struct {
	v    *ir.Value    // the value being evaluated, for error messages
	at   *ir.Value    // v with static operand types and attributes
	args []*ir.Tensor // operand tensors, nil when absent
	out  []ir.Type    // the concrete result types
}

// errorf returns an error naming the value.
func (c *call) errorf(format string, a ...any) error {
	return fmt.Errorf("%s: %s", describe(c.v), fmt.Sprintf(format, a...))
}

// arg returns operand tensor i, or nil when it is absent.
func (c *call) arg(i int) *ir.Tensor {
	if i < len(c.args) {
		return c.args[i]
	}
	return nil
}

// outShape returns the static shape of result i.
func (c *call) outShape(i int) []int64 { return c.out[i].Shape.Sizes() }

// kernel computes an op's results.
type kernel func(c *call) ([]*ir.Tensor, error)

// kernels maps each built-in op to its reference kernel.
var kernels = map[ir.Op]kernel{
	ir.OpAdd: evalBinary, ir.OpSub: evalBinary, ir.OpMul: evalBinary, ir.OpDiv: evalBinary, ir.OpPow: evalBinary,
	ir.OpNeg: evalUnary, ir.OpExp: evalUnary, ir.OpLog: evalUnary, ir.OpSqrt: evalUnary, ir.OpRsqrt: evalUnary,
	ir.OpSigmoid: evalUnary, ir.OpSiLU: evalUnary, ir.OpSoftplus: evalUnary, ir.OpTanh: evalUnary, ir.OpRelu: evalUnary,
	ir.OpCast:   evalCast,
	ir.OpMatMul: evalMatMul, ir.OpLoRAMatMul: evalLoRAMatMul,
	ir.OpGather: evalGather, ir.OpReshape: evalReshape, ir.OpTranspose: evalTranspose, ir.OpSlice: evalSlice,
	ir.OpSplit: evalSplit, ir.OpConcat: evalConcat, ir.OpExpand: evalExpand,
	ir.OpReduceSum: evalReduce, ir.OpReduceMean: evalReduce, ir.OpRMSNorm: evalRMSNorm, ir.OpSoftmax: evalSoftmax,
	ir.OpConv1d: evalConv1d, ir.OpCausalConv1d: evalCausalConv1d,
	ir.OpSelectiveScan: evalScan, ir.OpSelectiveStateUpdate: evalScan,
	ir.OpWhere:      evalWhere,
	ir.OpCompare:    evalCompare,
	ir.OpErf:        evalErf,
	ir.OpReduceMax:  evalReduceMax,
	ir.OpCumSum:     evalCumSum,
	ir.OpLinearScan: evalLinearScan,
}

// evalOp is EvalOp with the symbol bindings env shared across a Run.
func evalOp(v *ir.Value, args []*ir.Tensor, env map[string]int64) ([]*ir.Tensor, error) {
	if op, ok := ir.Lookup(v.Op.String()); !ok || op != v.Op {
		return nil, fmt.Errorf("%v: unknown op %v", v, v.Op)
	}
	switch v.Op {
	case ir.OpArg:
		return nil, fmt.Errorf("%s: an argument has no value outside Run", describe(v))
	case ir.OpParam:
		return nil, fmt.Errorf("%s: a Param needs weights; use Run", describe(v))
	case ir.OpConst:
		return evalConst(v, args, env)
	case ir.OpExtract:
		return evalExtract(v, args, env)
	}
	k := kernels[v.Op]
	if k == nil {
		return nil, fmt.Errorf("%s: no reference kernel for op %v", describe(v), v.Op)
	}
	c, err := prepare(v, args, env)
	if err != nil {
		return nil, err
	}
	res, err := k(c)
	if err != nil {
		return nil, err
	}
	if len(res) != len(c.out) {
		return nil, c.errorf("internal error: kernel returned %d results, want %d", len(res), len(c.out))
	}
	for i, r := range res {
		if !r.Type().Equal(c.out[i]) {
			return nil, c.errorf("internal error: result %d is %v, want %v", i, r.Type(), c.out[i])
		}
	}
	return res, nil
}

// prepare checks the operand tensors against v's operand types, binding
// their symbols in env, evaluates symbolic shape attributes, recomputes
// the result types from the op table on the concrete shapes and checks
// them against v's declared type.
func prepare(v *ir.Value, args []*ir.Tensor, env map[string]int64) (*call, error) {
	fail := func(format string, a ...any) (*call, error) {
		return nil, fmt.Errorf("%s: %s", describe(v), fmt.Sprintf(format, a...))
	}
	if len(args) > len(v.Args) {
		return fail("%d operand tensors for %d operands", len(args), len(v.Args))
	}
	static := make([]*ir.Value, len(v.Args))
	full := make([]*ir.Tensor, len(v.Args))
	for i, a := range v.Args {
		var t *ir.Tensor
		if i < len(args) {
			t = args[i]
		}
		switch {
		case a == nil && t == nil:
			continue
		case a == nil:
			return fail("operand %d is absent but a tensor was given", i)
		case t == nil:
			return fail("operand %d (%v) has no tensor", i, a)
		case a.Type.IsTuple():
			return fail("operand %d (%v) is a tuple; only Extract takes tuples", i, a)
		}
		if err := checkTensor(t); err != nil {
			return fail("operand %d (%v): %v", i, a, err)
		}
		if t.DType != a.Type.DType {
			return fail("operand %d (%v) is %v%v, want %v", i, a, t.DType, t.Shape, a.Type)
		}
		if err := ir.BindShape(a.Type.Shape, t.Shape, env); err != nil {
			return fail("operand %d (%v) has shape %v, want %v: %v", i, a, t.Shape, a.Type.Shape, err)
		}
		static[i] = &ir.Value{Op: ir.OpArg, Name: a.Name, Type: t.Type()}
		full[i] = t
	}
	attrs := v.Attrs.Clone()
	for k, a := range attrs {
		if s, ok := a.(ir.Shape); ok {
			sizes, err := ir.EvalShape(s, env)
			if err != nil {
				return fail("attribute %s = %v: %v", k, s, err)
			}
			attrs[k] = ir.Static(sizes...)
		}
	}
	at := &ir.Value{ID: v.ID, Op: v.Op, Args: static, Attrs: attrs}
	t, err := inferType(at)
	if err != nil {
		return fail("%v", err)
	}
	at.Type = t
	out := []ir.Type{t}
	if t.IsTuple() {
		out = t.Elems
	}
	if err := checkResults(v, out, env); err != nil {
		return nil, err
	}
	return &call{v: v, at: at, args: full, out: out}, nil
}

// checkResults checks concrete result types against v's declared type
// (binding its new symbols in env) and refuses results over MaxElements.
func checkResults(v *ir.Value, out []ir.Type, env map[string]int64) error {
	decl := []ir.Type{v.Type}
	if v.Type.IsTuple() {
		decl = v.Type.Elems
	}
	if len(decl) != len(out) {
		return fmt.Errorf("%s: the op gives %d results, the type has %d", describe(v), len(out), len(decl))
	}
	for i, o := range out {
		sizes := o.Shape.Sizes()
		if slices.Contains(sizes, -1) {
			return fmt.Errorf("%s: result %d has non-static shape %v", describe(v), i, o.Shape)
		}
		if _, err := numElements(sizes); err != nil {
			return fmt.Errorf("%s: result %d: %v", describe(v), i, err)
		}
		if decl[i].IsTuple() || decl[i].DType != o.DType {
			return fmt.Errorf("%s: result %d is %v, declared %v", describe(v), i, o, decl[i])
		}
		if err := ir.BindShape(decl[i].Shape, sizes, env); err != nil {
			return fmt.Errorf("%s: result %d is %v, declared %v: %v", describe(v), i, o, decl[i], err)
		}
	}
	return nil
}

// evalConst returns a copy of a Const's tensor.
func evalConst(v *ir.Value, args []*ir.Tensor, env map[string]int64) ([]*ir.Tensor, error) {
	if len(args) != 0 {
		return nil, fmt.Errorf("%s: Const takes no operands, got %d", describe(v), len(args))
	}
	t, ok := v.Attrs["value"].(*ir.Tensor)
	if !ok || t == nil {
		return nil, fmt.Errorf("%s: Const has no tensor value", describe(v))
	}
	if err := checkTensor(t); err != nil {
		return nil, fmt.Errorf("%s: %v", describe(v), err)
	}
	if err := checkResults(v, []ir.Type{t.Type()}, env); err != nil {
		return nil, err
	}
	return []*ir.Tensor{cloneTensor(t)}, nil
}

// evalExtract returns element index of the tuple whose elements are args.
func evalExtract(v *ir.Value, args []*ir.Tensor, env map[string]int64) ([]*ir.Tensor, error) {
	if len(v.Args) != 1 || v.Args[0] == nil || !v.Args[0].Type.IsTuple() {
		return nil, fmt.Errorf("%s: Extract needs one tuple operand", describe(v))
	}
	elems := v.Args[0].Type.Elems
	if len(args) != len(elems) {
		return nil, fmt.Errorf("%s: %d tensors for a tuple of %d", describe(v), len(args), len(elems))
	}
	for i, t := range args {
		if err := checkTensor(t); err != nil {
			return nil, fmt.Errorf("%s: tuple element %d: %v", describe(v), i, err)
		}
		if t.DType != elems[i].DType || elems[i].IsTuple() {
			return nil, fmt.Errorf("%s: tuple element %d is %v%v, want %v", describe(v), i, t.DType, t.Shape, elems[i])
		}
		if err := ir.BindShape(elems[i].Shape, t.Shape, env); err != nil {
			return nil, fmt.Errorf("%s: tuple element %d: %v", describe(v), i, err)
		}
	}
	idx, ok := v.Attrs["index"].(int64)
	if !ok || idx < 0 || idx >= int64(len(args)) {
		return nil, fmt.Errorf("%s: index %v out of range for %d elements", describe(v), v.Attrs["index"], len(args))
	}
	t := args[idx]
	if err := checkResults(v, []ir.Type{t.Type()}, env); err != nil {
		return nil, err
	}
	return []*ir.Tensor{t}, nil
}

// inferType is ir.InferType, with a panic in the op table's type function
// (a bug in package ir, reachable from a hostile file) turned into an
// error. Known case: MatMul of two rank-1 operands.
func inferType(v *ir.Value) (t ir.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the op table's type rule failed on operands %v: %v", operandTypes(v), r)
		}
	}()
	return ir.InferType(v)
}

// operandTypes lists v's operand types for messages.
func operandTypes(v *ir.Value) []string {
	var out []string
	for _, a := range v.Args {
		if a == nil {
			out = append(out, "_")
		} else {
			out = append(out, a.Type.String())
		}
	}
	return out
}

// describe names v in errors: its op and type (v.LongString), after its
// position in the IR text when it was parsed.
func describe(v *ir.Value) string {
	if p := v.Pos.String(); p != "" {
		return p + ": " + v.LongString()
	}
	return v.LongString()
}

package ref

import (
	"context"
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// Options configure RunWithOptions. The zero value is Run's behaviour.
type Options struct {
	// Context, when non-nil, is checked before each value is evaluated;
	// once it is done, RunWithOptions returns its error.
	Context context.Context
	// Observe, when non-nil, is called after each body value is evaluated
	// with its results (one tensor, or one per tuple element). The tensors
	// belong to the interpreter: Observe must not modify them.
	Observe func(v *ir.Value, results []*ir.Tensor)
}

// Run interprets function f. Inputs are given in argument order; their
// shapes bind the symbolic dims of the argument types (ir.BindShape), and
// a mismatch is an error naming the argument. Param values are looked up
// by their "name" attribute in weights (a missing weight, or one whose
// dtype or shape differs from the Param's type, is an error naming it);
// Const values come from their tensor. Run returns the results in order.
// Results may share storage with inputs or weights that f returns
// unchanged.
func Run(f *ir.Func, weights map[string]*ir.Tensor, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	return RunWithOptions(f, weights, inputs, Options{})
}

// RunWithOptions is Run with options. The reference loop:
//
//	bind every argument's shape; vals[arg] = input
//	for v in f.Body (topological order):
//	    vals[v] = weights[name] (Param) | EvalOp(v, vals[v.Args...])
//	return vals[f.Results...]
func RunWithOptions(f *ir.Func, weights map[string]*ir.Tensor, inputs []*ir.Tensor, opts Options) ([]*ir.Tensor, error) {
	if f == nil {
		return nil, fmt.Errorf("ref: nil function")
	}
	if len(inputs) != len(f.Args) {
		return nil, fmt.Errorf("ref: @%s takes %d inputs, got %d", f.Name, len(f.Args), len(inputs))
	}
	env := map[string]int64{}
	vals := map[*ir.Value][]*ir.Tensor{}
	for i, a := range f.Args {
		if a == nil {
			return nil, fmt.Errorf("ref: @%s: argument %d is nil", f.Name, i)
		}
		in := inputs[i]
		if err := checkTensor(in); err != nil {
			return nil, fmt.Errorf("ref: @%s: input %d (%v): %v", f.Name, i, a, err)
		}
		if in.DType != a.Type.DType {
			return nil, fmt.Errorf("ref: @%s: input %d (%v) is %v, want %v", f.Name, i, a, in.DType, a.Type)
		}
		if err := ir.BindShape(a.Type.Shape, in.Shape, env); err != nil {
			return nil, fmt.Errorf("ref: @%s: input %d (%v) has shape %v, want %v: %v", f.Name, i, a, in.Shape, a.Type.Shape, err)
		}
		vals[a] = []*ir.Tensor{in}
	}
	for _, v := range f.Body {
		if v == nil {
			return nil, fmt.Errorf("ref: @%s: nil value in the body", f.Name)
		}
		if opts.Context != nil {
			if err := opts.Context.Err(); err != nil {
				return nil, fmt.Errorf("ref: @%s: stopped before %v: %w", f.Name, v, err)
			}
		}
		var res []*ir.Tensor
		var err error
		if v.Op == ir.OpParam {
			res, err = evalParam(v, weights, env)
		} else {
			var args []*ir.Tensor
			if args, err = operandsOf(v, vals); err == nil {
				res, err = evalOp(v, args, env)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("ref: @%s: %w", f.Name, err)
		}
		vals[v] = res
		if opts.Observe != nil {
			opts.Observe(v, res)
		}
	}
	out := make([]*ir.Tensor, len(f.Results))
	for i, r := range f.Results {
		res, ok := vals[r]
		if !ok || len(res) != 1 || r.Type.IsTuple() {
			return nil, fmt.Errorf("ref: @%s: result %d (%v) is not a tensor value of the function", f.Name, i, r)
		}
		out[i] = res[0]
	}
	return out, nil
}

// operandsOf returns the tensors of v's operands: one per operand (nil when
// absent), or for Extract the elements of its tuple operand.
func operandsOf(v *ir.Value, vals map[*ir.Value][]*ir.Tensor) ([]*ir.Tensor, error) {
	args := make([]*ir.Tensor, len(v.Args))
	for i, a := range v.Args {
		if a == nil {
			continue
		}
		res, ok := vals[a]
		if !ok {
			return nil, fmt.Errorf("%s: operand %d (%v) is not defined before its use", describe(v), i, a)
		}
		if v.Op == ir.OpExtract {
			if len(v.Args) != 1 || !a.Type.IsTuple() {
				return nil, fmt.Errorf("%s: operand is not a tuple", describe(v))
			}
			return res, nil
		}
		if len(res) != 1 || a.Type.IsTuple() {
			return nil, fmt.Errorf("%s: operand %d (%v) is a tuple; only Extract takes tuples", describe(v), i, a)
		}
		args[i] = res[0]
	}
	return args, nil
}

// evalParam looks up a Param's weight and checks it against the declared
// type (binding any symbols of that type in env).
func evalParam(v *ir.Value, weights map[string]*ir.Tensor, env map[string]int64) ([]*ir.Tensor, error) {
	name, ok := v.Attrs["name"].(string)
	if !ok {
		return nil, fmt.Errorf("%s: Param has no name", describe(v))
	}
	w := weights[name]
	if w == nil {
		return nil, fmt.Errorf("%s: missing weight %q", describe(v), name)
	}
	if err := checkTensor(w); err != nil {
		return nil, fmt.Errorf("%s: weight %q: %v", describe(v), name, err)
	}
	if v.Type.IsTuple() || w.DType != v.Type.DType {
		return nil, fmt.Errorf("%s: weight %q is %v%v, want %v", describe(v), name, w.DType, w.Shape, v.Type)
	}
	if err := ir.BindShape(v.Type.Shape, w.Shape, env); err != nil {
		return nil, fmt.Errorf("%s: weight %q is %v%v, want %v: %v", describe(v), name, w.DType, w.Shape, v.Type, err)
	}
	return []*ir.Tensor{w}, nil
}

package onnx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(7, convIf, "If")
	register(7, convLoop, "Loop")
	register(8, convScan, "Scan")
}

// maxUnroll bounds the trip count of an unrolled Loop or Scan.
const maxUnroll = 1 << 14

// inline converts a subgraph into n's function with the given values
// bound to its inputs, and returns its outputs.
func (n *node) inline(gp *onnxpb.GraphProto, inputs []*val) []*val {
	if !n.ok() {
		return nil
	}
	if len(gp.GetInput()) != len(inputs) {
		n.failf("subgraph %q has %d inputs, want %d", clip(gp.GetName()), len(gp.GetInput()), len(inputs))
		return nil
	}
	cg := n.g.child()
	if err := cg.addInitializers(gp); err != nil {
		n.fail(err)
		return nil
	}
	for i, in := range gp.GetInput() {
		cg.vals[in.GetName()] = inputs[i]
	}
	if err := cg.convertNodes(gp); err != nil {
		n.fail(err)
		return nil
	}
	outs, err := cg.graphOutputs(gp)
	n.fail(err)
	return outs
}

// convIf inlines the branch a condition known at import time selects;
// otherwise it converts both and selects each output with Where (the
// branches must then give outputs of the same type).
func convIf(n *node) []*val {
	cond := n.need(0)
	thenG, elseG := n.graph("then_branch"), n.graph("else_branch")
	if !n.ok() {
		return nil
	}
	if c, ok := cond.ints(); ok {
		if len(c) != 1 {
			n.failf("condition has %d elements", len(c))
			return nil
		}
		if c[0] != 0 {
			return n.inline(thenG, nil)
		}
		return n.inline(elseG, nil)
	}
	if num, ok := cond.shape().NumElements(); cond.dtype() != ir.Bool || !ok || num != ir.StaticDim(1) {
		n.failf("condition is %v, want one bool", cond.typ)
		return nil
	}
	a, b := n.inline(thenG, nil), n.inline(elseG, nil)
	if !n.ok() {
		return nil
	}
	if len(a) != len(b) {
		n.failf("branches have %d and %d outputs", len(a), len(b))
		return nil
	}
	c := n.reshape(cond, ir.Shape{})
	out := make([]*val, len(a))
	for i := range a {
		if !a[i].typ.Equal(b[i].typ) {
			n.unsupported("branches with outputs of different types (%v, %v) chosen at run time", a[i].typ, b[i].typ)
			return nil
		}
		out[i] = n.where(c, a[i], b[i])
	}
	return out
}

// convLoop unrolls a Loop whose trip count is known at import time and
// whose condition, after every iteration, is too.
func convLoop(n *node) []*val {
	body := n.graph("body")
	if !n.ok() {
		return nil
	}
	trip := int64(-1)
	if m := n.arg(0); m != nil {
		v, ok := m.ints()
		if !ok || len(v) != 1 {
			n.unsupported("trip count computed at run time")
			return nil
		}
		trip = v[0]
	}
	cond := scalar(ir.Bool, 1)
	if c := n.arg(1); c != nil {
		cond = c
	}
	carried := append([]*val(nil), n.in[min(2, len(n.in)):]...)
	for i, c := range carried {
		if c == nil {
			n.failf("loop-carried input %d is absent", i)
			return nil
		}
	}
	nOut := len(body.GetOutput()) - 1 - len(carried)
	if nOut < 0 || len(body.GetInput()) != 2+len(carried) {
		n.failf("body has %d inputs and %d outputs for %d loop-carried values", len(body.GetInput()), len(body.GetOutput()), len(carried))
		return nil
	}
	scans := make([][]*val, nOut)
	for it := int64(0); trip < 0 || it < trip; it++ {
		c, ok := cond.ints()
		if !ok || len(c) != 1 {
			n.unsupported("loop condition computed at run time")
			return nil
		}
		if c[0] == 0 {
			break
		}
		if it >= maxUnroll {
			n.unsupported("more than %d iterations", maxUnroll)
			return nil
		}
		iter := constVal(ir.TensorFromInt64s(ir.I64, nil, []int64{it}))
		outs := n.inline(body, append([]*val{iter, cond}, carried...))
		if !n.ok() {
			return nil
		}
		cond = outs[0]
		copy(carried, outs[1:1+len(carried)])
		for k := range scans {
			scans[k] = append(scans[k], outs[1+len(carried)+k])
		}
	}
	res := append([]*val(nil), carried...)
	for k := range scans {
		if len(scans[k]) == 0 {
			n.unsupported("scan outputs of a loop that runs no iteration")
			return nil
		}
		res = append(res, n.stack(scans[k], 0, false))
	}
	return res
}

// stack concatenates per-step values along a new axis (in reverse order
// when reverse).
func (n *node) stack(steps []*val, axis int, reverse bool) *val {
	parts := make([]*val, len(steps))
	for i, s := range steps {
		if reverse {
			s = steps[len(steps)-1-i]
		}
		sh := s.shape()
		if axis > len(sh) {
			n.failf("axis %d out of range for rank %d", axis, len(sh)+1)
			return placeholder()
		}
		up := append(append(sh[:axis:axis], ir.StaticDim(1)), sh[axis:]...)
		parts[i] = n.reshape(s, up)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return n.op(ir.OpConcat, ir.Attrs{"axis": int64(axis)}, parts...)
}

// scanSpec describes a Scan in the opset-9 form.
type scanSpec struct {
	body            *onnxpb.GraphProto
	states, inputs  []*val
	inAxes, outAxes []int
	inRev, outRev   []bool
	numOut          int
}

// convScan converts Scan: by vectorizing its body over the sequence when
// the state update is affine in the state (see vectorizeScan), otherwise
// by unrolling a sequence of static length.
func convScan(n *node) []*val {
	body := n.graph("body")
	m := int(n.int("num_scan_inputs", 0))
	if !n.ok() {
		return nil
	}
	if n.opset < 9 {
		return n.scan8(body, m)
	}
	nState := len(n.in) - m
	if m <= 0 || nState < 0 {
		n.failf("num_scan_inputs %d for %d inputs", m, len(n.in))
		return nil
	}
	sp := &scanSpec{body: body, states: n.in[:nState], inputs: n.in[nState:]}
	if !n.scanAttrs(sp, 0) {
		return nil
	}
	return n.scan(sp)
}

// scanAttrs reads the axes and directions; base is added to the default
// axes (opset 8 scans axis 1 of [batch, seq, ...] inputs, handled one
// batch element at a time, so base 0 there too).
func (n *node) scanAttrs(sp *scanSpec, base int) bool {
	for i, x := range append(sp.states, sp.inputs...) {
		if x == nil {
			n.failf("input %d is absent", i)
			return false
		}
	}
	sp.numOut = len(sp.body.GetOutput()) - len(sp.states)
	if sp.numOut < 0 || len(sp.body.GetInput()) != len(sp.states)+len(sp.inputs) {
		n.failf("body has %d inputs and %d outputs for %d states and %d scan inputs",
			len(sp.body.GetInput()), len(sp.body.GetOutput()), len(sp.states), len(sp.inputs))
		return false
	}
	get := func(name string, count int, rank func(int) int) []int {
		vals := n.ints(name, nil)
		if vals != nil && len(vals) != count {
			n.failf("%s has %d entries, want %d", name, len(vals), count)
			return make([]int, count)
		}
		out := make([]int, count)
		for i := range out {
			v := int64(base)
			if vals != nil {
				v = vals[i]
			}
			if rank != nil {
				out[i] = n.normAxis(v, rank(i))
			} else {
				out[i] = int(v)
			}
		}
		return out
	}
	sp.inAxes = get("scan_input_axes", len(sp.inputs), func(i int) int { return sp.inputs[i].rank() })
	sp.outAxes = get("scan_output_axes", sp.numOut, nil) // normalized once the rank is known
	dirs := "scan_input_directions"
	if n.opset < 9 {
		dirs = "directions"
	}
	for _, d := range get(dirs, len(sp.inputs), nil) {
		sp.inRev = append(sp.inRev, d != 0)
	}
	for _, d := range get("scan_output_directions", sp.numOut, nil) {
		sp.outRev = append(sp.outRev, d != 0)
	}
	return n.ok()
}

// scan converts an opset-9 Scan and returns the final states followed by
// the scan outputs.
func (n *node) scan(sp *scanSpec) []*val {
	var T ir.Dim
	for i, x := range sp.inputs {
		d := x.shape()[sp.inAxes[i]]
		if i == 0 {
			T = d
		} else if d != T {
			n.failf("scan inputs have lengths %v and %v", T, d)
			return nil
		}
	}
	res, err := n.vectorizeScan(sp, T)
	if err == nil {
		return res
	}
	if !errors.Is(err, errNoVec) {
		n.fail(err)
		return nil
	}
	if !T.IsStatic() {
		n.unsupported("a body whose state update is not affine in the state (%s), over a sequence of symbolic length %v",
			strings.TrimPrefix(err.Error(), errNoVec.Error()+": "), T)
		return nil
	}
	return n.unrollScan(sp, T.Off)
}

// stepOf returns scan input i at step t (in scan order), without the
// scanned axis.
func (n *node) stepOf(sp *scanSpec, i int, t, T int64) *val {
	x, ax := sp.inputs[i], sp.inAxes[i]
	if sp.inRev[i] {
		t = T - 1 - t
	}
	s := n.slice(x, []int64{int64(ax)}, []int64{t}, []int64{t + 1}, []int64{1})
	sh := x.shape()
	return n.reshape(s, append(sh[:ax:ax], sh[ax+1:]...))
}

// unrollScan converts the body once per step.
func (n *node) unrollScan(sp *scanSpec, T int64) []*val {
	if T > maxUnroll {
		n.unsupported("a sequence of %d steps (over %d) with a body that is not affine in the state", T, maxUnroll)
		return nil
	}
	if T == 0 {
		n.unsupported("an empty sequence")
		return nil
	}
	states := append([]*val(nil), sp.states...)
	steps := make([][]*val, sp.numOut)
	for t := int64(0); t < T; t++ {
		in := append([]*val(nil), states...)
		for i := range sp.inputs {
			in = append(in, n.stepOf(sp, i, t, T))
		}
		outs := n.inline(sp.body, in)
		if !n.ok() {
			return nil
		}
		copy(states, outs[:len(states)])
		for k := range steps {
			steps[k] = append(steps[k], outs[len(states)+k])
		}
	}
	res := states
	for k := range steps {
		ax := sp.outAxes[k]
		r := steps[k][0].rank() + 1
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax >= r {
			n.failf("scan_output_axes[%d] = %d out of range for rank %d", k, sp.outAxes[k], r)
			return nil
		}
		res = append(res, n.stack(steps[k], ax, sp.outRev[k]))
	}
	return res
}

// scan8 converts an opset-8 Scan: inputs [sequence_lens?, states...,
// scan inputs...] with a leading batch axis (scan inputs [batch, seq,
// ...]); the body sees one batch element. It runs the opset-9 form per
// batch element and stacks the results.
func (n *node) scan8(body *onnxpb.GraphProto, m int) []*val {
	if n.arg(0) != nil {
		n.unsupported("sequence_lens")
		return nil
	}
	rest := n.in[1:]
	nState := len(rest) - m
	if m <= 0 || nState < 0 {
		n.failf("num_scan_inputs %d for %d inputs", m, len(n.in))
		return nil
	}
	all := rest
	if len(all) == 0 || all[0] == nil {
		n.failf("no inputs")
		return nil
	}
	B := all[0].shape()
	if len(B) == 0 || !B[0].IsStatic() {
		n.unsupported("opset-8 Scan with a symbolic batch size")
		return nil
	}
	batch := B[0].Off
	if batch > maxUnroll {
		n.unsupported("a batch of %d", batch)
		return nil
	}
	var per [][]*val
	for b := int64(0); b < batch; b++ {
		sp := &scanSpec{body: body}
		for i, x := range all {
			if x == nil || x.rank() == 0 || x.shape()[0] != B[0] {
				n.failf("input %d does not have the batch size %d", i+1, batch)
				return nil
			}
			s := n.slice(x, []int64{0}, []int64{b}, []int64{b + 1}, []int64{1})
			s = n.reshape(s, x.shape()[1:])
			if i < nState {
				sp.states = append(sp.states, s)
			} else {
				sp.inputs = append(sp.inputs, s)
			}
		}
		if !n.scanAttrs(sp, 0) {
			return nil
		}
		r := n.scan(sp)
		if !n.ok() {
			return nil
		}
		per = append(per, r)
	}
	out := make([]*val, len(per[0]))
	for k := range out {
		col := make([]*val, batch)
		for b := range col {
			col[b] = per[b][k]
		}
		out[k] = n.stack(col, 0, false)
	}
	return out
}

// errNoVec reports that a Scan body cannot be vectorized; the Scan is
// unrolled instead when its length is static.
var errNoVec = errors.New("not vectorizable")

// noVec returns an error wrapping errNoVec with a reason.
func noVec(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errNoVec, fmt.Sprintf(format, a...))
}

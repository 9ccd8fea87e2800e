package onnx

import (
	"container/heap"
	"errors"
	"fmt"
	"strconv"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// graphCtx converts one ONNX graph (the model's, or a subgraph) into IR.
// A subgraph either emits into its parent's function (If branches, the
// iterations of an unrolled Loop or Scan: sameFunc) or into a function of
// its own (a Scan body being vectorized), where the outer values it reads
// become extra arguments (captures).
type graphCtx struct {
	imp      *importer
	f        *ir.Func
	parent   *graphCtx
	sameFunc bool
	vals     map[string]*val
	argNames *names // the function's argument names
	captures []capture
}

// capture is an outer value a body function reads, passed in as arg.
type capture struct {
	arg   *ir.Value
	outer *val
}

// newRoot returns the context of a graph that has a function of its own.
func newRoot(imp *importer, f *ir.Func, parent *graphCtx) *graphCtx {
	return &graphCtx{imp: imp, f: f, parent: parent, vals: map[string]*val{}, argNames: newNames()}
}

// child returns a context for a subgraph that emits into g's function.
func (g *graphCtx) child() *graphCtx {
	return &graphCtx{imp: g.imp, f: g.f, parent: g, sameFunc: true, vals: map[string]*val{}, argNames: g.argNames}
}

// lookup resolves an ONNX name in g and its enclosing graphs. Outer
// values that are constants or weights are copied (their IR values are
// made in g's function when used); other outer values of a function of
// its own become captures.
func (g *graphCtx) lookup(name string) *val {
	if v, ok := g.vals[name]; ok {
		return v
	}
	if g.parent == nil {
		return nil
	}
	pv := g.parent.lookup(name)
	if pv == nil || g.sameFunc {
		return pv
	}
	var nv *val
	if pv.c != nil || pv.dims != nil || pv.param != "" {
		nv = &val{typ: pv.typ, c: pv.c, dims: pv.dims, param: pv.param}
	} else {
		a := g.f.NewArg(g.argNames.fresh("outer_"+name), pv.typ)
		g.captures = append(g.captures, capture{arg: a, outer: pv})
		nv = &val{typ: pv.typ, v: a}
	}
	g.vals[name] = nv
	return nv
}

// define binds an ONNX name in g; names are defined once (SSA).
func (g *graphCtx) define(name string, v *val) error {
	if _, dup := g.vals[name]; dup {
		return fmt.Errorf("value %q is defined twice", clip(name))
	}
	g.vals[name] = v
	return nil
}

// nodeName names a node in messages: its name, or its first output.
func nodeName(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	for _, o := range n.GetOutput() {
		if o != "" {
			return "output " + o
		}
	}
	return n.GetOpType()
}

// where describes a node for errors.
func where(n *onnxpb.NodeProto) string {
	return fmt.Sprintf("node %s (%s)", strconv.Quote(clip(nodeName(n))), clip(n.GetOpType()))
}

// addInitializers binds a graph's initializers (weights and constants).
// Subgraphs converted more than once (unrolled loops) decode theirs once.
func (g *graphCtx) addInitializers(gp *onnxpb.GraphProto) error {
	if len(gp.GetSparseInitializer()) > 0 {
		return unsupportedf("sparse initializers")
	}
	for _, t := range gp.GetInitializer() {
		v, ok := g.imp.inits[t]
		if !ok {
			var err error
			if v, err = g.imp.initializer(t); err != nil {
				return err
			}
			g.imp.inits[t] = v
		}
		cp := &val{typ: v.typ, c: v.c, param: v.param, bad: v.bad}
		if err := g.define(t.GetName(), cp); err != nil {
			return &Error{Path: g.imp.path, Where: "initializer " + strconv.Quote(clip(t.GetName())), Msg: err.Error()}
		}
	}
	return nil
}

// convertNodes converts gp's nodes in dependency order. Every node must
// read only names defined by the graph's inputs and initializers, other
// nodes or an enclosing graph; cycles are errors.
func (g *graphCtx) convertNodes(gp *onnxpb.GraphProto) error {
	order, err := g.order(gp)
	if err != nil {
		return err
	}
	bad := map[string]bool{} // outputs of nodes that could not be converted
	for _, n := range order {
		skip := false
		for _, in := range n.GetInput() {
			if v := g.lookup(in); bad[in] || v != nil && v.bad {
				skip = true
			}
		}
		if skip {
			for _, o := range n.GetOutput() {
				bad[o] = true
			}
			continue
		}
		outs, err := g.convertNode(n)
		var uu *unsupportedUse
		if errors.As(err, &uu) {
			g.imp.unsup.add(n.GetDomain(), n.GetOpType(), g.imp.opsetOf(n.GetDomain()), nodeName(n), uu.reason)
			for _, o := range n.GetOutput() {
				bad[o] = true
			}
			continue
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) || errors.Is(err, errUnsupportedFound) {
				return err
			}
			return &Error{Path: g.imp.path, Where: where(n), Msg: err.Error()}
		}
		for i, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if i >= len(outs) || outs[i] == nil {
				g.imp.unsup.add(n.GetDomain(), n.GetOpType(), g.imp.opsetOf(n.GetDomain()), nodeName(n), "output "+strconv.Itoa(i))
				bad[o] = true
				continue
			}
			if err := g.define(o, outs[i]); err != nil {
				return &Error{Path: g.imp.path, Where: where(n), Msg: err.Error()}
			}
		}
	}
	if len(g.imp.unsup.items) > 0 {
		return errUnsupportedFound
	}
	return nil
}

// errUnsupportedFound stops a conversion after unsupported nodes were
// recorded; Load turns the records into an *UnsupportedError.
var errUnsupportedFound = errors.New("unsupported nodes")

// order sorts gp's nodes so that each comes after the producers of the
// values it reads (including the values its subgraphs read from outside),
// keeping the file's order among independent nodes.
func (g *graphCtx) order(gp *onnxpb.GraphProto) ([]*onnxpb.NodeProto, error) {
	nodes := gp.GetNode()
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup || g.vals[o] != nil {
				return nil, &Error{Path: g.imp.path, Where: where(n), Msg: fmt.Sprintf("value %q is defined twice", clip(o))}
			}
			producer[o] = i
		}
	}
	deps := make([][]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		reads := append([]string(nil), n.GetInput()...)
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				reads = append(reads, freeVars(sg)...)
			}
		}
		for _, in := range reads {
			if in == "" {
				continue
			}
			if p, ok := producer[in]; ok {
				deps[i] = append(deps[i], p)
				users[p] = append(users[p], i)
				continue
			}
			if g.lookup(in) == nil {
				return nil, &Error{Path: g.imp.path, Where: where(n), Msg: fmt.Sprintf("input %q is not defined by the graph, an initializer or another node", clip(in))}
			}
		}
	}
	// Kahn's algorithm, taking the lowest ready index first.
	pending := make([]int, len(nodes))
	ready := &intHeap{}
	for i := range nodes {
		if pending[i] = len(deps[i]); pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]*onnxpb.NodeProto, 0, len(nodes))
	done := make([]bool, len(nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		done[i] = true
		out = append(out, nodes[i])
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(out) != len(nodes) {
		for i, n := range nodes {
			if !done[i] {
				return nil, &Error{Path: g.imp.path, Where: where(n), Msg: "the graph has a cycle through this node"}
			}
		}
	}
	return out, nil
}

// subgraphs returns the graphs an attribute holds.
func subgraphs(a *onnxpb.AttributeProto) []*onnxpb.GraphProto {
	var gs []*onnxpb.GraphProto
	if a.GetG() != nil {
		gs = append(gs, a.GetG())
	}
	return append(gs, a.GetGraphs()...)
}

// freeVars lists the names a graph reads that it does not define itself
// (values of enclosing graphs), including those of nested subgraphs.
func freeVars(gp *onnxpb.GraphProto) []string {
	defined := map[string]bool{}
	for _, in := range gp.GetInput() {
		defined[in.GetName()] = true
	}
	for _, t := range gp.GetInitializer() {
		defined[t.GetName()] = true
	}
	for _, n := range gp.GetNode() {
		for _, o := range n.GetOutput() {
			defined[o] = true
		}
	}
	var free []string
	seen := map[string]bool{}
	use := func(name string) {
		if name != "" && !defined[name] && !seen[name] {
			seen[name] = true
			free = append(free, name)
		}
	}
	for _, n := range gp.GetNode() {
		for _, in := range n.GetInput() {
			use(in)
		}
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				for _, name := range freeVars(sg) {
					use(name)
				}
			}
		}
	}
	for _, o := range gp.GetOutput() {
		use(o.GetName())
	}
	return free
}

// convertNode converts one node with the converter registered for it.
func (g *graphCtx) convertNode(p *onnxpb.NodeProto) ([]*val, error) {
	conv, opset, err := g.imp.converterFor(p)
	if err != nil {
		return nil, err
	}
	n := &node{g: g, p: p, opset: opset, attrs: map[string]*onnxpb.AttributeProto{}}
	for _, a := range p.GetAttribute() {
		if _, dup := n.attrs[a.GetName()]; dup {
			return nil, fmt.Errorf("attribute %q is given twice", clip(a.GetName()))
		}
		if a.GetRefAttrName() != "" {
			return nil, fmt.Errorf("attribute %q refers to a function attribute outside a function", clip(a.GetName()))
		}
		n.attrs[a.GetName()] = a
	}
	for _, in := range p.GetInput() {
		if in == "" {
			n.in = append(n.in, nil)
			continue
		}
		v := g.lookup(in)
		if v == nil {
			return nil, fmt.Errorf("input %q is not defined", clip(in))
		}
		n.in = append(n.in, v)
	}
	outs := conv(n)
	if n.err != nil {
		return nil, n.err
	}
	return outs, nil
}

// graphOutputs returns the vals of a graph's outputs.
func (g *graphCtx) graphOutputs(gp *onnxpb.GraphProto) ([]*val, error) {
	out := make([]*val, len(gp.GetOutput()))
	for i, o := range gp.GetOutput() {
		v := g.lookup(o.GetName())
		if v == nil {
			return nil, &Error{Path: g.imp.path, Where: "graph " + strconv.Quote(clip(gp.GetName())), Msg: fmt.Sprintf("output %q is not defined", clip(o.GetName()))}
		}
		out[i] = v
	}
	return out, nil
}

// intHeap is a min-heap of node indices.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

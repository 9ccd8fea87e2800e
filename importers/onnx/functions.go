package onnx

import (
	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
)

// maxFunctionDepth bounds nested calls of model-local functions.
const maxFunctionDepth = 32

// inlineFunction returns the converter of a call to a model-local
// function (ModelProto.functions): the function's nodes are converted in
// place, its inputs bound to the call's inputs, each attribute that
// refers to a function attribute (ref_attr_name) replaced by the call's
// attribute or the function's default, and its nodes read with the
// function's own operator set versions. Functions see only their inputs.
func (imp *importer) inlineFunction(fn *onnxpb.FunctionProto) converter {
	return func(n *node) []*val {
		if imp.depth >= maxFunctionDepth {
			n.unsupported("functions nested more than %d deep", maxFunctionDepth)
			return nil
		}
		if len(n.in) > len(fn.GetInput()) || len(n.p.GetOutput()) > len(fn.GetOutput()) {
			n.failf("function %q takes %d inputs and %d outputs, the call has %d and %d",
				clip(fn.GetName()), len(fn.GetInput()), len(fn.GetOutput()), len(n.in), len(n.p.GetOutput()))
			return nil
		}
		defaults := map[string]*onnxpb.AttributeProto{}
		for _, a := range fn.GetAttributeProto() {
			defaults[a.GetName()] = a
		}
		nodes := make([]*onnxpb.NodeProto, len(fn.GetNode()))
		for i, fnode := range fn.GetNode() {
			// A shallow copy: attributes without references stay shared, so
			// their tensors are decoded once however often the function runs.
			c := &onnxpb.NodeProto{Name: fnode.Name, OpType: fnode.OpType, Domain: fnode.Domain,
				Overload: fnode.Overload, Input: fnode.Input, Output: fnode.Output}
			var attrs []*onnxpb.AttributeProto
			for _, a := range fnode.GetAttribute() {
				ref := a.GetRefAttrName()
				if ref == "" {
					attrs = append(attrs, a)
					continue
				}
				src := n.attrs[ref]
				if src == nil {
					src = defaults[ref]
				}
				if src == nil {
					continue // not given and no default: the attribute is absent
				}
				r := proto.Clone(src).(*onnxpb.AttributeProto)
				r.Name = proto.String(a.GetName())
				attrs = append(attrs, r)
			}
			c.Attribute = attrs
			nodes[i] = c
		}
		fg := &graphCtx{imp: imp, f: n.g.f, vals: map[string]*val{}, argNames: n.g.argNames}
		for i, in := range fn.GetInput() {
			if x := n.arg(i); x != nil && in != "" {
				fg.vals[in] = x
			}
		}
		saved := imp.opsets
		imp.opsets = map[string]int64{}
		for d, v := range saved {
			imp.opsets[d] = v
		}
		for _, o := range fn.GetOpsetImport() {
			imp.opsets[canonicalDomain(o.GetDomain())] = o.GetVersion()
		}
		imp.depth++
		err := fg.convertNodes(&onnxpb.GraphProto{Node: nodes})
		imp.depth--
		imp.opsets = saved
		if err != nil {
			n.fail(err)
			return nil
		}
		outs := make([]*val, len(n.p.GetOutput()))
		for i := range outs {
			name := fn.GetOutput()[i]
			if outs[i] = fg.vals[name]; outs[i] == nil {
				n.failf("function %q does not define its output %q", clip(fn.GetName()), clip(name))
				return nil
			}
		}
		return outs
	}
}

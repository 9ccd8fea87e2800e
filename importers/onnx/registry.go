package onnx

import (
	"fmt"
	"sort"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
)

// opEntry is a default-domain operator the importer translates: since is
// the first opset that has it; the converter reads n.opset for the
// attributes and inputs that changed between versions.
type opEntry struct {
	since int64
	conv  converter
}

// registry maps default-domain op types to their converters. The files
// ops_*.go fill it from init.
var registry = map[string]opEntry{}

// register adds converters for op types available since opset since.
func register(since int64, conv converter, ops ...string) {
	for _, op := range ops {
		if _, dup := registry[op]; dup {
			panic("onnx: converter registered twice: " + op)
		}
		registry[op] = opEntry{since: since, conv: conv}
	}
}

// SupportedOps lists the default-domain operator types the importer
// translates (some only in the forms its error messages name).
func SupportedOps() []string {
	ops := make([]string, 0, len(registry))
	for op := range registry {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// lookupOp returns the converter for a node, or nil when the importer has
// none for its domain, type and the imported opset.
func (imp *importer) lookupOp(p *onnxpb.NodeProto) (converter, int64) {
	dom := canonicalDomain(p.GetDomain())
	ver, imported := imp.opsets[dom]
	if !imported {
		return nil, 0
	}
	if fn := imp.functions[dom+"\x00"+p.GetOpType()]; fn != nil {
		return imp.inlineFunction(fn), ver
	}
	if dom != "" || imp.badOpset {
		return nil, ver
	}
	e, ok := registry[p.GetOpType()]
	if !ok || ver < e.since {
		return nil, ver
	}
	return e.conv, ver
}

// converterFor returns a node's converter and the opset it is read with,
// or an unsupported-use error.
func (imp *importer) converterFor(p *onnxpb.NodeProto) (converter, int64, error) {
	conv, ver := imp.lookupOp(p)
	if conv == nil {
		if _, imported := imp.opsets[canonicalDomain(p.GetDomain())]; !imported {
			return nil, 0, unsupportedf("domain %q is not imported by the model", clip(p.GetDomain()))
		}
		if canonicalDomain(p.GetDomain()) == "" && imp.badOpset {
			return nil, ver, unsupportedf("opsets %d to %d are supported", MinOpset, MaxOpset)
		}
		return nil, ver, unsupportedf("")
	}
	return conv, ver, nil
}

// checkOps records every node of gp (and its subgraphs) whose operator the
// importer cannot translate, so that one error lists them all.
func (imp *importer) checkOps(gp *onnxpb.GraphProto) {
	for _, n := range gp.GetNode() {
		if fn := imp.functions[canonicalDomain(n.GetDomain())+"\x00"+n.GetOpType()]; fn != nil {
			if !imp.checkedFns[fn] {
				imp.checkedFns[fn] = true
				imp.checkOps(&onnxpb.GraphProto{Node: fn.GetNode()})
			}
			continue
		}
		if conv, ver := imp.lookupOp(n); conv == nil {
			reason := ""
			if canonicalDomain(n.GetDomain()) == "" && imp.badOpset {
				reason = fmt.Sprintf("opsets %d to %d are supported", MinOpset, MaxOpset)
			}
			imp.unsup.add(n.GetDomain(), n.GetOpType(), ver, nodeName(n), reason)
		}
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				imp.checkOps(sg)
			}
		}
	}
}

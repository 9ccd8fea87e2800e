package onnx

import (
	"sort"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
)

// ModelInfo is what an ONNX model file declares about itself, read
// without converting the graph (for `ssmc inspect`).
type ModelInfo struct {
	IRVersion int64       `json:"ir_version"`
	Producer  string      `json:"producer,omitempty"`
	Graph     string      `json:"graph"`
	Opsets    []OpsetInfo `json:"opsets"`
	Inputs    []ValueInfo `json:"inputs"`
	Outputs   []ValueInfo `json:"outputs"`
	// Nodes counts the nodes of the graph and of its subgraphs (Scan,
	// Loop and If bodies); Ops counts them by operator, named
	// "domain:Op" outside the default domain.
	Nodes int            `json:"nodes"`
	Ops   map[string]int `json:"ops"`
	// Initializers are the main graph's initializers in file order.
	Initializers []TensorInfo `json:"initializers"`
	// ExternalFiles are the files the initializers' external data is in,
	// sorted by location.
	ExternalFiles []ExternalFile `json:"external_files,omitempty"`
}

// OpsetInfo is one operator set import ("ai.onnx" for the default domain).
type OpsetInfo struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

// ValueInfo is a graph input or output: its name and declared type, as
// ELEM[dim,...] with dim_params by name ("?" for an unknown dim; no
// brackets when the shape is not declared).
type ValueInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TensorInfo is one initializer. Bytes is its data size from its element
// type and shape; Location names its external data file ("" when inline).
type TensorInfo struct {
	Name     string  `json:"name"`
	DType    string  `json:"dtype"`
	Shape    []int64 `json:"shape"`
	Bytes    int64   `json:"bytes"`
	Location string  `json:"location,omitempty"`
}

// ExternalFile is one external data file and what the initializers read
// from it.
type ExternalFile struct {
	Location string `json:"location"`
	Tensors  int    `json:"tensors"`
	Bytes    int64  `json:"bytes"`
}

// ReadInfo reads the model file at path (within DefaultLimits) and
// describes it. It does not open external data files.
func ReadInfo(path string) (*ModelInfo, error) {
	data, err := readModelFile(path, DefaultLimits)
	if err != nil {
		return nil, err
	}
	mp, err := Decode(data)
	if err != nil {
		return nil, &Error{Path: path, Msg: err.Error()}
	}
	if mp.GetGraph() == nil {
		return nil, &Error{Path: path, Msg: "the model has no graph"}
	}
	return Describe(mp), nil
}

// Describe returns the ModelInfo of a decoded model.
func Describe(mp *onnxpb.ModelProto) *ModelInfo {
	g := mp.GetGraph()
	mi := &ModelInfo{IRVersion: mp.GetIrVersion(), Graph: g.GetName(), Ops: map[string]int{}}
	mi.Producer = strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion())
	for _, o := range mp.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		mi.Opsets = append(mi.Opsets, OpsetInfo{Domain: d, Version: o.GetVersion()})
	}
	for _, vi := range g.GetInput() {
		mi.Inputs = append(mi.Inputs, ValueInfo{vi.GetName(), typeString(vi.GetType())})
	}
	for _, vi := range g.GetOutput() {
		mi.Outputs = append(mi.Outputs, ValueInfo{vi.GetName(), typeString(vi.GetType())})
	}
	var count func(gp *onnxpb.GraphProto, depth int)
	count = func(gp *onnxpb.GraphProto, depth int) {
		if depth > 64 {
			return
		}
		for _, n := range gp.GetNode() {
			mi.Nodes++
			op := n.GetOpType()
			if d := canonicalDomain(n.GetDomain()); d != "" {
				op = d + ":" + op
			}
			mi.Ops[op]++
			for _, a := range n.GetAttribute() {
				for _, sg := range subgraphs(a) {
					count(sg, depth+1)
				}
			}
		}
	}
	count(g, 0)
	files := map[string]*ExternalFile{}
	for _, t := range g.GetInitializer() {
		ti := TensorInfo{Name: t.GetName(), DType: elemTypeName(t.GetDataType()), Shape: t.GetDims()}
		if dt, ok := dtypeOf(t.GetDataType()); ok {
			ti.Bytes = int64(dt.Size())
			for _, d := range ti.Shape {
				if d < 0 || d > 0 && ti.Bytes > (1<<62)/d {
					ti.Bytes = -1 // a hostile shape
					break
				}
				ti.Bytes *= d
			}
		}
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
			for _, kv := range t.GetExternalData() {
				if kv.GetKey() == "location" {
					ti.Location = kv.GetValue()
				}
			}
			ef := files[ti.Location]
			if ef == nil {
				ef = &ExternalFile{Location: ti.Location}
				files[ti.Location] = ef
			}
			ef.Tensors++
			ef.Bytes += ti.Bytes
		}
		mi.Initializers = append(mi.Initializers, ti)
	}
	for _, ef := range files {
		mi.ExternalFiles = append(mi.ExternalFiles, *ef)
	}
	sort.Slice(mi.ExternalFiles, func(i, j int) bool { return mi.ExternalFiles[i].Location < mi.ExternalFiles[j].Location })
	return mi
}

// typeString renders a declared value type as ELEM[dims].
func typeString(t *onnxpb.TypeProto) string {
	tt := t.GetTensorType()
	if tt == nil {
		switch t.GetValue().(type) {
		case *onnxpb.TypeProto_SequenceType:
			return "sequence"
		case *onnxpb.TypeProto_MapType:
			return "map"
		case *onnxpb.TypeProto_OptionalType:
			return "optional"
		case *onnxpb.TypeProto_SparseTensorType:
			return "sparse tensor"
		}
		return "?"
	}
	s := elemTypeName(tt.GetElemType())
	if sh := tt.GetShape(); sh != nil {
		dims := make([]string, len(sh.GetDim()))
		for i, d := range sh.GetDim() {
			switch {
			case d.GetDimParam() != "":
				dims[i] = d.GetDimParam()
			case d.GetValue() != nil:
				dims[i] = strconv.FormatInt(d.GetDimValue(), 10)
			default:
				dims[i] = "?"
			}
		}
		s += "[" + strings.Join(dims, ",") + "]"
	}
	return s
}

package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// Limits bound what a model file may make the importer do. Besides these
// absolute caps, the work grows at most linearly with the size of the
// model file: a file of n bytes may create at most 4096 + 16·n IR values
// and 16 MiB + 64·n bytes of constants that the importer computes
// (shape arithmetic, gather indices, masks), so a small hostile file
// cannot make the importer allocate much.
type Limits struct {
	// MaxFileBytes is the largest model file read (protobuf messages
	// cannot exceed 2 GiB).
	MaxFileBytes int64
	// MaxExternalBytes bounds the external data read for all tensors
	// together (each tensor is also bounded by its file's size).
	MaxExternalBytes int64
	// MaxValues bounds the number of IR values the import may create
	// (unrolled loops grow with their trip count).
	MaxValues int
	// MaxGeneratedBytes bounds the constants the importer computes.
	MaxGeneratedBytes int64
}

// DefaultLimits are the limits Load uses.
var DefaultLimits = Limits{MaxFileBytes: 2 << 30, MaxExternalBytes: 1 << 40, MaxValues: 1 << 24, MaxGeneratedBytes: 1 << 30}

// The IR versions and default-domain opsets the importer reads.
const (
	MinIRVersion = 3
	MaxIRVersion = 13
	MinOpset     = 7
	MaxOpset     = 27
)

// Options configure LoadWithOptions. The zero value is Load's behaviour.
type Options struct {
	// Limits bound the work a file may cause (DefaultLimits when zero).
	Limits Limits
	// Constants fixes graph inputs, by ONNX name, to values known at
	// compile time: shape tensors, axes or sizes given as inputs, or a
	// fixed sequence length. They are no longer arguments of the
	// function, and everything computed from them is folded.
	Constants map[string]*ir.Tensor
}

// Load reads the ONNX model at path into a module with one function (named
// after the graph, or "main") and its weights bound. External data is
// resolved relative to the model's folder. Unsupported operators are
// reported together in one *UnsupportedError; malformed files give an
// *Error naming the node or tensor.
func Load(path string) (*ir.Module, error) {
	return LoadWithOptions(path, Options{})
}

// LoadWithOptions is Load with options.
func LoadWithOptions(path string, opts Options) (*ir.Module, error) {
	lim := opts.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	data, err := readModelFile(path, lim)
	if err != nil {
		return nil, err
	}
	opts.Limits = lim
	return load(data, path, filepath.Dir(path), opts)
}

// readModelFile reads the model file at path, refusing one over
// lim.MaxFileBytes.
func readModelFile(path string, lim Limits) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &Error{Path: path, Msg: "is a directory"}
	}
	if fi.Size() > lim.MaxFileBytes {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("%d bytes, over the limit of %d", fi.Size(), lim.MaxFileBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, lim.MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("over the limit of %d bytes", lim.MaxFileBytes)}
	}
	return data, nil
}

// LoadBytes reads a model from memory; it may not use external data.
func LoadBytes(data []byte) (*ir.Module, error) {
	return load(data, "", "", Options{Limits: DefaultLimits})
}

// Decode parses a serialized ModelProto.
func Decode(data []byte) (*onnxpb.ModelProto, error) {
	m := &onnxpb.ModelProto{}
	if err := (proto.UnmarshalOptions{RecursionLimit: 100}).Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	return m, nil
}

func load(data []byte, path, dir string, opts Options) (m *ir.Module, err error) {
	mp, err := Decode(data)
	if err != nil {
		return nil, &Error{Path: path, Msg: err.Error()}
	}
	return FromProto(mp, path, dir, opts)
}

// FromProto converts a decoded model. path names the file in messages and
// dir is the folder external data is resolved in ("" forbids external
// data).
func FromProto(mp *onnxpb.ModelProto, path, dir string, opts Options) (m *ir.Module, err error) {
	lim := opts.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, &Error{Path: path, Msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	imp := &importer{path: path, tr: &tensorReader{dir: dir, budget: lim.MaxExternalBytes},
		weights: map[string]*ir.Tensor{}, syms: newNames(),
		functions: map[string]*onnxpb.FunctionProto{}, inits: map[*onnxpb.TensorProto]*val{},
		constants: opts.Constants, checkedFns: map[*onnxpb.FunctionProto]bool{},
		decoded: map[*onnxpb.TensorProto]*ir.Tensor{}, constVals: map[*onnxpb.TensorProto]*val{}}
	size := int64(proto.Size(mp))
	imp.maxValues = int(min(int64(lim.MaxValues), 4096+16*size))
	imp.maxGenerated = min(lim.MaxGeneratedBytes, 16<<20+64*size)
	if err := imp.readHeader(mp); err != nil {
		return nil, err
	}
	m, err = imp.convertModel(mp.GetGraph())
	if len(imp.unsup.items) > 0 && (err == nil || errors.Is(err, errUnsupportedFound)) {
		return nil, &UnsupportedError{Path: path, Items: imp.unsup.sorted()}
	}
	var uu *unsupportedUse
	if errors.As(err, &uu) {
		return nil, &UnsupportedError{Path: path, Items: []Unsupported{{Op: "model", Opset: imp.opsetOf(""), Nodes: []string{"graph"}, Reason: uu.reason}}}
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, &Error{Path: path, Msg: err.Error()}
	}
	if err := ir.Verify(m); err != nil {
		return nil, &Error{Path: path, Msg: "internal error: the imported IR does not verify: " + err.Error()}
	}
	return m, nil
}

// importer holds the state of one model's import.
type importer struct {
	path         string
	irVersion    int64
	opsets       map[string]int64 // imported opset version by domain ("" = ai.onnx)
	tr           *tensorReader
	weights      map[string]*ir.Tensor
	syms         *names // symbolic dim names
	unsup        unsupportedSet
	values       int // IR values created so far
	maxValues    int
	generated    int64 // bytes of constants computed so far
	maxGenerated int64
	functions    map[string]*onnxpb.FunctionProto   // model-local functions by domain + "\x00" + name
	inits        map[*onnxpb.TensorProto]*val       // decoded initializers
	badOpset     bool                               // the default opset is missing or out of range
	constants    map[string]*ir.Tensor              // graph inputs fixed at compile time
	depth        int                                // nesting of inlined functions
	checkedFns   map[*onnxpb.FunctionProto]bool     // functions whose ops checkOps listed
	decoded      map[*onnxpb.TensorProto]*ir.Tensor // tensor attributes decoded so far
	constVals    map[*onnxpb.TensorProto]*val       // Constant values made so far
}

// readHeader checks the IR version and the operator set imports.
func (imp *importer) readHeader(mp *onnxpb.ModelProto) error {
	imp.irVersion = mp.GetIrVersion()
	if imp.irVersion < MinIRVersion || imp.irVersion > MaxIRVersion {
		return &Error{Path: imp.path, Msg: fmt.Sprintf("IR version %d is not supported (%d to %d are)", imp.irVersion, MinIRVersion, MaxIRVersion)}
	}
	imp.opsets = map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		d := canonicalDomain(o.GetDomain())
		if _, dup := imp.opsets[d]; dup {
			return &Error{Path: imp.path, Msg: fmt.Sprintf("operator set %q is imported twice", clip(o.GetDomain()))}
		}
		imp.opsets[d] = o.GetVersion()
	}
	if v, ok := imp.opsets[""]; !ok || v < MinOpset || v > MaxOpset {
		// Nodes of the default domain are then all unsupported; a model
		// with none (only other domains) fails on those instead.
		imp.badOpset = true
	}
	for _, fn := range mp.GetFunctions() {
		imp.functions[canonicalDomain(fn.GetDomain())+"\x00"+fn.GetName()] = fn
	}
	if mp.GetGraph() == nil {
		return &Error{Path: imp.path, Msg: "the model has no graph"}
	}
	return nil
}

// canonicalDomain maps "ai.onnx" to "", the default domain.
func canonicalDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// opsetOf returns the imported version of a domain (0 when not imported).
func (imp *importer) opsetOf(domain string) int64 { return imp.opsets[canonicalDomain(domain)] }

// spend counts n new IR values against the limit.
func (imp *importer) spend(n int) error {
	imp.values += n
	if imp.values > imp.maxValues {
		return fmt.Errorf("the model needs more than %d IR values", imp.maxValues)
	}
	return nil
}

// decodeOnce decodes a tensor attribute, once per tensor however often
// its node is converted (unrolled loops, inlined functions).
func (imp *importer) decodeOnce(t *onnxpb.TensorProto) (*ir.Tensor, error) {
	if d, ok := imp.decoded[t]; ok {
		return d, nil
	}
	d, err := imp.tr.decode(t)
	if err == nil {
		imp.decoded[t] = d
	}
	return d, err
}

// spendBytes counts n bytes of computed constants against the limit.
func (imp *importer) spendBytes(n int64) error {
	imp.generated += n
	if imp.generated > imp.maxGenerated {
		return fmt.Errorf("the model makes the importer compute more than %d bytes of constants", imp.maxGenerated)
	}
	return nil
}

// convertModel converts the main graph into a module.
func (imp *importer) convertModel(gp *onnxpb.GraphProto) (*ir.Module, error) {
	imp.checkOps(gp)
	name := "main"
	if gp.GetName() != "" {
		name = sanitize(gp.GetName())
	}
	f := ir.NewFunc(name)
	g := newRoot(imp, f, nil)
	if err := g.addInitializers(gp); err != nil {
		return nil, err
	}
	for _, in := range gp.GetInput() {
		if g.vals[in.GetName()] != nil {
			continue // an initializer with a default value: a weight
		}
		t, err := typeOf(in.GetType(), in.GetName(), imp.syms)
		var uu *unsupportedUse
		if errors.As(err, &uu) {
			imp.unsup.add("", "(graph input)", imp.opsetOf(""), in.GetName(), uu.reason)
			g.vals[in.GetName()] = &val{typ: ir.TensorType(ir.F32, nil), bad: true}
			continue
		}
		if err != nil {
			return nil, &Error{Path: imp.path, Where: "input " + strconv.Quote(clip(in.GetName())), Msg: err.Error()}
		}
		if c := imp.constants[in.GetName()]; c != nil {
			if err := checkBound(t, c); err != nil {
				return nil, &Error{Path: imp.path, Where: "input " + strconv.Quote(clip(in.GetName())), Msg: err.Error()}
			}
			g.vals[in.GetName()] = imp.tensorVal(in.GetName(), c)
			continue
		}
		a := f.NewArg(g.argNames.ident(in.GetName()), t)
		if err := g.define(in.GetName(), &val{typ: t, v: a}); err != nil {
			return nil, &Error{Path: imp.path, Where: "input " + strconv.Quote(clip(in.GetName())), Msg: err.Error()}
		}
	}
	if err := g.convertNodes(gp); err != nil {
		return nil, err
	}
	outs, err := g.graphOutputs(gp)
	if err != nil {
		return nil, err
	}
	results := make([]*ir.Value, len(outs))
	resNames := make([]string, len(outs))
	rn := newNames()
	for i, o := range outs {
		results[i], err = g.mat(o)
		var uu *unsupportedUse
		if errors.As(err, &uu) {
			imp.unsup.add("", "(graph output)", imp.opsetOf(""), gp.GetOutput()[i].GetName(), uu.reason)
			continue
		}
		if err != nil {
			return nil, err
		}
		resNames[i] = rn.ident(gp.GetOutput()[i].GetName())
		if err := checkDeclared(gp.GetOutput()[i], results[i].Type); err != nil {
			return nil, &Error{Path: imp.path, Where: "output " + strconv.Quote(clip(gp.GetOutput()[i].GetName())), Msg: err.Error()}
		}
	}
	if len(imp.unsup.items) > 0 {
		return nil, errUnsupportedFound
	}
	if len(results) == 0 {
		return nil, &Error{Path: imp.path, Msg: "the graph has no outputs"}
	}
	f.SetResults(results, resNames)
	removeDead(f)
	f.Renumber()
	return &ir.Module{Funcs: []*ir.Func{f}, Weights: imp.usedWeights(f)}, nil
}

// usedWeights returns the weights f's Params name.
func (imp *importer) usedWeights(f *ir.Func) map[string]*ir.Tensor {
	w := map[string]*ir.Tensor{}
	for _, v := range f.Body {
		if v.Op == ir.OpParam {
			name := v.Attrs.String("name", "")
			w[name] = imp.weights[name]
		}
	}
	return w
}

// removeDead deletes values nothing uses (shape arithmetic the import
// computed, branches not taken).
func removeDead(f *ir.Func) {
	live := map[*ir.Value]bool{}
	for _, r := range f.Results {
		live[r] = true
	}
	for i := len(f.Body) - 1; i >= 0; i-- {
		v := f.Body[i]
		if !live[v] {
			continue
		}
		for _, a := range v.Args {
			if a != nil {
				live[a] = true
			}
		}
	}
	var dead []*ir.Value
	for i := len(f.Body) - 1; i >= 0; i-- {
		if !live[f.Body[i]] {
			dead = append(dead, f.Body[i])
		}
	}
	f.Remove(dead...)
}

// smallConstElems: initializers and Constant values up to this many
// elements (integers: intConstElems) become inline constants; larger
// ones are weights.
const (
	smallConstElems = 16
	intConstElems   = 1024
)

// initializer decodes an initializer into a constant or a weight.
func (imp *importer) initializer(t *onnxpb.TensorProto) (*val, error) {
	where := "initializer " + strconv.Quote(clip(t.GetName()))
	if t.GetName() == "" {
		return nil, &Error{Path: imp.path, Where: "initializer", Msg: "has no name"}
	}
	tt, err := imp.tr.decode(t)
	var uu *unsupportedUse
	if errors.As(err, &uu) {
		imp.unsup.add("", "(initializer)", imp.opsetOf(""), t.GetName(), uu.reason)
		return &val{typ: ir.TensorType(ir.F32, nil), bad: true}, nil
	}
	if err != nil {
		return nil, &Error{Path: imp.path, Where: where, Msg: err.Error()}
	}
	return imp.tensorVal(t.GetName(), tt), nil
}

// tensorVal makes a val of a tensor from the file: inline when small,
// otherwise a weight named name (made unique).
func (imp *importer) tensorVal(name string, t *ir.Tensor) *val {
	n := t.NumElements()
	if n <= smallConstElems || (t.DType.IsInt() || t.DType == ir.Bool) && n <= intConstElems {
		return constVal(t)
	}
	key := name
	for i := 2; imp.weights[key] != nil; i++ {
		key = name + "#" + strconv.Itoa(i)
	}
	imp.weights[key] = t
	return &val{typ: t.Type(), c: t, param: key}
}

// checkBound checks a value given for a graph input against its declared
// type (symbolic dims match any size).
func checkBound(t ir.Type, c *ir.Tensor) error {
	if c.DType != t.DType || len(c.Shape) != len(t.Shape) {
		return fmt.Errorf("given %v%v for an input of type %v", c.DType, c.Shape, t)
	}
	for i, d := range t.Shape {
		if d.IsStatic() && d.Off != c.Shape[i] {
			return fmt.Errorf("given %v%v for an input of type %v", c.DType, c.Shape, t)
		}
	}
	if _, err := ir.NewTensor(c.DType, c.Shape, c.Data); err != nil {
		return err
	}
	return nil
}

// checkDeclared checks a graph output's declared element type and rank,
// when the file gives them, against the type the import computed.
func checkDeclared(vi *onnxpb.ValueInfoProto, t ir.Type) error {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return nil
	}
	if et := tt.GetElemType(); et != 0 {
		if dt, ok := dtypeOf(et); !ok || dt != t.DType {
			return fmt.Errorf("the graph declares element type %s, the model computes %v", elemTypeName(et), t)
		}
	}
	if sh := tt.GetShape(); sh != nil && len(sh.GetDim()) != len(t.Shape) {
		return fmt.Errorf("the graph declares rank %d, the model computes %v", len(sh.GetDim()), t)
	}
	return nil
}

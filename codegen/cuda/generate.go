package cuda

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// The artifact sections the CUDA target writes.
const (
	SourceSection = "kernels.cu"
	TableSection  = "kernels.launch"
)

// Program is the CUDA code of a compiled model.
type Program struct {
	// Source is the translation unit: every kernel of every function,
	// extern "C" so that the runtime finds them by name.
	Source string
	// Table says which kernels compute each function, with what grid and
	// arguments.
	Table *Table
}

// opGen emits the launches that compute v (whose result buffers exist).
type opGen func(fg *funcGen, v *ir.Value) error

// opGens maps each op the CUDA target supports to its generator; Reshape
// and Extract are views and launch nothing.
var opGens = map[ir.Op]opGen{}

// register installs the generator of op; kernel files call it from init.
func register(op ir.Op, g opGen) {
	if opGens[op] != nil {
		panic("cuda: two generators for " + op.String())
	}
	opGens[op] = g
}

// Generate emits CUDA kernels for every function of m, specialized to the
// static dims and dtypes of its values. The functions must verify.
// Identical kernels (the same op on the same shapes, as in every layer of
// a model) are emitted once.
func Generate(m *ir.Module) (*Program, error) {
	g := &generator{byText: map[string]int{}, stems: map[string]int{}}
	g.table.Version = TableVersion
	for _, f := range m.Funcs {
		fn, err := g.function(f)
		if err != nil {
			return nil, fmt.Errorf("cuda: @%s: %w", f.Name, err)
		}
		g.table.Functions = append(g.table.Functions, *fn)
	}
	var src strings.Builder
	src.WriteString(preamble)
	for _, k := range g.sources {
		src.WriteString("\n")
		src.WriteString(k)
	}
	if err := g.table.Check(); err != nil {
		return nil, fmt.Errorf("cuda: internal error: %w", err)
	}
	return &Program{Source: src.String(), Table: &g.table}, nil
}

// generator accumulates the kernels of a translation unit.
type generator struct {
	table   Table
	sources []string       // kernel definitions, in table order
	byText  map[string]int // kernel text (named kernelPlaceholder) -> index
	stems   map[string]int // kernels emitted per stem, for numbering
}

// kernelPlaceholder stands for the kernel's name while kernels are
// compared for identity.
const kernelPlaceholder = "KERNEL_NAME"

// funcGen generates one function.
type funcGen struct {
	g    *generator
	fn   *Function
	bufs map[*ir.Value][]int // buffer per value (per tuple element)
}

func (g *generator) function(f *ir.Func) (*Function, error) {
	if err := ir.VerifyFunc(f); err != nil {
		return nil, err
	}
	fg := &funcGen{g: g, fn: &Function{Name: f.Name}, bufs: map[*ir.Value][]int{}}
	syms := map[string]string{}
	for _, a := range f.Args {
		for _, d := range a.Type.Shape {
			for _, s := range polyOf(d).symbols() {
				if other, ok := syms[sizeParam(s)]; ok && other != s {
					return nil, fmt.Errorf("symbols %s and %s have the same C name", s, other)
				}
				syms[sizeParam(s)] = s
			}
		}
		b := fg.newBuffer(a, BufferArg, a.Type)
		fg.bufs[a] = []int{b}
		fg.fn.Args = append(fg.fn.Args, Tensor{Name: "%" + a.Name, Buffer: b, DType: a.Type.DType.String(), Shape: a.Type.Shape})
	}
	for _, v := range f.Body {
		if err := fg.value(v); err != nil {
			return nil, fmt.Errorf("%s: %w", v.LongString(), err)
		}
	}
	n := len(fg.fn.Launches)
	for i, r := range f.Results {
		b := fg.bufs[r][0]
		fg.fn.Buffers[b].Last = n
		name := r.String()
		if i < len(f.ResultNames) && f.ResultNames[i] != "" {
			name = f.ResultNames[i]
		}
		fg.fn.Results = append(fg.fn.Results, Tensor{Name: name, Buffer: b, DType: r.Type.DType.String(), Shape: r.Type.Shape})
	}
	return fg.fn, nil
}

// value binds v to buffers and emits the launches that compute it.
func (fg *funcGen) value(v *ir.Value) error {
	switch v.Op {
	case ir.OpParam:
		b := fg.newBuffer(v, BufferWeight, v.Type)
		fg.fn.Buffers[b].Weight = v.Attrs.String("name", "")
		fg.bufs[v] = []int{b}
		return nil
	case ir.OpConst:
		b := fg.newBuffer(v, BufferConst, v.Type)
		fg.fn.Buffers[b].Data = v.Attrs.Tensor("value").Data
		fg.bufs[v] = []int{b}
		return nil
	case ir.OpExtract:
		fg.bufs[v] = []int{fg.bufs[v.Args[0]][v.IntAttr("index")]}
		return nil
	case ir.OpReshape:
		fg.bufs[v] = fg.bufs[v.Args[0]]
		return nil
	}
	gen := opGens[v.Op]
	if gen == nil {
		return fmt.Errorf("the CUDA target has no kernel for %s", v.Op)
	}
	types := []ir.Type{v.Type}
	if v.Type.IsTuple() {
		types = v.Type.Elems
	}
	for _, t := range types {
		if err := checkDType(t.DType); err != nil {
			return err
		}
		fg.bufs[v] = append(fg.bufs[v], fg.newBuffer(v, BufferTemp, t))
	}
	for _, a := range v.Args {
		if a != nil {
			if err := checkDType(a.Type.DType); err != nil {
				return err
			}
		}
	}
	return gen(fg, v)
}

// checkDType rejects element types that no kernel handles.
func checkDType(dt ir.DType) error {
	if dt == ir.F64 {
		return fmt.Errorf("f64 tensors are not supported by the CUDA target")
	}
	return nil
}

func (fg *funcGen) newBuffer(v *ir.Value, kind BufferKind, t ir.Type) int {
	name := v.String()
	if n := len(fg.bufs[v]); v.Type.IsTuple() {
		name = fmt.Sprintf("%v#%d", v, n)
	}
	def := -1
	if kind == BufferTemp {
		def = len(fg.fn.Launches)
	}
	fg.fn.Buffers = append(fg.fn.Buffers, Buffer{Name: name, Kind: kind, DType: t.DType.String(),
		Elements: polyOfShape(t.Shape).size(), Def: def, Last: def})
	return len(fg.fn.Buffers) - 1
}

// operand returns the buffer of v's operand i; result the buffer of v's
// result i.
func (fg *funcGen) operand(v *ir.Value, i int) int { return fg.bufs[v.Args[i]][0] }
func (fg *funcGen) result(v *ir.Value, i int) int  { return fg.bufs[v][i] }

// kernel is a kernel under construction: its parameters, body and the
// launch that runs it.
type kernel struct {
	stem    string   // the kernel's name without its number
	op      string   // the IR op, for the table
	doc     []string // comment lines above the kernel
	params  []param
	symbols []string // symbols whose sizes the body uses
	body    string
	block   [3]int
	grid    [3]Extent
	shared  int
	// minBlocks, when set, is the second __launch_bounds__ argument: the
	// blocks per multiprocessor ptxas must leave room for. Without it
	// ptxas caps registers by its own occupancy heuristic and may spill.
	minBlocks int
}

// param is a tensor parameter of a kernel.
type param struct {
	name   string
	dtype  ir.DType
	layout string // the comment after the parameter: its shape and dims
	buffer int
	write  bool
}

func newKernel(stem, op string) *kernel {
	k := &kernel{stem: stem, op: op, block: [3]int{1, 1, 1}}
	for i := range k.grid {
		k.grid[i] = Extent{Count: constPoly(1).size(), Per: 1}
	}
	return k
}

// out adds an output tensor parameter; in an input one.
func (k *kernel) out(name string, dt ir.DType, buffer int, layout string) {
	k.params = append(k.params, param{name: name, dtype: dt, layout: layout, buffer: buffer, write: true})
}

func (k *kernel) in(name string, dt ir.DType, buffer int, layout string) {
	k.params = append(k.params, param{name: name, dtype: dt, layout: layout, buffer: buffer})
}

// size renders p as C and records the symbols it needs as parameters.
func (k *kernel) size(p poly) string {
	k.use(p)
	return p.c()
}

// factor is size for use as a factor of a product.
func (k *kernel) factor(p poly) string {
	k.use(p)
	return p.cFactor()
}

func (k *kernel) use(p poly) {
	for _, s := range p.symbols() {
		if !slices.Contains(k.symbols, s) {
			k.symbols = append(k.symbols, s)
		}
	}
}

// threads is the block size.
func (k *kernel) threads() int { return k.block[0] * k.block[1] * k.block[2] }

// ctype is the C type of elements of dt.
func ctype(dt ir.DType) string {
	switch dt {
	case ir.F32:
		return "float"
	case ir.F16:
		return "f16"
	case ir.BF16:
		return "bf16"
	case ir.I64:
		return "long long"
	case ir.I32:
		return "int"
	case ir.I8:
		return "signed char"
	case ir.Bool:
		return "unsigned char"
	}
	return "void"
}

// text renders the kernel definition under name.
func (k *kernel) text(name string) string {
	var b strings.Builder
	for _, line := range k.doc {
		if line == "" {
			b.WriteString("//\n")
		} else {
			b.WriteString("// " + line + "\n")
		}
	}
	bounds := fmt.Sprint(k.threads())
	if k.minBlocks > 0 {
		bounds += fmt.Sprintf(", %d", k.minBlocks)
	}
	fmt.Fprintf(&b, "extern \"C\" __global__ void __launch_bounds__(%s) %s(", bounds, name)
	slices.Sort(k.symbols)
	n := len(k.params) + len(k.symbols)
	i := 0
	sep := func() string {
		i++
		if i < n {
			return ","
		}
		return ") {"
	}
	for _, p := range k.params {
		qual := "const "
		if p.write {
			qual = ""
		}
		fmt.Fprintf(&b, "\n    %s%s* __restrict__ %s%s", qual, ctype(p.dtype), p.name, sep())
		if p.layout != "" {
			b.WriteString("  // " + p.layout)
		}
	}
	for _, s := range k.symbols {
		fmt.Fprintf(&b, "\n    long long %s%s", sizeParam(s), sep())
	}
	b.WriteString("\n")
	b.WriteString(strings.TrimLeft(k.body, "\n"))
	if !strings.HasSuffix(k.body, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// launch adds k to the translation unit (unless an identical kernel is
// there already) and appends its launch to the function.
func (fg *funcGen) launch(k *kernel, value *ir.Value) {
	g := fg.g
	key := k.text(kernelPlaceholder)
	idx, ok := g.byText[key]
	if !ok {
		name := fmt.Sprintf("%s_%d", k.stem, g.stems[k.stem])
		g.stems[k.stem]++
		idx = len(g.table.Kernels)
		g.byText[key] = idx
		g.table.Kernels = append(g.table.Kernels, Kernel{Name: name, Op: k.op, Threads: k.threads(), SharedBytes: k.shared})
		g.sources = append(g.sources, k.text(name))
	}
	li := len(fg.fn.Launches)
	l := Launch{Kernel: idx, Value: value.String(), Grid: k.grid, Block: k.block}
	for _, p := range k.params {
		buf := p.buffer
		l.Args = append(l.Args, Arg{Buffer: &buf})
		b := &fg.fn.Buffers[buf]
		if p.write && b.Kind == BufferTemp && b.Def > li {
			b.Def = li
		}
		b.Last = max(b.Last, li)
	}
	for _, s := range k.symbols {
		size := polyOf(ir.SymDim(s)).size()
		l.Args = append(l.Args, Arg{Size: &size})
	}
	fg.fn.Launches = append(fg.fn.Launches, l)
}

// shapeText renders a shape for comments: [B, L, 64].
func shapeText(s ir.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// layout renders "dtype[dims]" for a parameter comment, with names for the
// dims when given: "f32[B, L, 64] (batch, time, channel)".
func layout(t ir.Type, names ...string) string {
	s := t.DType.String() + shapeText(t.Shape)
	if len(names) > 0 {
		s += " (" + strings.Join(names, ", ") + ")"
	}
	return s
}

// f32Literal renders x as a C float literal.
func f32Literal(x float64) string {
	s := fmt.Sprintf("%g", float32(x))
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s + "f"
}

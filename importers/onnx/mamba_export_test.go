package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// A writer of Mamba-1 models as ONNX graphs, for the tests: the same
// checkpoint weights in each of the three shapes real exports take.
//
//	exportScan      opset 18: the recurrence as one Scan per layer with the
//	                discretization inside the body (exp(Δ·A), Δ·x⊗B, the
//	                state update, C·h, + D·x, · z·σ(z)), the conv as
//	                Conv(group=d_inner, pads=[K-1,0]) between Transposes,
//	                RMSNorm as Pow/ReduceMean/Add/Sqrt/Div/Mul
//	exportUnrolled  opset 18: the same model over a fixed length, the
//	                recurrence unrolled step by step (Gather of step t,
//	                MatMul readout, Unsqueeze + Concat), as tracing writes it
//	exportHFSlow    opset 18: the Hugging Face slow path traced at a fixed
//	                length (mamba_export_hf_test.go): channel-first
//	                activations, the conv padded on both sides and sliced,
//	                the discretization for the whole sequence, then the
//	                state update unrolled over Gathers of its steps
//	exportDecode    opset 18: one decoding step with the stacked states as
//	                graph inputs and outputs (input_ids [batch, 1]): the
//	                conv as a window (Concat of the state and the token,
//	                ReduceSum of window·w), the state update as one step
//	exportOpset27   opset 27: CausalConvWithState and
//	                LinearAttention(update_rule="gated") with one head per
//	                channel (d_k = d_state, d_v = 1), RMSNormalization, and
//	                the conv and SSM states as graph inputs and outputs
//
// The first two output the logits and the final SSM states [n_layer, B,
// d_inner, d_state]; the opset-27 graph also takes and returns the conv
// states [n_layer, B, d_inner, K-1], so it serves prefill and decoding.

type exportShape int

const (
	exportScan exportShape = iota
	exportUnrolled
	exportHFSlow
	exportOpset27
	exportDecode
)

// statesIO reports whether the export takes and returns the states.
func (e *mambaExport) statesIO() bool { return e.shape == exportOpset27 || e.shape == exportDecode }

// mambaDims are the sizes the writer needs.
type mambaDims struct {
	layers, dModel, dInner, dState, dConv, dtRank int
	eps                                           float64
	tied                                          bool
}

// onnxWriter collects the nodes of one graph; sub-graphs share its name
// counter and initializers.
type onnxWriter struct {
	nodes []*onnxpb.NodeProto
	inits *[]*onnxpb.TensorProto
	n     *int
}

func newWriter() *onnxWriter {
	return &onnxWriter{inits: new([]*onnxpb.TensorProto), n: new(int)}
}

// sub returns a writer for a sub-graph.
func (w *onnxWriter) sub() *onnxWriter { return &onnxWriter{inits: w.inits, n: w.n} }

func (w *onnxWriter) fresh(p string) string {
	*w.n++
	return fmt.Sprintf("%s_%d", p, *w.n)
}

// ops appends a node with nout outputs.
func (w *onnxWriter) ops(typ string, ins []string, nout int, attrs ...*onnxpb.AttributeProto) []string {
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = w.fresh(typ)
	}
	w.nodes = append(w.nodes, nd(typ, w.fresh("node_"+typ), ins, outs, attrs...))
	return outs
}

// op appends a node with one output.
func (w *onnxWriter) op(typ string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	return w.ops(typ, ins, 1, attrs...)[0]
}

// init adds an initializer.
func (w *onnxWriter) init(name string, t *ir.Tensor) string {
	*w.inits = append(*w.inits, tensorProto(name, t))
	return name
}

// ints adds an i64 initializer (rank 1, or rank 0 with scalar).
func (w *onnxWriter) ints(scalar bool, v ...int64) string {
	shape := []int64{int64(len(v))}
	if scalar {
		shape = nil
	}
	return w.init(w.fresh("ints"), ir.TensorFromInt64s(ir.I64, shape, v))
}

// f32 adds a scalar f32 initializer.
func (w *onnxWriter) f32(x float64) string {
	return w.init(w.fresh("f32"), ir.TensorFromFloat64s(ir.F32, nil, []float64{x}))
}

func attrString(name, v string) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_STRING
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, S: []byte(v)}
}

func (w *onnxWriter) unsqueeze(x string, axes ...int64) string {
	return w.op("Unsqueeze", []string{x, w.ints(false, axes...)})
}

func (w *onnxWriter) squeeze(x string, axes ...int64) string {
	return w.op("Squeeze", []string{x, w.ints(false, axes...)})
}

// silu writes x·Sigmoid(x).
func (w *onnxWriter) silu(x string) string {
	return w.op("Mul", []string{x, w.op("Sigmoid", []string{x})})
}

// transposed returns the 2-D f32 tensor t transposed.
func transposed(t *ir.Tensor) *ir.Tensor {
	r, c := t.Shape[0], t.Shape[1]
	v := t.Float64s()
	out := make([]float64, len(v))
	for i := int64(0); i < r; i++ {
		for j := int64(0); j < c; j++ {
			out[j*r+i] = v[i*c+j]
		}
	}
	return ir.TensorFromFloat64s(ir.F32, []int64{c, r}, out)
}

// mambaExport writes one model in one shape.
type mambaExport struct {
	d      mambaDims
	w      map[string]*ir.Tensor // the checkpoint's tensors (f32), HF names
	shape  exportShape
	seqLen int // exportUnrolled: the fixed length
	g      *onnxWriter
}

func layerName(i int, s string) string { return fmt.Sprintf("backbone.layers.%d.%s", i, s) }

// weight adds the checkpoint tensor name as an initializer (transposed
// for a linear weight: MatMul(x, Wᵀ)).
func (e *mambaExport) weight(name string, transpose bool) string {
	t := e.w[name]
	if transpose {
		return e.g.init(name+"_T", transposed(t))
	}
	return e.g.init(name, t)
}

// model returns the ModelProto.
func (e *mambaExport) model() *onnxpb.ModelProto {
	e.g = newWriter()
	g, d := e.g, e.d
	seq := any("seq")
	switch e.shape {
	case exportUnrolled, exportHFSlow:
		seq = e.seqLen
	case exportDecode:
		seq = 1
	}
	f32 := onnxpb.TensorProto_FLOAT
	inputs := []*onnxpb.ValueInfoProto{tinfo("input_ids", onnxpb.TensorProto_INT64, "batch", seq)}
	outputs := []*onnxpb.ValueInfoProto{tinfo("logits", f32, "batch", seq, int(e.w["backbone.embeddings.weight"].Shape[0]))}
	var convIn, ssmIn string
	if e.statesIO() {
		convIn, ssmIn = "conv_state", "ssm_state"
		inputs = append(inputs, tinfo(convIn, f32, d.layers, "batch", d.dInner, d.dConv-1),
			tinfo(ssmIn, f32, d.layers, "batch", d.dInner, d.dState))
		outputs = append(outputs, tinfo("conv_state_out", f32, d.layers, "batch", d.dInner, d.dConv-1))
	}
	outputs = append(outputs, tinfo("ssm_state_out", f32, d.layers, "batch", d.dInner, d.dState))

	emb := e.weight("backbone.embeddings.weight", false)
	h := g.op("Gather", []string{emb, "input_ids"}, attrInt("axis", 0))
	var convs, ssms []string
	for i := 0; i < d.layers; i++ {
		var cs, ss string
		if e.statesIO() {
			layer := g.ints(true, int64(i))
			cs = g.op("Gather", []string{convIn, layer}, attrInt("axis", 0))
			ss = g.op("Gather", []string{ssmIn, layer}, attrInt("axis", 0))
		}
		h, cs, ss = e.layer(i, h, cs, ss)
		if cs != "" {
			convs = append(convs, g.unsqueeze(cs, 0))
		}
		ssms = append(ssms, g.unsqueeze(ss, 0))
	}
	hn := e.rmsnorm(h, e.weight("backbone.norm_f.weight", false))
	head := "backbone.embeddings.weight"
	if !d.tied {
		head = "lm_head.weight"
	}
	g.nodes = append(g.nodes, nd("MatMul", "logits", []string{hn, e.weight(head, true)}, []string{"logits"}))
	if e.statesIO() {
		g.nodes = append(g.nodes, nd("Concat", "conv_out", convs, []string{"conv_state_out"}, attrInt("axis", 0)))
	}
	g.nodes = append(g.nodes, nd("Concat", "ssm_out", ssms, []string{"ssm_state_out"}, attrInt("axis", 0)))
	gr := graph("mamba", g.nodes, inputs, outputs, *g.inits...)
	if e.shape == exportOpset27 {
		return model(13, 27, gr)
	}
	return model(8, 18, gr)
}

// rmsnorm writes RMSNorm over the last axis.
func (e *mambaExport) rmsnorm(x, w string) string {
	g := e.g
	if e.shape == exportOpset27 {
		return g.op("RMSNormalization", []string{x, w}, attrInt("axis", -1), attrFloat("epsilon", float32(e.d.eps)))
	}
	ms := g.op("ReduceMean", []string{g.op("Pow", []string{x, g.f32(2)}), g.ints(false, -1)}, attrInt("keepdims", 1))
	r := g.op("Sqrt", []string{g.op("Add", []string{ms, g.f32(e.d.eps)})})
	return g.op("Mul", []string{g.op("Div", []string{x, r}), w})
}

// layer writes block i on the residual h [B,L,d_model]; convState and
// ssmState are the layer's input states (opset 27 only). It returns the
// new residual and the layer's final states.
func (e *mambaExport) layer(i int, h, convState, ssmState string) (string, string, string) {
	if e.shape == exportHFSlow {
		return e.layerHF(i, h)
	}
	g, d := e.g, e.d
	mixer := func(s string) string { return layerName(i, "mixer."+s) }
	hn := e.rmsnorm(h, e.weight(layerName(i, "norm.weight"), false))
	xz := g.op("MatMul", []string{hn, e.weight(mixer("in_proj.weight"), true)})
	parts := g.ops("Split", []string{xz, g.ints(false, int64(d.dInner), int64(d.dInner))}, 2, attrInt("axis", 2))
	x, z := parts[0], parts[1]
	xt := g.op("Transpose", []string{x}, attrInts("perm", 0, 2, 1))
	cw, cb := e.weight(mixer("conv1d.weight"), false), e.weight(mixer("conv1d.bias"), false)
	var xc, convOut string
	switch e.shape {
	case exportOpset27:
		r := g.ops("CausalConvWithState", []string{xt, cw, cb, convState}, 2, attrString("activation", "silu"))
		xc, convOut = g.op("Transpose", []string{r[0]}, attrInts("perm", 0, 2, 1)), r[1]
	case exportDecode:
		// window [B, Di, K] = state ++ token; y = silu(Σ_k window·w + b)
		win := g.op("Concat", []string{convState, xt}, attrInt("axis", 2))
		w2 := g.op("Reshape", []string{cw, g.ints(false, int64(d.dInner), int64(d.dConv))})
		c := g.op("ReduceSum", []string{g.op("Mul", []string{win, w2}), g.ints(false, 2)}, attrInt("keepdims", 0))
		xc = g.unsqueeze(g.silu(g.op("Add", []string{c, cb})), 1)
		convOut = g.op("Slice", []string{win, g.ints(false, 1), g.ints(false, int64(d.dConv)), g.ints(false, 2)})
	default:
		c := g.op("Conv", []string{xt, cw, cb}, attrInt("group", int64(d.dInner)),
			attrInts("pads", int64(d.dConv-1), 0), attrInts("kernel_shape", int64(d.dConv)))
		xc = g.silu(g.op("Transpose", []string{c}, attrInts("perm", 0, 2, 1)))
	}
	xdbl := g.op("MatMul", []string{xc, e.weight(mixer("x_proj.weight"), true)})
	parts = g.ops("Split", []string{xdbl, g.ints(false, int64(d.dtRank), int64(d.dState), int64(d.dState))}, 3, attrInt("axis", 2))
	dt := g.op("MatMul", []string{parts[0], e.weight(mixer("dt_proj.weight"), true)})
	dt = g.op("Softplus", []string{g.op("Add", []string{dt, e.weight(mixer("dt_proj.bias"), false)})})
	a := g.op("Neg", []string{g.op("Exp", []string{e.weight(mixer("A_log"), false)})})
	dv := e.weight(mixer("D"), false)
	var y, ssmOut string
	switch e.shape {
	case exportScan:
		y, ssmOut = e.scan(dt, xc, parts[1], parts[2], z, a, dv)
	case exportUnrolled:
		y, ssmOut = e.unrolled(dt, xc, parts[1], parts[2], z, a, dv)
	case exportOpset27:
		y, ssmOut = e.linearAttention(dt, xc, parts[1], parts[2], z, a, dv, ssmState)
	case exportDecode:
		at0 := func(v string) string { return g.squeeze(v, 1) }
		y, ssmOut = step(g, at0(dt), at0(xc), at0(parts[1]), at0(parts[2]), at0(z), ssmState, a, dv)
		y = g.unsqueeze(y, 1)
	}
	out := g.op("MatMul", []string{y, e.weight(mixer("out_proj.weight"), true)})
	return g.op("Add", []string{h, out}), convOut, ssmOut
}

// zeroState writes zeros [B, d_inner, d_state] (B from input_ids).
func (e *mambaExport) zeroState() string {
	g := e.g
	b := g.op("Slice", []string{g.op("Shape", []string{"input_ids"}), g.ints(false, 0), g.ints(false, 1)})
	shape := g.op("Concat", []string{b, g.ints(false, int64(e.d.dInner), int64(e.d.dState))}, attrInt("axis", 0))
	return g.op("ConstantOfShape", []string{shape}, attrTensor("value", f32Tensor("", []int64{1}, 0)))
}

// step writes one recurrence step on per-step values dt, x, z [B,Di],
// bm, cm [B,N] and state h [B,Di,N]; it returns the output [B,Di] and the
// new state.
func step(g *onnxWriter, dt, x, bm, cm, z, h, a, dv string) (string, string) {
	dA := g.op("Exp", []string{g.op("Mul", []string{g.unsqueeze(dt, 2), a})})
	dBx := g.op("Mul", []string{g.unsqueeze(g.op("Mul", []string{dt, x}), 2), g.unsqueeze(bm, 1)})
	h = g.op("Add", []string{g.op("Mul", []string{dA, h}), dBx})
	y := g.squeeze(g.op("MatMul", []string{h, g.unsqueeze(cm, 2)}), 2)
	y = g.op("Add", []string{y, g.op("Mul", []string{x, dv})})
	return g.op("Mul", []string{y, g.silu(z)}), h
}

// scan writes the recurrence as a Scan over axis 1 of dt, x, bm, cm, z
// whose body discretizes, updates and reads out one step.
func (e *mambaExport) scan(dt, x, bm, cm, z, a, dv string) (string, string) {
	g, d := e.g, e.d
	body := g.sub()
	f32 := onnxpb.TensorProto_FLOAT
	ins := []string{body.fresh("h"), body.fresh("dt"), body.fresh("x"), body.fresh("b"), body.fresh("c"), body.fresh("z")}
	y, h := step(body, ins[1], ins[2], ins[3], ins[4], ins[5], ins[0], a, dv)
	bg := graph(g.fresh("scan_body"), body.nodes,
		[]*onnxpb.ValueInfoProto{tinfo(ins[0], f32, "batch", d.dInner, d.dState), tinfo(ins[1], f32, "batch", d.dInner),
			tinfo(ins[2], f32, "batch", d.dInner), tinfo(ins[3], f32, "batch", d.dState),
			tinfo(ins[4], f32, "batch", d.dState), tinfo(ins[5], f32, "batch", d.dInner)},
		[]*onnxpb.ValueInfoProto{tinfo(h, f32, "batch", d.dInner, d.dState), tinfo(y, f32, "batch", d.dInner)})
	outs := g.ops("Scan", []string{e.zeroState(), dt, x, bm, cm, z}, 2, attrGraph("body", bg),
		attrInt("num_scan_inputs", 5), attrInts("scan_input_axes", 1, 1, 1, 1, 1), attrInts("scan_output_axes", 1))
	return outs[1], outs[0]
}

// unrolled writes the recurrence step by step over the fixed length.
func (e *mambaExport) unrolled(dt, x, bm, cm, z, a, dv string) (string, string) {
	g := e.g
	h := e.zeroState()
	var ys []string
	for t := 0; t < e.seqLen; t++ {
		idx := g.ints(true, int64(t))
		at := func(v string) string { return g.op("Gather", []string{v, idx}, attrInt("axis", 1)) }
		var y string
		y, h = step(g, at(dt), at(x), at(bm), at(cm), at(z), h, a, dv)
		ys = append(ys, g.unsqueeze(y, 1))
	}
	return g.op("Concat", ys, attrInt("axis", 1)), h
}

// linearAttention writes the recurrence as LinearAttention(gated): one
// head per channel, key B and query C shared by the heads (Expand), value
// Δ·x, decay Δ⊗A, the state [B, d_inner, d_state, 1].
func (e *mambaExport) linearAttention(dt, x, bm, cm, z, a, dv, ssmState string) (string, string) {
	g, d := e.g, e.d
	perHead := func(v string) string { // [B,L,N] -> [B,L,Di·N]
		ex := g.op("Expand", []string{g.unsqueeze(v, 2), g.ints(false, 1, 1, int64(d.dInner), 1)})
		return g.op("Reshape", []string{ex, g.ints(false, 0, 0, -1)})
	}
	decay := g.op("Reshape", []string{g.op("Mul", []string{g.unsqueeze(dt, 3), a}), g.ints(false, 0, 0, -1)})
	v := g.op("Mul", []string{dt, x})
	r := g.ops("LinearAttention", []string{perHead(cm), perHead(bm), v, g.unsqueeze(ssmState, 3), decay}, 2,
		attrInt("q_num_heads", int64(d.dInner)), attrInt("kv_num_heads", int64(d.dInner)),
		attrString("update_rule", "gated"), attrFloat("scale", 1))
	y := g.op("Add", []string{r[0], g.op("Mul", []string{dv, x})})
	return g.op("Mul", []string{g.silu(z), y}), g.squeeze(r[1], 3)
}

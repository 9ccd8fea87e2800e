package onnx

// layerHF writes block i as a trace of the Hugging Face MambaMixer slow
// path at a fixed length L (exportHFSlow): activations channel-first
// [B, d_inner, L], the conv as Conv(pads=[K-1,K-1]) sliced to the first L
// outputs, the discretization for the whole sequence
//
//	dA  = exp(A[None,:,None,:] · Δ[:,:,:,None])        [B, D, L, N]
//	dBu = Δ[:,:,:,None] · B[:,None,:,:] · x[:,:,:,None]
//
// then, for each step i, h = dA[:,:,i]·h + dBu[:,:,i] and
// y_i = (h @ C[:,i,:,None])[:,:,0], stacked on the last axis; + x·D,
// · SiLU(z), and the output projection of the transpose.
func (e *mambaExport) layerHF(i int, h string) (string, string, string) {
	g, d := e.g, e.d
	mixer := func(s string) string { return layerName(i, "mixer."+s) }
	hn := e.rmsnorm(h, e.weight(layerName(i, "norm.weight"), false))
	proj := g.op("Transpose", []string{g.op("MatMul", []string{hn, e.weight(mixer("in_proj.weight"), true)})},
		attrInts("perm", 0, 2, 1))
	parts := g.ops("Split", []string{proj, g.ints(false, int64(d.dInner), int64(d.dInner))}, 2, attrInt("axis", 1))
	x, z := parts[0], parts[1]
	c := g.op("Conv", []string{x, e.weight(mixer("conv1d.weight"), false), e.weight(mixer("conv1d.bias"), false)},
		attrInt("group", int64(d.dInner)), attrInts("pads", int64(d.dConv-1), int64(d.dConv-1)), attrInts("kernel_shape", int64(d.dConv)))
	c = g.op("Slice", []string{c, g.ints(false, 0), g.ints(false, int64(e.seqLen)), g.ints(false, 2)})
	xs := g.silu(c) // [B,D,L]
	xdbl := g.op("MatMul", []string{g.op("Transpose", []string{xs}, attrInts("perm", 0, 2, 1)), e.weight(mixer("x_proj.weight"), true)})
	p := g.ops("Split", []string{xdbl, g.ints(false, int64(d.dtRank), int64(d.dState), int64(d.dState))}, 3, attrInt("axis", -1))
	dt := g.op("MatMul", []string{p[0], e.weight(mixer("dt_proj.weight"), true)})
	dt = g.op("Softplus", []string{g.op("Add", []string{dt, e.weight(mixer("dt_proj.bias"), false)})})
	dt = g.op("Transpose", []string{dt}, attrInts("perm", 0, 2, 1)) // [B,D,L]
	a := g.op("Neg", []string{g.op("Exp", []string{e.weight(mixer("A_log"), false)})})
	dt4 := g.unsqueeze(dt, 3)
	dA := g.op("Exp", []string{g.op("Mul", []string{g.unsqueeze(a, 0, 2), dt4})})
	dBu := g.op("Mul", []string{g.op("Mul", []string{dt4, g.unsqueeze(p[1], 1)}), g.unsqueeze(xs, 3)})
	state := e.zeroState()
	var ys []string
	for t := 0; t < e.seqLen; t++ {
		idx := g.ints(true, int64(t))
		state = g.op("Add", []string{g.op("Mul", []string{g.op("Gather", []string{dA, idx}, attrInt("axis", 2)), state}),
			g.op("Gather", []string{dBu, idx}, attrInt("axis", 2))})
		ct := g.unsqueeze(g.op("Gather", []string{p[2], idx}, attrInt("axis", 1)), -1)
		y := g.op("Gather", []string{g.op("MatMul", []string{state, ct}), g.ints(true, 0)}, attrInt("axis", 2))
		ys = append(ys, g.unsqueeze(y, -1))
	}
	y := g.op("Concat", ys, attrInt("axis", -1))
	y = g.op("Add", []string{y, g.op("Mul", []string{xs, g.unsqueeze(e.weight(mixer("D"), false), 0, 2)})})
	y = g.op("Mul", []string{y, g.silu(z)})
	out := g.op("MatMul", []string{g.op("Transpose", []string{y}, attrInts("perm", 0, 2, 1)), e.weight(mixer("out_proj.weight"), true)})
	return g.op("Add", []string{h, out}), "", state
}

package ir

import (
	"fmt"
	"math"
)

// The fused state-space ops. Layouts are channel-last: Bt is the batch, L
// the sequence length, Dm the channels (d_inner), N the state size.
//
// SelectiveScan(u, delta, A, B, C, D?, z?, delta_bias?, h0?)
// {delta_softplus, heads} -> (y, h_last):
//
//	u, z      [Bt, L, Dm]      any float type
//	delta     [Bt, L, Dm]      (Mamba-1) or [Bt, L, H] (Mamba-2, heads = H)
//	A         [Dm, N] f32      (Mamba-1, A = -exp(A_log) < 0) or [H] f32 (Mamba-2)
//	B, C      [Bt, L, N] or [Bt, L, G, N] (per step; channel group g = d / (Dm/G))
//	          or [Dm, N] (constant, Mamba-1 only)
//	D         [Dm] or [H] f32; delta_bias [Dm] or [H] f32
//	h0, h_last [Bt, Dm, N] f32 (Mamba-2 reads Dm as H heads of Dm/H channels)
//
// With dt = delta[b,t,d] + delta_bias[d], softplus'd when delta_softplus:
//
//	h[b,d,n] = exp(dt·A[d,n]) · h[b,d,n] + dt · B[b,t,g(d),n] · u[b,t,d]
//	y[b,t,d] = (sum_n h[b,d,n]·C[b,t,g(d),n] + D[d]·u[b,t,d]) · silu(z[b,t,d])
//
// starting from h0 (zeros when absent); y has u's dtype, the state is f32
// and is rounded to f32 after every step (y reads the rounded state).
//
// SelectiveStateUpdate is one step of the same recurrence, for decoding:
// x, z, delta [Bt, Dm] (delta [Bt, H] in Mamba-2 form), B, C [Bt, N] or
// [Bt, G, N] or [Dm, N], and the state h [Bt, Dm, N] f32 in and out.
//
// CausalConv1d(x [Bt,L,D], w [D,K] or [D,1,K], bias? [D], state? [Bt,D,K-1])
// {activation} -> (y [Bt,L,D], state_out [Bt,D,K-1]):
//
//	xs = concat(state, xᵀ) along time  (state = zeros when absent)
//	y[b,t,d] = act(bias[d] + sum_k w[d,k] · xs[b,d,t+k])
//	state_out = the last K-1 columns of xs (oldest first)
//
// LoRAMatMul(x, W, A, B) {scale, transpose_b}:
//
//	y = x·W + scale·(x·A)·B        (W [K,N], A [K,r], B [r,N])
//	y = x·Wᵀ + scale·(x·Aᵀ)·Bᵀ     when transpose_b (W [N,K], A [r,K], B [N,r]:
//	                               PyTorch Linear and PEFT lora_A/lora_B layouts)
//
// defineSSMOps fills the op table entries of this file.
func defineSSMOps() {
	scanArgs := []ArgSpec{{Name: "u"}, {Name: "delta"}, {Name: "A"}, {Name: "B"}, {Name: "C"},
		{Name: "D", Optional: true}, {Name: "z", Optional: true}, {Name: "delta_bias", Optional: true}}
	scanAttrs := []AttrSpec{{Name: "delta_softplus", Kind: AttrBool, Default: false},
		{Name: "heads", Kind: AttrInt, Default: int64(0)}}
	builtinOps[OpSelectiveScan] = &OpInfo{Name: "SelectiveScan", Flags: Fused | Stateful,
		Args:  append(append([]ArgSpec(nil), scanArgs...), ArgSpec{Name: "h0", Optional: true}),
		Attrs: scanAttrs, Infer: inferScan,
		Formula: "h = exp(dt·A)·h + dt·B·u; y = (h·C + D·u)·silu(z), dt = softplus?(delta + delta_bias), " +
			"over t = 0..L-1 -> (y, h_last)"}
	builtinOps[OpSelectiveStateUpdate] = &OpInfo{Name: "SelectiveStateUpdate", Flags: Fused | Stateful,
		Args:  append(append([]ArgSpec(nil), scanArgs...), ArgSpec{Name: "h"}),
		Attrs: scanAttrs, Infer: inferScan,
		Formula: "one step: h' = exp(dt·A)·h + dt·B·x; y = (h'·C + D·x)·silu(z) -> (y, h')"}
	builtinOps[OpCausalConv1d] = &OpInfo{Name: "CausalConv1d", Flags: Fused | Stateful,
		Args: []ArgSpec{{Name: "x"}, {Name: "w"}, {Name: "bias", Optional: true}, {Name: "state", Optional: true}},
		Attrs: []AttrSpec{{Name: "activation", Kind: AttrString, Default: "none",
			Enum: []string{"none", "silu"}}},
		Infer: inferCausalConv,
		Formula: "y[b,t,d] = act(bias[d] + sum_k w[d,k]·xs[b,d,t+k]), xs = state ++ x over time; " +
			"state_out = last K-1 columns of xs"}
	builtinOps[OpLoRAMatMul] = &OpInfo{Name: "LoRAMatMul", Flags: Fused, Infer: inferLoRA,
		Args: []ArgSpec{{Name: "x"}, {Name: "W"}, {Name: "A"}, {Name: "B"}},
		Attrs: []AttrSpec{{Name: "scale", Kind: AttrFloat, Required: true},
			{Name: "transpose_b", Kind: AttrBool, Default: false}},
		Formula: "y = x·W + scale·(x·A)·B (all three transposed when transpose_b)"}
}

// ScanDims are the sizes a SelectiveScan or SelectiveStateUpdate works on.
type ScanDims struct {
	Batch, Len, Channels Dim // Len is StaticDim(1) for the update
	N                    int64
	Heads, Groups        int64 // Heads 0: Mamba-1 (A is [Dm, N])
	ConstBC              bool  // B and C are [Dm, N], shared by all steps
}

// ScanShapes checks the operands of a scan or state update and returns its
// dims.
func ScanShapes(v *Value) (ScanDims, error) {
	seq := v.Op == OpSelectiveScan
	u := v.Args[0].Type
	var sd ScanDims
	lead := 1 // Bt
	if seq {
		lead = 2 // Bt, L
	}
	if u.Shape.Rank() != lead+1 || !u.DType.IsFloat() {
		return sd, fmt.Errorf("u is %v, want float rank %d", u, lead+1)
	}
	sd.Batch, sd.Channels = u.Shape[0], u.Shape[lead]
	sd.Len = StaticDim(1)
	if seq {
		sd.Len = u.Shape[1]
	}
	prefix := u.Shape[:lead]
	sd.Heads = v.IntAttr("heads")
	A := v.Args[2].Type
	if A.DType != F32 {
		return sd, fmt.Errorf("A is %v, must be f32", A.DType)
	}
	perChan := sd.Channels // the size of delta's, D's and delta_bias's channel dim
	switch {
	case sd.Heads == 0:
		if A.Shape.Rank() != 2 || A.Shape[0] != sd.Channels || !A.Shape[1].IsStatic() {
			return sd, fmt.Errorf("A is %v, want [%v, N] (Mamba-1)", A.Shape, sd.Channels)
		}
		sd.N = A.Shape[1].Off
	case sd.Heads > 0:
		if A.Shape.Rank() != 1 || A.Shape[0] != StaticDim(sd.Heads) {
			return sd, fmt.Errorf("A is %v, want [%d] (one per head)", A.Shape, sd.Heads)
		}
		if !sd.Channels.IsStatic() || sd.Channels.Off%sd.Heads != 0 {
			return sd, fmt.Errorf("channels %v not divisible by heads %d", sd.Channels, sd.Heads)
		}
		perChan = StaticDim(sd.Heads)
	default:
		return sd, fmt.Errorf("negative heads")
	}
	dt := v.Args[1].Type
	if !dt.DType.IsFloat() || !dt.Shape.Equal(append(prefix.Clone(), perChan)) {
		return sd, fmt.Errorf("delta is %v, want %v", dt, append(prefix.Clone(), perChan))
	}
	for i, name := range []string{"B", "C"} {
		t := v.Args[3+i].Type
		if !t.DType.IsFloat() {
			return sd, fmt.Errorf("%s is %v, want a float type", name, t.DType)
		}
		s := t.Shape
		var g, n Dim
		switch {
		case s.Rank() == 2 && !seq && s[0] == sd.Batch && sd.Heads == 0 && s[0] != sd.Channels:
			g, n = StaticDim(1), s[1]
		case s.Rank() == 2 && sd.Heads == 0 && s[0] == sd.Channels && (seq || s[0] != sd.Batch):
			sd.ConstBC = true
			g, n = StaticDim(1), s[1]
		case s.Rank() == lead+1 && s[:lead].Equal(prefix):
			g, n = StaticDim(1), s[lead]
		case s.Rank() == lead+2 && s[:lead].Equal(prefix):
			g, n = s[lead], s[lead+1]
		default:
			return sd, fmt.Errorf("%s is %v, want %v[G,]N or [%v, N]", name, s, prefix, sd.Channels)
		}
		if !g.IsStatic() || !n.IsStatic() || g.Off < 1 {
			return sd, fmt.Errorf("%s is %v: groups and state size must be static", name, s)
		}
		if sd.Heads == 0 && n.Off != sd.N {
			return sd, fmt.Errorf("%s is %v, state size %d (from A)", name, s, sd.N)
		}
		if i == 0 {
			sd.Groups = g.Off
			if sd.Heads > 0 {
				sd.N = n.Off
			}
		} else if g.Off != sd.Groups || n.Off != sd.N {
			return sd, fmt.Errorf("B and C disagree: %v vs %v", v.Args[3].Type.Shape, s)
		}
	}
	div := sd.Channels.Off
	if sd.Heads > 0 {
		div = sd.Heads
	}
	if sd.Groups > 1 && (!sd.Channels.IsStatic() || div%sd.Groups != 0) {
		return sd, fmt.Errorf("%d groups do not divide %v", sd.Groups, sd.Channels)
	}
	vec := func(i int, name string, want Dim) error {
		if a := v.Arg(i); a != nil {
			if a.Type.DType != F32 || !a.Type.Shape.Equal(Shape{want}) {
				if !(name == "D" && a.Type.DType == F32 && a.Type.Shape.Equal(Shape{sd.Channels})) {
					return fmt.Errorf("%s is %v, want f32[%v]", name, a.Type, want)
				}
			}
		}
		return nil
	}
	if err := vec(5, "D", perChan); err != nil {
		return sd, err
	}
	if err := vec(7, "delta_bias", perChan); err != nil {
		return sd, err
	}
	if z := v.Arg(6); z != nil && (!z.Type.DType.IsFloat() || !z.Type.Shape.Equal(u.Shape)) {
		return sd, fmt.Errorf("z is %v, want %v", z.Type, u.Shape)
	}
	hs := Shape{sd.Batch, sd.Channels, StaticDim(sd.N)}
	if h := v.Arg(8); h != nil && (h.Type.DType != F32 || !h.Type.Shape.Equal(hs)) {
		return sd, fmt.Errorf("state is %v, want f32%v", h.Type, hs)
	}
	return sd, nil
}

func inferScan(v *Value) (Type, error) {
	sd, err := ScanShapes(v)
	if err != nil {
		return Type{}, fmt.Errorf("%s: %v", v.Op, err)
	}
	u := v.Args[0].Type
	return TupleType(u, TensorType(F32, Shape{sd.Batch, sd.Channels, StaticDim(sd.N)})), nil
}

func inferCausalConv(v *Value) (Type, error) {
	x, w := v.Args[0].Type, v.Args[1].Type
	if x.Shape.Rank() != 3 || !x.DType.IsFloat() {
		return Type{}, fmt.Errorf("CausalConv1d: x is %v, want float [Bt,L,D]", x)
	}
	d := x.Shape[2]
	k, err := ConvKernel(w.Shape, d)
	if err != nil {
		return Type{}, fmt.Errorf("CausalConv1d: %v", err)
	}
	if err := floatOperands(v, 1, 2, 3); err != nil {
		return Type{}, fmt.Errorf("CausalConv1d: %v", err)
	}
	if b := v.Arg(2); b != nil && !b.Type.Shape.Equal(Shape{d}) {
		return Type{}, fmt.Errorf("CausalConv1d: bias %v, want [%v]", b.Type.Shape, d)
	}
	ss := TensorType(x.DType, Shape{x.Shape[0], d, StaticDim(k - 1)})
	if s := v.Arg(3); s != nil && !s.Type.Equal(ss) {
		return Type{}, fmt.Errorf("CausalConv1d: state is %v, want %v", s.Type, ss)
	}
	return TupleType(x, ss), nil
}

func inferLoRA(v *Value) (Type, error) {
	x, w, a, b := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type, v.Args[3].Type
	tb := v.BoolAttr("transpose_b")
	if w.Shape.Rank() != 2 || a.Shape.Rank() != 2 || b.Shape.Rank() != 2 {
		return Type{}, fmt.Errorf("LoRAMatMul: W, A, B must be matrices, are %v, %v, %v", w.Shape, a.Shape, b.Shape)
	}
	y, err := matmulType("LoRAMatMul", x, w, tb)
	if err != nil {
		return Type{}, err
	}
	xa, err := matmulType("LoRAMatMul (x·A)", x, a, tb)
	if err != nil {
		return Type{}, err
	}
	xab, err := matmulType("LoRAMatMul ((x·A)·B)", xa, b, tb)
	if err != nil {
		return Type{}, err
	}
	if !xab.Shape.Equal(y.Shape) {
		return Type{}, fmt.Errorf("LoRAMatMul: low-rank path gives %v, base %v", xab.Shape, y.Shape)
	}
	if sc := v.FloatAttr("scale"); math.IsNaN(sc) || math.IsInf(sc, 0) {
		return Type{}, fmt.Errorf("LoRAMatMul: scale is %v", sc)
	}
	return y, nil
}

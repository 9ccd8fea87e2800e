package cuda

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// ssmOperands are the operands of a SelectiveScan or SelectiveStateUpdate
// (see ir/ops_ssm.go) as the kernel templates use them: dims as C
// literals or expressions, dtypes as C types, absent operands as false.
type ssmOperands struct {
	Channels    int64 // Dm
	StateSize   int64 // N
	Heads       int64 // H, 0 for Mamba-1
	HeadDim     int64 // Dm / H
	DeltaWidth  int64 // delta's last dim: Dm, or H for Mamba-2
	Groups      int64 // G
	PerGroup    int64 // channels per group, Dm / G
	ConstBC     bool  // B and C are [Dm, N]
	Softplus    bool
	DPerChannel bool // D is [Dm] (else [H])
	D, Z, Bias  bool // present
	State       bool // h0 present (the state update always has h)
	// The C element types of the operands and of y.
	UType, DeltaType, BType, CType, ZType, YType string
}

// ssmSetup checks v's operands, adds them to k as parameters (results
// first) and returns the template data.
func ssmSetup(fg *funcGen, v *ir.Value, k *kernel, seq bool) (*ssmOperands, error) {
	sd, err := ir.ScanShapes(v)
	if err != nil {
		return nil, err
	}
	if !sd.Channels.IsStatic() {
		return nil, fmt.Errorf("%s over the symbolic channel dim %v", v.Op, sd.Channels)
	}
	o := &ssmOperands{Channels: sd.Channels.Off, StateSize: sd.N, Heads: sd.Heads, Groups: sd.Groups,
		ConstBC: sd.ConstBC, Softplus: v.BoolAttr("delta_softplus")}
	o.DeltaWidth = o.Channels
	if o.Heads > 0 {
		o.HeadDim = o.Channels / o.Heads
		o.DeltaWidth = o.Heads
	}
	o.PerGroup = o.Channels / o.Groups
	u := v.Args[0].Type
	y, h := v.Type.Elems[0], v.Type.Elems[1]
	time := []string{"batch", "time", "channel"}
	if !seq {
		time = []string{"batch", "channel"}
	}
	k.out("y", y.DType, fg.result(v, 0), layout(y, time...))
	k.out("h_out", h.DType, fg.result(v, 1), layout(h, "batch", "channel", "state"))
	uName := "u"
	if !seq {
		uName = "x"
	}
	k.in(uName, u.DType, fg.operand(v, 0), layout(u, time...))
	dt := v.Args[1].Type
	k.in("delta", dt.DType, fg.operand(v, 1), layout(dt))
	k.in("A", ir.F32, fg.operand(v, 2), layout(v.Args[2].Type))
	bcLayout := "per step"
	if o.ConstBC {
		bcLayout = "constant, (channel, state)"
	}
	k.in("B", v.Args[3].Type.DType, fg.operand(v, 3), layout(v.Args[3].Type)+" "+bcLayout)
	k.in("C", v.Args[4].Type.DType, fg.operand(v, 4), layout(v.Args[4].Type)+" "+bcLayout)
	o.UType, o.DeltaType, o.BType, o.CType, o.YType = ctype(u.DType), ctype(dt.DType), ctype(v.Args[3].Type.DType), ctype(v.Args[4].Type.DType), ctype(y.DType)
	if d := v.Arg(5); d != nil {
		o.D = true
		o.DPerChannel = d.Type.Shape[0] == sd.Channels
		k.in("D", ir.F32, fg.operand(v, 5), layout(d.Type))
	}
	if z := v.Arg(6); z != nil {
		o.Z = true
		o.ZType = ctype(z.Type.DType)
		k.in("z", z.Type.DType, fg.operand(v, 6), layout(z.Type, time...))
	}
	if b := v.Arg(7); b != nil {
		o.Bias = true
		k.in("delta_bias", ir.F32, fg.operand(v, 7), layout(b.Type))
	}
	if h0 := v.Arg(8); h0 != nil {
		o.State = true
		name := "h0"
		if !seq {
			name = "h"
		}
		k.in(name, ir.F32, fg.operand(v, 8), layout(h0.Type, "batch", "channel", "state"))
	}
	return o, nil
}

// ssmDoc is the shared part of the scan kernels' comments.
func ssmDoc(o *ssmOperands) []string {
	form := "Mamba-1: A[d, n] per channel"
	if o.Heads > 0 {
		form = fmt.Sprintf("Mamba-2: %d heads of %d channels, A[head] and delta[.., head]", o.Heads, o.HeadDim)
	}
	bc := fmt.Sprintf("B and C per step, %d group(s) of %d channels", o.Groups, o.PerGroup)
	if o.ConstBC {
		bc = "B and C constant, [channel, state]"
	}
	return []string{
		"With dt = delta[b, t, dc] + delta_bias[dc], softplus'd when delta_softplus:",
		"    h[b, d, n] = exp(dt * A[d, n]) * h[b, d, n] + dt * B[b, t, g(d), n] * u[b, t, d]",
		"    y[b, t, d] = (sum_n h[b, d, n] * C[b, t, g(d), n] + D[d] * u[b, t, d]) * silu(z[b, t, d])",
		fmt.Sprintf("Here %s; %s; the state is f32.", form, bc),
	}
}

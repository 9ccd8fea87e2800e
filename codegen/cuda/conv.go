package cuda

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpCausalConv1d, genCausalConv)
}

// Block shape of the causal convolution: a thread per channel, each
// running through a tile of convStepsPerThread time steps.
const (
	convThreads        = 128
	convStepsPerThread = 16
)

var convTemplate = template.Must(template.New("conv").Parse(`    constexpr int kChannels = {{.Channels}};
    constexpr int kTaps = {{.Taps}};  // K; the state keeps the last K - 1 inputs
    constexpr int kStepsPerThread = {{.Steps}};
    const long long length = {{.Length}};

    const int channel = blockIdx.x * blockDim.x + threadIdx.x;
    if (channel >= kChannels) {
        return;
    }
    const long long batch = blockIdx.z;
    const long long t0 = (long long)blockIdx.y * kStepsPerThread;

    // column(j) is xs[batch, channel, j], where xs is the state (K - 1
    // columns) followed by x over time.
    auto column = [&](long long j) -> float {
        if (j >= kTaps - 1) {
            return to_float(x[(batch * length + j - (kTaps - 1)) * kChannels + channel]);
        }
{{- if .State}}
        return to_float(state[(batch * kChannels + channel) * (kTaps - 1) + j]);
{{- else}}
        return 0.0f;  // no state: zeros before the first step
{{- end}}
    };

    float taps[kTaps];
    for (int k = 0; k < kTaps; ++k) {
        taps[k] = to_float(w[channel * kTaps + k]);
    }
    // window[k] = xs[t + k] for the step t being computed.
    float window[kTaps];
    for (int k = 0; k < kTaps - 1; ++k) {
        window[k] = column(t0 + k);
    }
    for (int s = 0; s < kStepsPerThread && t0 + s < length; ++s) {
        const long long t = t0 + s;
        window[kTaps - 1] = column(t + kTaps - 1);
        float acc = {{if .Bias}}to_float(bias[channel]){{else}}0.0f{{end}};
        for (int k = 0; k < kTaps; ++k) {
            acc += taps[k] * window[k];
        }
        store(y + (batch * length + t) * kChannels + channel, {{if .SiLU}}silu(acc){{else}}acc{{end}});
        for (int k = 0; k < kTaps - 1; ++k) {
            window[k] = window[k + 1];
        }
    }

    // The new state, the last K - 1 columns of xs, from the last time tile.
    if (blockIdx.y == gridDim.y - 1) {
        for (int j = 0; j < kTaps - 1; ++j) {
            store(state_out + (batch * kChannels + channel) * (kTaps - 1) + j, column(length + j));
        }
    }
`))

// genCausalConv emits CausalConv1d(x [Bt, L, D], w [D, K] or [D, 1, K],
// bias? [D], state? [Bt, D, K-1]) {activation} -> (y, state_out):
//
//	xs = state ++ x over time (zeros when there is no state)
//	y[b, t, d] = act(bias[d] + sum_k w[d, k] · xs[b, d, t + k])
//	state_out[b, d, j] = xs[b, d, L + j]
//
// for prefill (L symbolic) and the decoding step (L = 1) alike. A thread
// owns one channel of one time tile and slides a window of K inputs over
// it; the last tile writes the new state. state_out must not share memory
// with state, and L must be at least 1.
func genCausalConv(fg *funcGen, v *ir.Value) error {
	x, w := v.Args[0].Type, v.Args[1].Type
	y, so := v.Type.Elems[0], v.Type.Elems[1]
	taps, err := ir.ConvKernel(w.Shape, x.Shape[2])
	if err != nil {
		return err
	}
	ch := x.Shape[2]
	if !ch.IsStatic() {
		return fmt.Errorf("CausalConv1d over the symbolic channel dim %v", ch)
	}
	k := newKernel("causal_conv1d", "CausalConv1d")
	k.out("y", y.DType, fg.result(v, 0), layout(y, "batch", "time", "channel"))
	k.out("state_out", so.DType, fg.result(v, 1), layout(so, "batch", "channel", "the last K-1 inputs, oldest first"))
	k.in("x", x.DType, fg.operand(v, 0), layout(x, "batch", "time", "channel"))
	k.in("w", w.DType, fg.operand(v, 1), layout(w)+", read as [D, K]")
	bias, state := v.Arg(2), v.Arg(3)
	if bias != nil {
		k.in("bias", bias.Type.DType, fg.operand(v, 2), layout(bias.Type))
	}
	if state != nil {
		k.in("state", state.Type.DType, fg.operand(v, 3), layout(state.Type, "batch", "channel", "the last K-1 inputs, oldest first"))
	}
	act := v.StringAttr("activation")
	k.doc = []string{
		"CausalConv1d: with xs = state ++ x over time (zeros without a state),",
		fmt.Sprintf("y[b, t, d] = %s(bias[d] + sum_k w[d, k] * xs[b, d, t + k]) and", act),
		"state_out[b, d, j] = xs[b, d, L + j]. A thread slides a window of K inputs",
		"over one channel of one time tile; the last tile writes the new state.",
	}
	length := polyOf(x.Shape[1])
	var body strings.Builder
	err = convTemplate.Execute(&body, map[string]any{
		"Channels": ch.Off, "Taps": taps, "Steps": convStepsPerThread, "Length": k.size(length),
		"Bias": bias != nil, "State": state != nil, "SiLU": act == "silu",
	})
	if err != nil {
		return err
	}
	k.body = body.String()
	k.block = [3]int{convThreads, 1, 1}
	k.grid = [3]Extent{
		{Count: constPoly(ch.Off).size(), Per: convThreads},
		{Count: length.size(), Per: convStepsPerThread},
		{Count: polyOf(x.Shape[0]).size(), Per: 1},
	}
	fg.launch(k, v)
	return nil
}

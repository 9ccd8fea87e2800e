package cuda

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpSelectiveStateUpdate, genStateUpdate)
}

// updateThreads is the block size of the state update.
const updateThreads = 128

var updateTemplate = template.Must(template.New("update").Parse(`    constexpr int kChannels = {{.Channels}};
    constexpr int kStateSize = {{.StateSize}};
    constexpr int kDeltaWidth = {{.DeltaWidth}};
{{- if not .ConstBC}}
    constexpr int kGroups = {{.Groups}};
    constexpr int kChannelsPerGroup = {{.PerGroup}};
{{- end}}
{{- if .Heads}}
    constexpr int kHeadDim = {{.HeadDim}};  // channels per head
{{- end}}
    constexpr int kLanes = {{.Lanes}};  // lanes per channel; lane i takes states i, i + kLanes, ...
    constexpr int kChannelsPerBlock = {{.Threads}} / kLanes;

    const int channel = blockIdx.x * kChannelsPerBlock + threadIdx.x / kLanes;
    const int lane = threadIdx.x % kLanes;
    const long long batch = blockIdx.y;
    const int dc = {{if .Heads}}channel / kHeadDim{{else}}channel{{end}};  // index into delta{{if .Heads}}, A{{end}} and delta_bias
    // Threads past the last channel compute nothing but take part in the
    // shuffles.
    const bool active = channel < kChannels;

    float partial = 0.0f;  // this lane's share of sum_n h[n] * C[n]
    float x_value = 0.0f;
    if (active) {
        float dt = to_float(delta[batch * kDeltaWidth + dc]){{if .Bias}} + delta_bias[dc]{{end}};
{{- if .Softplus}}
        dt = softplus(dt);
{{- end}}
        x_value = to_float(x[batch * kChannels + channel]);
        const long long bc = {{if .ConstBC}}(long long)channel * kStateSize{{else}}(batch * kGroups + channel / kChannelsPerGroup) * kStateSize{{end}};
        const long long row = (batch * kChannels + channel) * kStateSize;
        for (int n = lane; n < kStateSize; n += kLanes) {
            const float decay = expf(dt * {{if .Heads}}A[dc]{{else}}A[channel * kStateSize + n]{{end}});
            const float next = decay * h[row + n] + dt * to_float(B[bc + n]) * x_value;
            h_out[row + n] = next;
            partial += next * to_float(C[bc + n]);
        }
    }
    for (int offset = kLanes / 2; offset > 0; offset /= 2) {
        partial += __shfl_xor_sync(kFullWarp, partial, offset);
    }
    if (active && lane == 0) {
        float out = partial{{if .D}} + D[{{if .DPerChannel}}channel{{else}}dc{{end}}] * x_value{{end}};
{{- if .Z}}
        out *= silu(to_float(z[batch * kChannels + channel]));
{{- end}}
        store(y + batch * kChannels + channel, out);
    }
`))

// updateLanes is the number of lanes that share one channel's N states: the
// power of two at least N, at most a warp.
func updateLanes(n int64) int {
	lanes := 1
	for int64(lanes) < n && lanes < 32 {
		lanes *= 2
	}
	return lanes
}

// genStateUpdate emits SelectiveStateUpdate (one decoding step for every
// sequence of the batch): x, z [Bt, Dm], delta [Bt, Dm] or [Bt, H], B, C
// [Bt, N], [Bt, G, N] or [Dm, N], h [Bt, Dm, N] f32:
//
//	h'[b, d, n] = exp(dt · A) · h[b, d, n] + dt · B[b, g, n] · x[b, d]
//	y[b, d] = (sum_n h'[b, d, n] · C[b, g, n] + D · x[b, d]) · silu(z[b, d])
//
// Each channel's N states are spread over a group of lanes, which then
// sum their shares of y with shuffles. h_out may share memory with h
// (every state is read and written by the same thread).
func genStateUpdate(fg *funcGen, v *ir.Value) error {
	k := newKernel("selective_state_update", "SelectiveStateUpdate")
	o, err := ssmSetup(fg, v, k, false)
	if err != nil {
		return err
	}
	lanes := updateLanes(o.StateSize)
	k.doc = append([]string{"SelectiveStateUpdate: one step of the selective scan for every sequence."}, ssmDoc(o)...)
	k.doc = append(k.doc, fmt.Sprintf("A group of %d lanes owns a channel: each takes every %d-th state; shuffles", lanes, lanes),
		"sum their shares of y.")
	var body strings.Builder
	if err := updateTemplate.Execute(&body, struct {
		*ssmOperands
		Lanes, Threads int
	}{o, lanes, updateThreads}); err != nil {
		return err
	}
	k.body = body.String()
	perBlock := int64(updateThreads / lanes)
	k.block = [3]int{updateThreads, 1, 1}
	k.grid[0] = Extent{Count: constPoly(o.Channels).size(), Per: perBlock}
	k.grid[1] = Extent{Count: polyOf(v.Args[0].Type.Shape[0]).size(), Per: 1}
	fg.launch(k, v)
	return nil
}

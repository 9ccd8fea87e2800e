package cuda

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpSelectiveScan, genScan)
}

// The scan's block: scanThreads threads, laid out as blockChannels
// channels (threadIdx.x) by slices (threadIdx.y) of the time chunk; each
// thread runs stepsPerThread consecutive steps of its slice. The chunk's
// B and C are staged in shared memory, at most scanStagingBytes.
const (
	scanThreads         = 128
	scanMaxBlockChannel = 8
	scanMaxSteps        = 8
	scanStagingBytes    = 24 << 10
	// scanMinBlocks lets ptxas use up to 255 registers a thread: the state
	// and the steps' values must stay in registers.
	scanMinBlocks = 2
)

// scanConfig is the block layout of one scan kernel.
type scanConfig struct {
	BlockChannels int // channels per block, a power of two dividing 32
	Slices        int // time slices per chunk (threadIdx.y)
	Steps         int // consecutive steps per thread
}

// chooseScanConfig picks the layout for dims o: as many channels per block
// as the groups allow (the block's channels must share one group of B and
// C), and as many steps per thread as the staging memory allows.
func chooseScanConfig(o *ssmOperands) (scanConfig, error) {
	c := scanConfig{BlockChannels: scanMaxBlockChannel}
	if o.Groups > 1 {
		for o.PerGroup%int64(c.BlockChannels) != 0 {
			c.BlockChannels /= 2
		}
	}
	c.Slices = scanThreads / c.BlockChannels
	rowBytes := int(o.StateSize+1) * 4 * 2 // one step of B and C (rows padded by one)
	if o.ConstBC {
		rowBytes = 0
	}
	c.Steps = scanMaxSteps
	for c.Steps > 1 && c.Slices*c.Steps*rowBytes > scanStagingBytes {
		c.Steps /= 2
	}
	if c.Slices*c.Steps*rowBytes > scanStagingBytes {
		return c, fmt.Errorf("SelectiveScan: a state size of %d does not fit the scan kernel's shared memory", o.StateSize)
	}
	return c, nil
}

// sharedBytes is the static shared memory of the kernel.
func (c scanConfig) sharedBytes(o *ssmOperands) int {
	warps := c.Slices * c.BlockChannels / 32
	bytes := 2 * 2 * warps * c.BlockChannels * 4 // warp_decay, warp_input
	if !o.ConstBC {
		bytes += 2 * c.Slices * c.Steps * int(o.StateSize+1) * 4 // chunk_b, chunk_c
	}
	return bytes
}

var scanTemplate = template.Must(template.New("scan").Parse(`    constexpr int kChannels = {{.Channels}};
    constexpr int kStateSize = {{.StateSize}};
    constexpr int kDeltaWidth = {{.DeltaWidth}};
{{- if not .ConstBC}}
    constexpr int kGroups = {{.Groups}};
    constexpr int kChannelsPerGroup = {{.PerGroup}};
{{- end}}
{{- if .Heads}}
    constexpr int kHeadDim = {{.HeadDim}};  // channels per head
{{- end}}
    // Block layout: threadIdx.x is the channel within the block, threadIdx.y
    // the slice of the time chunk; a thread runs kStepsPerThread consecutive
    // steps. Lanes kBlockChannels apart hold consecutive slices of a channel.
    constexpr int kBlockChannels = {{.BlockChannels}};
    constexpr int kSlices = {{.Slices}};
    constexpr int kStepsPerThread = {{.Steps}};
    constexpr int kThreads = kBlockChannels * kSlices;
    constexpr int kChunk = kSlices * kStepsPerThread;  // time steps per chunk
    constexpr int kSlicesPerWarp = kWarpSize / kBlockChannels;
    constexpr int kWarps = kSlices / kSlicesPerWarp;
    const long long length = {{.Length}};
{{if not .ConstBC}}
    // B and C of the chunk's steps as f32; rows padded against bank conflicts.
    __shared__ float chunk_b[kChunk][kStateSize + 1];
    __shared__ float chunk_c[kChunk][kStateSize + 1];
{{- end}}
    // Each warp's composed (decay, input) pair per channel, for state n in
    // buffer n % 2: the barrier of state n + 1 separates the reads of one
    // state from the writes of the state after next.
    __shared__ float warp_decay[2][kWarps][kBlockChannels];
    __shared__ float warp_input[2][kWarps][kBlockChannels];

    const int slice = threadIdx.y;
    const int warp = slice / kSlicesPerWarp;
    const int lane = threadIdx.x + slice % kSlicesPerWarp * kBlockChannels;
    const int channel = blockIdx.x * kBlockChannels + threadIdx.x;
    const long long batch = blockIdx.y;
{{- if not .ConstBC}}
    const int group = blockIdx.x * kBlockChannels / kChannelsPerGroup;  // shared by the block's channels
{{- end}}
    const int dc = {{if .Heads}}channel / kHeadDim{{else}}channel{{end}};  // index into delta{{if .Heads}}, A{{end}}, delta_bias
    // Threads past the last channel run with dt = 0 (the identity step):
    // they take part in every barrier and shuffle and store nothing.
    const bool active = channel < kChannels;
{{- if .Heads}}
    const float a_head = active ? A[dc] : 0.0f;
{{- end}}

    // The state h[batch, channel, :] entering the chunk, in every slice.
    float state[kStateSize];
#pragma unroll
    for (int n = 0; n < kStateSize; ++n) {
        state[n] = {{if .State}}active ? h0[(batch * kChannels + channel) * kStateSize + n] : {{end}}0.0f;
    }

    for (long long t0 = 0; t0 < length; t0 += kChunk) {
{{- if not .ConstBC}}
        for (int i = threadIdx.y * kBlockChannels + threadIdx.x; i < kChunk * kStateSize; i += kThreads) {
            const int s = i / kStateSize;
            const int n = i % kStateSize;
            const long long t = t0 + s;
            const long long at = ((batch * length + t) * kGroups + group) * kStateSize + n;
            chunk_b[s][n] = t < length ? to_float(B[at]) : 0.0f;
            chunk_c[s][n] = t < length ? to_float(C[at]) : 0.0f;
        }
        __syncthreads();
{{- end}}

        // This thread's steps: dt, dt * u, and y's skip term D * u. Steps
        // past the end get dt = 0, the identity step.
        const int first = slice * kStepsPerThread;
        float dt[kStepsPerThread], dtu[kStepsPerThread], out[kStepsPerThread];
#pragma unroll
        for (int i = 0; i < kStepsPerThread; ++i) {
            const long long t = t0 + first + i;
            dt[i] = 0.0f;
            dtu[i] = 0.0f;
            out[i] = 0.0f;
            if (active && t < length) {
                const long long row = batch * length + t;
                const float u_t = to_float(u[row * kChannels + channel]);
                float d = to_float(delta[row * kDeltaWidth + dc]){{if .Bias}} + delta_bias[dc]{{end}};
{{- if .Softplus}}
                d = softplus(d);
{{- end}}
                dt[i] = d;
                dtu[i] = d * u_t;
{{- if .D}}
                out[i] = D[{{if .DPerChannel}}channel{{else}}dc{{end}}] * u_t;
{{- end}}
            }
        }
        // decay[i] = exp(dt * A): {{if .Heads}}one per step, the same for every n{{else}}recomputed for each n{{end}}.
        float decay[kStepsPerThread];
{{- if .Heads}}
#pragma unroll
        for (int i = 0; i < kStepsPerThread; ++i) {
            decay[i] = expf(dt[i] * a_head);
        }
{{- end}}

#pragma unroll
        for (int n = 0; n < kStateSize; ++n) {
{{- if not .Heads}}
            const float a = active ? A[channel * kStateSize + n] : 0.0f;
{{- end}}
{{- if .ConstBC}}
            const float b_n = active ? to_float(B[channel * kStateSize + n]) : 0.0f;
            const float c_n = active ? to_float(C[channel * kStateSize + n]) : 0.0f;
{{- end}}
            // Compose this thread's steps into one: h_out = total_decay * h_in + total_input.
            float total_decay = 1.0f, total_input = 0.0f;
#pragma unroll
            for (int i = 0; i < kStepsPerThread; ++i) {
{{- if not .Heads}}
                decay[i] = expf(dt[i] * a);
{{- end}}
                total_input = decay[i] * total_input + dtu[i] * {{if .ConstBC}}b_n{{else}}chunk_b[first + i][n]{{end}};
                total_decay *= decay[i];
            }
            // Inclusive scan of the pairs over the warp's slices.
#pragma unroll
            for (int offset = kBlockChannels; offset < kWarpSize; offset *= 2) {
                const float earlier_decay = __shfl_up_sync(kFullWarp, total_decay, offset);
                const float earlier_input = __shfl_up_sync(kFullWarp, total_input, offset);
                if (lane >= offset) {
                    total_input = total_decay * earlier_input + total_input;
                    total_decay *= earlier_decay;
                }
            }
            // Exclusive: the composition of the warp's earlier slices.
            float prefix_decay = __shfl_up_sync(kFullWarp, total_decay, kBlockChannels);
            float prefix_input = __shfl_up_sync(kFullWarp, total_input, kBlockChannels);
            if (lane < kBlockChannels) {
                prefix_decay = 1.0f;
                prefix_input = 0.0f;
            }
            const int buffer = n % 2;
            if (lane >= kWarpSize - kBlockChannels) {  // the warp's last slice: its total
                warp_decay[buffer][warp][threadIdx.x] = total_decay;
                warp_input[buffer][warp][threadIdx.x] = total_input;
            }
            __syncthreads();

            // The state entering this thread's first step: the chunk's carry,
            // through the earlier warps, then the earlier slices of this one.
            float h = state[n];
            for (int w = 0; w < warp; ++w) {
                h = warp_decay[buffer][w][threadIdx.x] * h + warp_input[buffer][w][threadIdx.x];
            }
            h = prefix_decay * h + prefix_input;
#pragma unroll
            for (int i = 0; i < kStepsPerThread; ++i) {
                h = decay[i] * h + dtu[i] * {{if .ConstBC}}b_n{{else}}chunk_b[first + i][n]{{end}};
                out[i] += h * {{if .ConstBC}}c_n{{else}}chunk_c[first + i][n]{{end}};
            }
            // The carry into the next chunk: through every warp.
            float carry = state[n];
            for (int w = 0; w < kWarps; ++w) {
                carry = warp_decay[buffer][w][threadIdx.x] * carry + warp_input[buffer][w][threadIdx.x];
            }
            state[n] = carry;
        }

#pragma unroll
        for (int i = 0; i < kStepsPerThread; ++i) {
            const long long t = t0 + first + i;
            if (active && t < length) {
                const long long at = (batch * length + t) * kChannels + channel;
{{- if .Z}}
                store(y + at, out[i] * silu(to_float(z[at])));
{{- else}}
                store(y + at, out[i]);
{{- end}}
            }
        }
        __syncthreads();  // the shared arrays are rewritten for the next chunk
    }

    if (active && slice == 0) {
#pragma unroll
        for (int n = 0; n < kStateSize; ++n) {
            h_out[(batch * kChannels + channel) * kStateSize + n] = state[n];
        }
    }
`))

// genScan emits SelectiveScan (the prefill): u, z [Bt, L, Dm], delta
// [Bt, L, Dm] or [Bt, L, H], B, C [Bt, L, N], [Bt, L, G, N] or [Dm, N],
// h0? [Bt, Dm, N] f32, with the recurrence of ssmDoc over t = 0..L-1.
//
// One block per (batch, group of channels). Time runs in chunks of
// Slices·Steps steps: each thread composes its Steps steps into one
// (decay, input) pair per state n (h_out = decay·h_in + input); a scan of
// the pairs across the block — shuffles within a warp, shared memory
// between warps — gives each thread the state entering its steps, which
// it then replays to accumulate y; the composition of all the chunk's
// pairs carries the state, kept in f32 registers, into the next chunk.
func genScan(fg *funcGen, v *ir.Value) error {
	k := newKernel("selective_scan", "SelectiveScan")
	o, err := ssmSetup(fg, v, k, true)
	if err != nil {
		return err
	}
	cfg, err := chooseScanConfig(o)
	if err != nil {
		return err
	}
	k.doc = append([]string{"SelectiveScan over t = 0..L-1, from h0 (zeros when absent)."}, ssmDoc(o)...)
	k.doc = append(k.doc,
		"",
		fmt.Sprintf("One block per (batch, %d channels); time in chunks of %d slices x %d steps.", cfg.BlockChannels, cfg.Slices, cfg.Steps),
		"Each thread composes its steps into one (decay, input) pair per state; a",
		"block-wide scan of the pairs (shuffles in a warp, shared memory between",
		"warps) gives the state entering its steps, which it replays to accumulate y.",
		"The state crosses chunks in registers.")
	u := v.Args[0].Type
	var body strings.Builder
	if err := scanTemplate.Execute(&body, struct {
		*ssmOperands
		scanConfig
		Length string
	}{o, cfg, k.size(polyOf(u.Shape[1]))}); err != nil {
		return err
	}
	k.body = body.String()
	k.block = [3]int{cfg.BlockChannels, cfg.Slices, 1}
	k.grid[0] = Extent{Count: constPoly(o.Channels).size(), Per: int64(cfg.BlockChannels)}
	k.grid[1] = Extent{Count: polyOf(u.Shape[0]).size(), Per: 1}
	k.shared = cfg.sharedBytes(o)
	k.minBlocks = scanMinBlocks
	fg.launch(k, v)
	return nil
}

package ref

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// The tiny-mamba reference (see its README.md): a 2-layer Mamba-1
// checkpoint and logits and states from an independent float64
// implementation.
const tinyMambaDir = "../../../shared/reference/tiny-mamba"

// tinyConfig holds the dims of the tiny model (from reference.json).
type tinyConfig struct {
	DModel int64   `json:"d_model"`
	DInner int64   `json:"d_inner"`
	DState int64   `json:"d_state"`
	DConv  int64   `json:"d_conv"`
	DtRank int64   `json:"dt_rank"`
	NLayer int     `json:"n_layer"`
	Vocab  int64   `json:"vocab"`
	Eps    float64 `json:"eps"`
}

// refArray is a tensor in reference.json.
type refArray struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

type tinyReference struct {
	Model tinyConfig `json:"model"`
	Cases []struct {
		Name           string   `json:"name"`
		InputIDs       refArray `json:"input_ids"`
		Logits         refArray `json:"logits"`
		FinalConvState refArray `json:"final_conv_state"`
		FinalSSMState  refArray `json:"final_ssm_state"`
		Steps          []struct {
			Logits refArray `json:"logits"`
		} `json:"steps"`
	} `json:"cases"`
}

// loadSafetensors reads an all-F32 safetensors file: an 8-byte little-endian
// header length, a JSON header, then the data.
func loadSafetensors(path string) (map[string]*ir.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("short file")
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("bad header length %d", n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		return nil, err
	}
	data := b[8+n:]
	out := map[string]*ir.Tensor{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if e.DType != "F32" || len(e.Offsets) != 2 || e.Offsets[0] > e.Offsets[1] || e.Offsets[1] > uint64(len(data)) {
			return nil, fmt.Errorf("%s: unsupported entry %+v", name, e)
		}
		t, err := ir.NewTensor(ir.F32, e.Shape, data[e.Offsets[0]:e.Offsets[1]])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// buildTinyMamba builds the Mamba-1 model as an IR function. With step
// false it is the forward pass over ids [B,L] (SelectiveScan); with step
// true it is one decoding step over ids [B,1] taking and returning each
// layer's conv and ssm state (CausalConv1d with state and
// SelectiveStateUpdate). Results: logits, then per layer conv state and
// ssm state.
func buildTinyMamba(c tinyConfig, step bool) (*ir.Func, error) {
	f := ir.NewFunc("tiny")
	b := ir.NewBuilder(f)
	B, L := ir.SymDim("B"), ir.SymDim("L")
	if step {
		L = ir.StaticDim(1)
	}
	st := func(d ...int64) ir.Shape { return ir.Static(d...) }
	f32T := func(s ir.Shape) ir.Type { return ir.TensorType(ir.F32, s) }
	ids := f.NewArg("ids", ir.TensorType(ir.I64, ir.Shape{B, L}))
	var convIn, ssmIn []*ir.Value
	if step {
		for i := 0; i < c.NLayer; i++ {
			convIn = append(convIn, f.NewArg(fmt.Sprintf("conv%d", i), f32T(ir.Shape{B, ir.StaticDim(c.DInner), ir.StaticDim(c.DConv - 1)})))
			ssmIn = append(ssmIn, f.NewArg(fmt.Sprintf("ssm%d", i), f32T(ir.Shape{B, ir.StaticDim(c.DInner), ir.StaticDim(c.DState)})))
		}
	}
	param := func(name string, dims ...int64) *ir.Value { return b.Param(name, f32T(st(dims...))) }
	bt := func(last ...int64) ir.Shape { // [B, last...]
		s := ir.Shape{B}
		for _, d := range last {
			s = append(s, ir.StaticDim(d))
		}
		return s
	}
	emb := param("backbone.embeddings.weight", c.Vocab, c.DModel)
	hidden := b.Op(ir.OpGather, nil, emb, ids)
	var states []*ir.Value
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("backbone.layers.%d.", i)
		h := b.Op(ir.OpRMSNorm, ir.Attrs{"eps": c.Eps}, hidden, param(p+"norm.weight", c.DModel))
		proj := b.Op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, h, param(p+"mixer.in_proj.weight", 2*c.DInner, c.DModel))
		xz := b.Tuple(ir.OpSplit, ir.Attrs{"axis": int64(-1), "sizes": []int64{c.DInner, c.DInner}}, proj)
		convArgs := []*ir.Value{xz[0], param(p+"mixer.conv1d.weight", c.DInner, 1, c.DConv), param(p+"mixer.conv1d.bias", c.DInner)}
		if step {
			convArgs = append(convArgs, convIn[i])
		}
		conv := b.Tuple(ir.OpCausalConv1d, ir.Attrs{"activation": "silu"}, convArgs...)
		x := conv[0]
		xdb := b.Op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, x, param(p+"mixer.x_proj.weight", c.DtRank+2*c.DState, c.DInner))
		parts := b.Tuple(ir.OpSplit, ir.Attrs{"axis": int64(-1), "sizes": []int64{c.DtRank, c.DState, c.DState}}, xdb)
		dt := b.Op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, parts[0], param(p+"mixer.dt_proj.weight", c.DInner, c.DtRank))
		a := b.Op(ir.OpNeg, nil, b.Op(ir.OpExp, nil, param(p+"mixer.A_log", c.DInner, c.DState)))
		d, dtBias := param(p+"mixer.D", c.DInner), param(p+"mixer.dt_proj.bias", c.DInner)
		attrs := ir.Attrs{"delta_softplus": true}
		var y, ssm *ir.Value
		if step {
			flat := func(v *ir.Value, n int64) *ir.Value { return b.Op(ir.OpReshape, ir.Attrs{"shape": bt(n)}, v) }
			r := b.Tuple(ir.OpSelectiveStateUpdate, attrs, flat(x, c.DInner), flat(dt, c.DInner), a,
				flat(parts[1], c.DState), flat(parts[2], c.DState), d, flat(xz[1], c.DInner), dtBias, ssmIn[i])
			y, ssm = b.Op(ir.OpReshape, ir.Attrs{"shape": bt(1, c.DInner)}, r[0]), r[1]
		} else {
			r := b.Tuple(ir.OpSelectiveScan, attrs, x, dt, a, parts[1], parts[2], d, xz[1], dtBias)
			y, ssm = r[0], r[1]
		}
		out := b.Op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, y, param(p+"mixer.out_proj.weight", c.DModel, c.DInner))
		hidden = b.Op(ir.OpAdd, nil, hidden, out)
		states = append(states, conv[1], ssm)
	}
	h := b.Op(ir.OpRMSNorm, ir.Attrs{"eps": c.Eps}, hidden, param("backbone.norm_f.weight", c.DModel))
	logits := b.Op(ir.OpMatMul, ir.Attrs{"transpose_b": true}, h, emb)
	if b.Err != nil {
		return nil, b.Err
	}
	f.SetResults(append([]*ir.Value{logits}, states...), nil)
	return f, ir.VerifyFunc(f)
}

// maxAbsDiff returns max |got - want| and fails on a length mismatch.
func maxAbsDiff(t *testing.T, name string, got, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	m := 0.0
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > m || math.IsNaN(d) {
			m = d
			if math.IsNaN(d) {
				return math.Inf(1)
			}
		}
	}
	t.Logf("%s: max |diff| %g over %d values", name, m, len(got))
	return m
}

// TestTinyMamba runs the whole tiny model, forward and step by step,
// against the independent float64 reference.
func TestTinyMamba(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(tinyMambaDir, "reference.json"))
	if err != nil {
		t.Skipf("tiny-mamba reference not available: %v", err)
	}
	var ref tinyReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	weights, err := loadSafetensors(filepath.Join(tinyMambaDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	c := ref.Model
	fwd, err := buildTinyMamba(c, false)
	if err != nil {
		t.Fatal(err)
	}
	stepFn, err := buildTinyMamba(c, true)
	if err != nil {
		t.Fatal(err)
	}
	// Observed: about 8e-8 (logits), 2.5e-8 (conv state), 1.3e-9 (ssm
	// state, values up to 0.01); ONNX Runtime in f32 is at 3e-7 on logits.
	const logitTol, convTol, ssmTol = 5e-7, 1e-7, 1e-8
	for _, tc := range ref.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			ids := tc.InputIDs
			idv := make([]int64, len(ids.Data))
			for i, x := range ids.Data {
				idv[i] = int64(x)
			}
			out, err := Run(fwd, weights, []*ir.Tensor{i64(ids.Shape, idv...)})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, "logits", out[0].Float64s(), tc.Logits.Data); d > logitTol {
				t.Errorf("forward logits differ by %g (tol %g)", d, logitTol)
			}
			bsz, l := ids.Shape[0], ids.Shape[1]
			// Reference states are [n_layer, B, Dm, ...]; the conv state has
			// d_conv columns, ours the last d_conv-1.
			var wantConv, gotConv, wantSSM, gotSSM []float64
			for i := 0; i < c.NLayer; i++ {
				gotConv = append(gotConv, out[1+2*i].Float64s()...)
				gotSSM = append(gotSSM, out[2+2*i].Float64s()...)
			}
			for row := int64(0); row < int64(c.NLayer)*bsz*c.DInner; row++ {
				wantConv = append(wantConv, tc.FinalConvState.Data[row*c.DConv+1:(row+1)*c.DConv]...)
			}
			wantSSM = tc.FinalSSMState.Data
			if d := maxAbsDiff(t, "conv state", gotConv, wantConv); d > convTol {
				t.Errorf("final conv state differs by %g", d)
			}
			if d := maxAbsDiff(t, "ssm state", gotSSM, wantSSM); d > ssmTol {
				t.Errorf("final ssm state differs by %g", d)
			}
			if len(tc.Steps) == 0 {
				return
			}
			// Decode token by token from zero states.
			inputs := make([]*ir.Tensor, 1+2*c.NLayer)
			for i := 0; i < c.NLayer; i++ {
				inputs[1+2*i] = zeros(ir.F32, bsz, c.DInner, c.DConv-1)
				inputs[2+2*i] = zeros(ir.F32, bsz, c.DInner, c.DState)
			}
			for s := int64(0); s < l && int(s) < len(tc.Steps); s++ {
				tok := make([]int64, bsz)
				for bi := range tok {
					tok[bi] = idv[int64(bi)*l+s]
				}
				inputs[0] = i64(shp(bsz, 1), tok...)
				res, err := Run(stepFn, weights, inputs)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(t, "step logits", res[0].Float64s(), tc.Steps[s].Logits.Data); d > logitTol {
					t.Errorf("step %d logits differ by %g", s, d)
				}
				copy(inputs[1:], res[1:])
			}
		})
	}
}

package hf

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/internal/mambaref"
	"github.com/ssmc-dev/ssmc/ir"
)

// naiveForward is an independent float64 Mamba-1 forward written from the
// block formula in the reference README (plus the Falcon-Mamba Δ/B/C norms
// and the optional biases), sharing no code with the IR builder. It returns
// the logits [B·L·V] and the final conv [n_layer·B·D·(K-1)] and ssm
// [n_layer·B·D·N] states, row-major.
func naiveForward(c *Config, w map[string]*ir.Tensor, batch, seq int, ids []int64) (logits, convS, ssmS []float64) {
	get := func(name string) []float64 { return w[name].Float64s() }
	dm, di, n, k, r, v := c.DModel, c.DInner, c.DState, c.DConv, c.DTRank, c.VocabSize
	// linear: y[o] = sum_i W[o,i]·x[i] (+ bias[o])
	linear := func(W []float64, bias []float64, x []float64, out int) []float64 {
		in := len(x)
		y := make([]float64, out)
		for o := range y {
			s := 0.0
			for i := 0; i < in; i++ {
				s += W[o*in+i] * x[i]
			}
			if bias != nil {
				s += bias[o]
			}
			y[o] = s
		}
		return y
	}
	rms := func(x, wt []float64, eps float64) []float64 {
		ms := 0.0
		for _, a := range x {
			ms += a * a
		}
		s := 1 / math.Sqrt(ms/float64(len(x))+eps)
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] * s
			if wt != nil {
				y[i] *= wt[i]
			}
		}
		return y
	}
	silu := func(a float64) float64 { return a / (1 + math.Exp(-a)) }
	softplus := func(a float64) float64 { return math.Log1p(math.Exp(a)) }
	opt := func(ok bool, name string) []float64 {
		if ok {
			return get(name)
		}
		return nil
	}

	emb := get(EmbeddingName)
	head := emb
	if !c.TieEmbeddings {
		head = get(LMHeadName)
	}
	logits = make([]float64, batch*seq*v)
	convS = make([]float64, c.NLayer*batch*di*(k-1))
	ssmS = make([]float64, c.NLayer*batch*di*n)
	for b := 0; b < batch; b++ {
		// h[t] is the residual stream at time t.
		h := make([][]float64, seq)
		for t := range h {
			tok := int(ids[b*seq+t])
			h[t] = append([]float64(nil), emb[tok*dm:(tok+1)*dm]...)
		}
		for l := 0; l < c.NLayer; l++ {
			p := func(s string) string { return LayerWeight(l, s) }
			normW, inW := get(p("norm.weight")), get(p("mixer.in_proj.weight"))
			inB := opt(c.InProjBias, p("mixer.in_proj.bias"))
			convW, convB := get(p("mixer.conv1d.weight")), opt(c.ConvBias, p("mixer.conv1d.bias"))
			xW, dtW, dtB := get(p("mixer.x_proj.weight")), get(p("mixer.dt_proj.weight")), get(p("mixer.dt_proj.bias"))
			aLog, dD := get(p("mixer.A_log")), get(p("mixer.D"))
			outW, outB := get(p("mixer.out_proj.weight")), opt(c.OutProjBias, p("mixer.out_proj.bias"))
			xs := make([][]float64, seq) // pre-conv inputs
			zs := make([][]float64, seq)
			for t := 0; t < seq; t++ {
				xz := linear(inW, inB, rms(h[t], normW, c.NormEps), 2*di)
				xs[t], zs[t] = xz[:di], xz[di:]
			}
			s := make([]float64, di*n) // state [D, N]
			for t := 0; t < seq; t++ {
				xc := make([]float64, di)
				for d := 0; d < di; d++ {
					acc := 0.0
					if convB != nil {
						acc = convB[d]
					}
					for j := 0; j < k; j++ { // tap j sees input t-(k-1)+j
						if tt := t - (k - 1) + j; tt >= 0 {
							acc += convW[d*k+j] * xs[tt][d]
						}
					}
					xc[d] = silu(acc)
				}
				dbl := linear(xW, nil, xc, r+2*n)
				dt, bm, cm := dbl[:r], dbl[r:r+n], dbl[r+n:]
				if c.BCDtRMS {
					dt, bm, cm = rms(dt, nil, c.MixerRMSEps), rms(bm, nil, c.MixerRMSEps), rms(cm, nil, c.MixerRMSEps)
				}
				delta := linear(dtW, dtB, dt, di)
				y := make([]float64, di)
				for d := 0; d < di; d++ {
					dl := softplus(delta[d])
					acc := 0.0
					for j := 0; j < n; j++ {
						a := -math.Exp(aLog[d*n+j])
						s[d*n+j] = math.Exp(dl*a)*s[d*n+j] + dl*xc[d]*bm[j]
						acc += s[d*n+j] * cm[j]
					}
					y[d] = (acc + dD[d]*xc[d]) * silu(zs[t][d])
				}
				o := linear(outW, outB, y, dm)
				for i := range o {
					h[t][i] += o[i]
				}
			}
			for d := 0; d < di; d++ {
				for j := 0; j < k-1; j++ { // last K-1 inputs, zeros before the first
					if tt := seq - (k - 1) + j; tt >= 0 {
						convS[((l*batch+b)*di+d)*(k-1)+j] = xs[tt][d]
					}
				}
			}
			copy(ssmS[(l*batch+b)*di*n:], s)
		}
		normF := get(NormFName)
		for t := 0; t < seq; t++ {
			copy(logits[(b*seq+t)*v:], linear(head, nil, rms(h[t], normF, c.NormEps), v))
		}
	}
	return logits, convS, ssmS
}

// TestNaiveReference checks the naive forward against reference.json, so
// that it can serve as the oracle for configs the reference lacks.
func TestNaiveReference(t *testing.T) {
	r := loadReference(t)
	c := r.find(t, "b2_s16")
	cfg, err := LoadConfig(refDir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(refDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := map[string]*ir.Tensor{}
	for _, ti := range f.Tensors() {
		b, err := f.Bytes(ti.Name)
		if err != nil || ti.DType != safetensors.F32 {
			t.Fatalf("%s: %v %v", ti.Name, ti.DType, err)
		}
		norm, _ := NormalizeName(ti.Name)
		w[norm] = &ir.Tensor{DType: ir.F32, Shape: ti.Shape, Data: b}
	}
	logits, _, ssm := naiveForward(cfg, w, c.Batch, c.SeqLen, int64s(c.InputIDs.Data))
	d := maxDiff(t, "naive logits", logits, c.Logits.Data)
	t.Logf("naive forward vs reference.json: logits max abs diff %.3g", d)
	if d > 1e-5 {
		t.Errorf("naive forward vs reference: logits differ by %.3g", d)
	}
	if d := maxDiff(t, "naive ssm", ssm, c.FinalSSMState.Data); d > 1e-6 {
		t.Errorf("naive forward vs reference: ssm_state differs by %.3g", d)
	}
}

// TestRandomAgainstNaive compares the fused prefill of every random config
// (Falcon norms, biases, untied heads, odd sizes, f16/bf16 storage) with
// the naive float64 forward on the same weights.
func TestRandomAgainstNaive(t *testing.T) {
	const batch = 2
	for i, rc := range randomConfigs {
		for _, seq := range []int{7, 2} { // 2 < d_conv-1 for some configs
			t.Run(fmt.Sprintf("%s/L%d", rc.name, seq), func(t *testing.T) {
				cfg := configOf(rc.cfg)
				w := randomWeights(cfg, uint64(200+i), rc.dtype)
				ids := randomIDs(uint64(300+i), batch*seq, cfg.VocabSize)
				m, err := Build(cfg, w, Options{})
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, m, "prefill", idsTensor(batch, seq, ids))
				logits, convS, ssmS := naiveForward(cfg, w, batch, seq, ids)
				checkClose(t, "logits vs naive", got[0], got[0].Shape, logits, 1e-4)
				checkClose(t, "conv_state vs naive", got[1], got[1].Shape, convS, 1e-5)
				checkClose(t, "ssm_state vs naive", got[2], got[2].Shape, ssmS, 1e-5)
			})
		}
	}
}

// TestRandomAgainstMambaref compares the fused and decomposed prefill with
// internal/mambaref, the project's second oracle, on the random configs it
// supports (no biases on in_proj/out_proj, conv bias present, no
// Falcon-Mamba norms).
func TestRandomAgainstMambaref(t *testing.T) {
	const batch, seq = 2, 5
	for i, rc := range randomConfigs {
		c := rc.cfg
		if c.BCDtRMS || c.InProjBias || c.OutProjBias || !c.ConvBias {
			continue
		}
		t.Run(rc.name, func(t *testing.T) {
			cfg := configOf(c)
			w := randomWeights(cfg, uint64(400+i), rc.dtype)
			ids := randomIDs(uint64(500+i), batch*seq, cfg.VocabSize)
			mw := mambaref.Weights{}
			for name, x := range w {
				mw[name] = x.Float64s()
			}
			rows := make([][]int, batch)
			for b := range rows {
				for _, id := range ids[b*seq : (b+1)*seq] {
					rows[b] = append(rows[b], int(id))
				}
			}
			mc := mambaref.Config{DModel: cfg.DModel, DInner: cfg.DInner, DState: cfg.DState, DConv: cfg.DConv,
				DtRank: cfg.DTRank, NLayer: cfg.NLayer, Vocab: cfg.VocabSize, Eps: cfg.NormEps, TiedHead: cfg.TieEmbeddings}
			logits, st, err := mambaref.Forward(mc, mw, rows)
			if err != nil {
				t.Fatal(err)
			}
			var flat []float64
			for _, b := range logits {
				for _, l := range b {
					flat = append(flat, l...)
				}
			}
			for _, o := range []Options{{}, {Decomposed: true, SeqLen: seq}} {
				m, err := Build(cfg, w, o)
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, m, "prefill", idsTensor(batch, seq, ids))
				form := map[bool]string{false: "fused", true: "decomposed"}[o.Decomposed]
				checkClose(t, form+" logits vs mambaref", got[0], got[0].Shape, flat, 1e-4)
				checkClose(t, form+" conv_state vs mambaref", got[1], got[1].Shape, lastCols(st.Conv, cfg.DConv, cfg.DConv-1), 1e-5)
				checkClose(t, form+" ssm_state vs mambaref", got[2], got[2].Shape, st.SSM, 1e-5)
			}
		})
	}
}

package mambaref

import "fmt"

// State is the recurrent state of a batch, flattened row-major:
// Conv [NLayer][Batch][DInner][DConv] holds the last DConv pre-convolution
// inputs, oldest first; SSM [NLayer][Batch][DInner][DState].
type State struct {
	NLayer, Batch, DInner, DConv, DState int
	Conv, SSM                            []float64
}

// NewState returns the zero state of a batch (the state before the first
// token).
func NewState(cfg Config, batch int) *State {
	return &State{
		NLayer: cfg.NLayer, Batch: batch, DInner: cfg.DInner, DConv: cfg.DConv, DState: cfg.DState,
		Conv: make([]float64, cfg.NLayer*batch*cfg.DInner*cfg.DConv),
		SSM:  make([]float64, cfg.NLayer*batch*cfg.DInner*cfg.DState),
	}
}

// ConvShape is [NLayer, Batch, DInner, DConv].
func (s *State) ConvShape() []int { return []int{s.NLayer, s.Batch, s.DInner, s.DConv} }

// SSMShape is [NLayer, Batch, DInner, DState].
func (s *State) SSMShape() []int { return []int{s.NLayer, s.Batch, s.DInner, s.DState} }

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Conv = append([]float64(nil), s.Conv...)
	c.SSM = append([]float64(nil), s.SSM...)
	return &c
}

// conv returns layer l, row b's conv state [DInner][DConv].
func (s *State) conv(l, b int) []float64 {
	n := s.DInner * s.DConv
	off := (l*s.Batch + b) * n
	return s.Conv[off : off+n]
}

// ssm returns layer l, row b's ssm state [DInner][DState].
func (s *State) ssm(l, b int) []float64 {
	n := s.DInner * s.DState
	off := (l*s.Batch + b) * n
	return s.SSM[off : off+n]
}

// checkIDs checks that ids is a non-empty rectangle of tokens in [0, vocab).
func checkIDs(ids [][]int, vocab int) error {
	if len(ids) == 0 || len(ids[0]) == 0 {
		return fmt.Errorf("mambaref: empty input_ids")
	}
	for b, row := range ids {
		if len(row) != len(ids[0]) {
			return fmt.Errorf("mambaref: input_ids row %d has %d tokens, row 0 has %d", b, len(row), len(ids[0]))
		}
		for t, id := range row {
			if id < 0 || id >= vocab {
				return fmt.Errorf("mambaref: input_ids[%d][%d] = %d, want 0..%d", b, t, id, vocab-1)
			}
		}
	}
	return nil
}

// Forward runs the model over whole sequences ids [B][L] from the zero
// state and returns the logits [B][L][Vocab] and the final state.
//
// Per layer and batch row it computes x, z for every token, the causal
// depthwise convolution over the sequence left-padded with DConv-1 zeros,
// then the selective scan over time (see the package doc).
func Forward(cfg Config, w Weights, ids [][]int) ([][][]float64, *State, error) {
	if err := cfg.check(w); err != nil {
		return nil, nil, err
	}
	if err := checkIDs(ids, cfg.Vocab); err != nil {
		return nil, nil, err
	}
	bsz, seq := len(ids), len(ids[0])
	dm, di, n, k, r := cfg.DModel, cfg.DInner, cfg.DState, cfg.DConv, cfg.DtRank
	emb := w[EmbeddingName]
	layers := cfg.layers(w)
	st := NewState(cfg, bsz)
	logits := make([][][]float64, bsz)
	for b := range ids {
		h := make([][]float64, seq)
		for t, id := range ids[b] {
			h[t] = append([]float64(nil), emb[id*dm:(id+1)*dm]...)
		}
		for li, l := range layers {
			x := make([][]float64, seq)
			z := make([][]float64, seq)
			for t := range h {
				xz := matVec(l.inProj, rmsNorm(h[t], l.norm, cfg.Eps), 2*di)
				x[t], z[t] = xz[:di], xz[di:]
			}
			// Causal depthwise convolution: tap j of channel c sees x at
			// time t-(k-1)+j; times before 0 are zero padding.
			xc := make([][]float64, seq)
			for t := range x {
				xc[t] = make([]float64, di)
				for c := 0; c < di; c++ {
					acc := l.convB[c]
					for j := 0; j < k; j++ {
						if tt := t - (k - 1) + j; tt >= 0 {
							acc += float64(l.convW[c*k+j] * x[tt][c])
						}
					}
					xc[t][c] = silu(acc)
				}
			}
			// Selective scan over time.
			s := make([]float64, di*n)
			for t := 0; t < seq; t++ {
				dbc := matVec(l.xProj, xc[t], r+2*n)
				dt, bm, cm := dbc[:r], dbc[r:r+n], dbc[r+n:]
				y := make([]float64, di)
				for c := 0; c < di; c++ {
					delta := softplus(dot(l.dtW[c*r:(c+1)*r], dt) + l.dtB[c])
					dx := float64(delta * xc[t][c])
					row := s[c*n : (c+1)*n]
					for j := range row {
						row[j] = float64(expm(delta, l.A[c*n+j])*row[j]) + float64(dx*bm[j])
					}
					y[c] = float64((dot(row, cm) + float64(l.D[c]*xc[t][c])) * silu(z[t][c]))
				}
				out := matVec(l.outProj, y, dm)
				for i := range h[t] {
					h[t][i] += out[i]
				}
			}
			copy(st.ssm(li, b), s)
			cs := st.conv(li, b)
			for c := 0; c < di; c++ {
				for j := 0; j < k; j++ {
					if tt := seq - k + j; tt >= 0 {
						cs[c*k+j] = x[tt][c]
					}
				}
			}
		}
		logits[b] = make([][]float64, seq)
		for t := range h {
			logits[b][t] = matVec(cfg.head(w), rmsNorm(h[t], w[NormFName], cfg.Eps), cfg.Vocab)
		}
	}
	return logits, st, nil
}

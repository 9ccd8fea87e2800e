package mambaref

import "fmt"

// Step consumes one token per batch row (ids [Batch]) and returns the
// logits [Batch][Vocab], updating st in place. It is the decoding form of
// Forward: the conv state shifts left by one column and takes x as its
// newest column, the convolution is Σ_j conv1d.weight[c,0,j]·state[c][j],
// and s = exp(Δ·A)∘s + (Δ·xc)⊗Bm.
func Step(cfg Config, w Weights, st *State, ids []int) ([][]float64, error) {
	if err := cfg.check(w); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("mambaref: nil state")
	}
	if st.NLayer != cfg.NLayer || st.DInner != cfg.DInner || st.DConv != cfg.DConv || st.DState != cfg.DState ||
		len(st.Conv) != st.NLayer*st.Batch*st.DInner*st.DConv || len(st.SSM) != st.NLayer*st.Batch*st.DInner*st.DState {
		return nil, fmt.Errorf("mambaref: state %v/%v does not fit the config", st.ConvShape(), st.SSMShape())
	}
	if len(ids) != st.Batch {
		return nil, fmt.Errorf("mambaref: %d token ids for a state of batch %d", len(ids), st.Batch)
	}
	if err := checkIDs([][]int{ids}, cfg.Vocab); err != nil {
		return nil, err
	}
	dm, di, n, k, r := cfg.DModel, cfg.DInner, cfg.DState, cfg.DConv, cfg.DtRank
	emb := w[EmbeddingName]
	layers := cfg.layers(w)
	logits := make([][]float64, len(ids))
	for b, id := range ids {
		h := append([]float64(nil), emb[id*dm:(id+1)*dm]...)
		for li, l := range layers {
			xz := matVec(l.inProj, rmsNorm(h, l.norm, cfg.Eps), 2*di)
			x, z := xz[:di], xz[di:]
			cs := st.conv(li, b)
			xc := make([]float64, di)
			for c := 0; c < di; c++ {
				win := cs[c*k : (c+1)*k]
				copy(win, win[1:])
				win[k-1] = x[c]
				xc[c] = silu(l.convB[c] + dot(l.convW[c*k:(c+1)*k], win))
			}
			dbc := matVec(l.xProj, xc, r+2*n)
			dt, bm, cm := dbc[:r], dbc[r:r+n], dbc[r+n:]
			s := st.ssm(li, b)
			y := make([]float64, di)
			for c := 0; c < di; c++ {
				delta := softplus(dot(l.dtW[c*r:(c+1)*r], dt) + l.dtB[c])
				row := s[c*n : (c+1)*n]
				for j := range row {
					row[j] = float64(expm(delta, l.A[c*n+j])*row[j]) + float64(float64(delta*xc[c])*bm[j])
				}
				y[c] = float64((dot(row, cm) + float64(l.D[c]*xc[c])) * silu(z[c]))
			}
			out := matVec(l.outProj, y, dm)
			for i := range h {
				h[i] += out[i]
			}
		}
		logits[b] = matVec(cfg.head(w), rmsNorm(h, w[NormFName], cfg.Eps), cfg.Vocab)
	}
	return logits, nil
}

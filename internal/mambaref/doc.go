// Package mambaref is an independent, deliberately plain float64 Mamba-1
// forward pass: nested loops over a map of named weights, with no use of
// package ir or of any runtime. It is ssmc's second oracle, next to the
// stored reference outputs in /work/shared/reference, and the generator of
// the expected outputs of the test fixtures (package internal/fixture).
//
// The weights use the Hugging Face MambaForCausalLM names (see [Names]) and
// layouts; every activation and both states are float64. Per layer, with h
// the residual stream of one sequence (B batch rows, L tokens):
//
//	hn     = RMSNorm(h) = h / sqrt(mean(h²) + eps) · norm.weight
//	x, z   = split(hn · in_projᵀ)                        each [L, DInner], no bias
//	xc_t   = SiLU(conv1d.bias + Σ_k conv1d.weight[c,0,k] · x_{t-(K-1)+k})   x_{<0} = 0
//	dt, Bm, Cm = split(xc · x_projᵀ, [DtRank, DState, DState])
//	Δ      = softplus(dt · dt_projᵀ + dt_proj.bias)       [L, DInner]
//	A      = -exp(A_log)                                 [DInner, DState]
//	s_t    = exp(Δ_t·A) ∘ s_{t-1} + (Δ_t·xc_t) ⊗ Bm_t    s_{-1} = 0
//	y_t    = s_t · Cm_t + D ∘ xc_t
//	h      = h + (y ∘ SiLU(z)) · out_projᵀ
//
// and finally logits = RMSNorm_f(h) · headᵀ, where head is the embedding
// (Config.TiedHead) or lm_head.weight.
//
// The final states use the layouts of mamba_ssm and HF MambaCache:
// conv state [NLayer, B, DInner, DConv] holds the last DConv
// pre-convolution inputs x (zeros before the first token), oldest first;
// ssm state [NLayer, B, DInner, DState] is s after the last token.
//
// [Forward] evaluates whole sequences (the convolution over the
// zero-padded sequence, then the recurrence over time); [Step] consumes one
// token per batch row from a [State], the way a decoder does. The two share
// only the small helpers (dot products, RMSNorm, SiLU, softplus), so they
// check each other.
//
// Products are rounded explicitly (float64(a*b)) so that the compiler
// cannot fuse them into FMA instructions: the results are then the same on
// every architecture up to the math library's exp and log, which keeps the
// generated fixtures reproducible.
package mambaref

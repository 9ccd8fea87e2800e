package peft

import "github.com/ssmc-dev/ssmc/ir"

// Adapter is one LoRA adapter resolved against a base model: the base
// weight it modifies and its low-rank factors in PEFT's layout.
//
// For a linear weight W [out, in] (PyTorch layout), the adapted layer is
//
//	y = x·Wᵀ + Scale · (x·Aᵀ)·Bᵀ      A [r, in], B [out, r]
//
// For an embedding E [vocab, dim] (Embedding true; PEFT's lora_embedding_A
// and lora_embedding_B), the adapted lookup of token t is
//
//	e(t) = E[t] + Scale · (Aᵀ[t] · Bᵀ)  A [r, vocab], B [dim, r]
type Adapter struct {
	// Target is the base model's normalized weight name, e.g.
	// "backbone.layers.0.mixer.in_proj.weight".
	Target string
	// A and B are the low-rank factors (any float dtype).
	A, B *ir.Tensor
	// Rank is r; Scale is lora_alpha/r (lora_alpha/sqrt(r) with rsLoRA),
	// after rank_pattern and alpha_pattern.
	Rank  int
	Scale float64
	// Embedding marks an adapter on an embedding table.
	Embedding bool
	// Source names the adapter directory it came from, for messages.
	Source string
}

// Package hf imports Mamba-1 checkpoints in the Hugging Face and the
// original state-spaces layouts into an [ir.Module] with its weights bound.
//
// # Supported checkpoints
//
// A checkpoint directory holds config.json and model.safetensors (or a
// sharded model.safetensors.index.json). [LoadConfig] reads
//
//   - Hugging Face configs with model_type "mamba" (MambaConfig) or
//     "falcon_mamba" (FalconMambaConfig: Δ, B and C are RMS-normalized over
//     their last dim, without weight, with mixer_rms_eps, right after
//     x_proj);
//   - original state-spaces/mamba_ssm configs (d_model, n_layer, ssm_cfg,
//     …; recognized by d_model without model_type), whose vocab_size is
//     padded up to a multiple of pad_vocab_size_multiple (default 8).
//
// Mamba-2, hybrid attention layers, MLP blocks and LayerNorm blocks are
// rejected with a one-line error naming config.json and the field, as are
// missing required fields, wrongly typed values and sizes outside
// [1, MaxSize] or implying weights above MaxElements. [Config.Version]
// leaves room for Mamba-2.
//
// Tensor names are normalized ([NormalizeName]) to the HF MambaForCausalLM
// names: backbone.embedding(s).weight, model.* for backbone.*, bare
// layers.N.* (MambaModel) and lm_head.weight. The normalized set must match
// the config exactly; every missing, unexpected or wrongly shaped tensor is
// listed in one [*WeightsError] with the expected and actual shapes. With
// tied embeddings lm_head.weight may be stored as well (ignored) or instead
// of the embedding (used as it).
//
// Vocabulary padding: the embedding has [Config.VocabSize] rows, the
// padded size (state-spaces) or vocab_size (HF, already padded), and the
// logits have that many columns. Columns at and beyond
// [Config.ConfigVocabSize] belong to padding rows and should be masked by
// the sampler.
//
// # Weights
//
// Projection weights (in_proj, x_proj, dt_proj, out_proj, lm_head) and the
// embedding keep their storage dtype (f32, f16 or bf16) and are bound zero
// copy: [Load]'s tensors alias the safetensors mapping, valid until
// [Model.Close]. Norm weights, conv1d weight and bias, D, dt_proj.bias and
// the optional in_proj/out_proj biases are converted to new f32 tensors
// when stored narrower. A_log is replaced by the f32 weight
// "backbone.layers.N.mixer.A" = −exp(A_log), computed in float64. All
// activations and both states are f32.
//
// # The IR
//
// The module has two functions over the same weights (V the padded vocab,
// D = d_inner, N = d_state, K = d_conv, B the batch symbol):
//
//	@prefill(input_ids: i64[B,L]) -> (logits: f32[B,L,V],
//	    conv_state: f32[n_layer,B,D,K-1], ssm_state: f32[n_layer,B,D,N])
//	@step(input_ids: i64[B,1], conv_state: f32[n_layer,B,D,K-1],
//	    ssm_state: f32[n_layer,B,D,N]) -> (logits: f32[B,V], conv_state, ssm_state)
//
// conv_state holds the last K-1 pre-convolution inputs (the x half of
// in_proj), oldest first — the last K-1 of the d_conv columns that HF's
// MambaCache keeps; prefill pads with zeros before the first token. The
// prefill of a one-layer model with bf16 projections:
//
//	func @prefill(%input_ids: i64[B,L]) -> (logits: f32[B,L,16], conv_state: f32[1,B,8,3], ssm_state: f32[1,B,8,2]) {
//	  %1 = Param() {name = "backbone.embeddings.weight"} : bf16[16,4]
//	  %2 = Gather(%1, %input_ids) {axis = 0} : bf16[B,L,4]
//	  %3 = Cast(%2) {to = f32} : f32[B,L,4]
//	  %4 = Param() {name = "backbone.layers.0.norm.weight"} : f32[4]
//	  %5 = RMSNorm(%3, %4) {eps = 1e-05} : f32[B,L,4]
//	  %6 = Param() {name = "backbone.layers.0.mixer.in_proj.weight"} : bf16[16,4]
//	  %7 = MatMul(%5, %6) {transpose_b = true} : f32[B,L,16]
//	  %8 = Split(%7) {axis = -1, sizes = [8, 8]} : (f32[B,L,8], f32[B,L,8])
//	  %9 = Extract(%8) {index = 0} : f32[B,L,8]
//	  %10 = Extract(%8) {index = 1} : f32[B,L,8]
//	  %11 = Param() {name = "backbone.layers.0.mixer.conv1d.weight"} : f32[8,1,4]
//	  %12 = Param() {name = "backbone.layers.0.mixer.conv1d.bias"} : f32[8]
//	  %13 = CausalConv1d(%9, %11, %12) {activation = "silu"} : (f32[B,L,8], f32[B,8,3])
//	  %14 = Extract(%13) {index = 0} : f32[B,L,8]
//	  %15 = Extract(%13) {index = 1} : f32[B,8,3]
//	  %16 = Param() {name = "backbone.layers.0.mixer.x_proj.weight"} : bf16[5,8]
//	  %17 = MatMul(%14, %16) {transpose_b = true} : f32[B,L,5]
//	  %18 = Split(%17) {axis = -1, sizes = [1, 2, 2]} : (f32[B,L,1], f32[B,L,2], f32[B,L,2])
//	  %19 = Extract(%18) {index = 0} : f32[B,L,1]
//	  %20 = Extract(%18) {index = 1} : f32[B,L,2]
//	  %21 = Extract(%18) {index = 2} : f32[B,L,2]
//	  %22 = Param() {name = "backbone.layers.0.mixer.dt_proj.weight"} : bf16[8,1]
//	  %23 = MatMul(%19, %22) {transpose_b = true} : f32[B,L,8]
//	  %24 = Param() {name = "backbone.layers.0.mixer.A"} : f32[8,2]
//	  %25 = Param() {name = "backbone.layers.0.mixer.D"} : f32[8]
//	  %26 = Param() {name = "backbone.layers.0.mixer.dt_proj.bias"} : f32[8]
//	  %27 = SelectiveScan(%14, %23, %24, %20, %21, %25, %10, %26) {delta_softplus = true} : (f32[B,L,8], f32[B,8,2])
//	  %28 = Extract(%27) {index = 0} : f32[B,L,8]
//	  %29 = Extract(%27) {index = 1} : f32[B,8,2]
//	  %30 = Param() {name = "backbone.layers.0.mixer.out_proj.weight"} : bf16[4,8]
//	  %31 = MatMul(%28, %30) {transpose_b = true} : f32[B,L,4]
//	  %32 = Add(%3, %31) : f32[B,L,4]
//	  %33 = Param() {name = "backbone.norm_f.weight"} : f32[4]
//	  %34 = RMSNorm(%32, %33) {eps = 1e-05} : f32[B,L,4]
//	  %35 = MatMul(%34, %1) {transpose_b = true} : f32[B,L,16]
//	  %36 = Reshape(%15) {shape = [1,B,8,3]} : f32[1,B,8,3]
//	  %37 = Concat(%36) {axis = 0} : f32[1,B,8,3]
//	  %38 = Reshape(%29) {shape = [1,B,8,2]} : f32[1,B,8,2]
//	  %39 = Concat(%38) {axis = 0} : f32[1,B,8,2]
//	  return %35, %37, %39
//	}
//
// @step is the same block on [B, …] rows: layer i's states come from
// Reshape(Slice(state, axis 0, i:i+1)), the conv input is Reshape'd to
// [B,1,D] for CausalConv1d (with the state operand), and the recurrence is
// SelectiveStateUpdate with the state h. Falcon-Mamba adds
// RMSNorm(·, ones) on Δ, B and C after the Split. Untied models end with
// MatMul(·, lm_head.weight).
//
// # Decomposed form
//
// With [Options.Decomposed] both functions use plain ops only — the input
// the fusion passes must recognize:
//
//	RMSNorm      x · Rsqrt(ReduceMean(x·x, axes=[-1]) + eps) · w
//	conv         xs = Concat(state, Transpose(x, [0,2,1]), axis 2)
//	             y  = SiLU(Transpose(Conv1d(xs, w), [0,2,1]) + bias)
//	             state' = Slice(xs, axis 2, -(K-1):)   (prefill: state = Expand(0, [B,D,K-1]))
//	SiLU         x · Sigmoid(x)
//	Δ            Softplus(MatMul(dt, W_dt) + dt_bias)
//	recurrence   dA = Exp(Reshape(Δ, [B,D,1]) · A)
//	             h' = dA·h + Reshape(Δ·x, [B,D,1]) · Reshape(B, [B,1,N])
//	             y  = (ReduceSum(h'·Reshape(C, [B,1,N]), axes=[-1], keepdims=false) + D·x) · SiLU(z)
//	LoRA         MatMul(x, W) + MatMul(MatMul(x, A), B) · s   (all transpose_b)
//
// The prefill unrolls the recurrence over Options.SeqLen steps (symbolic L
// would need a loop): step t slices time t of x, Δ, B, C and z
// (Slice + Reshape to [B,D] / [B,N]), runs the recurrence above from
// h = Expand(0, [B,D,N]), and the y_t are joined with Reshape [B,1,D] +
// Concat(axis 1).
//
// # Adapters
//
// [Options.Adapters] applies LoRA adapters (package peft). The first
// adapter on a linear weight makes its MatMul a LoRAMatMul{scale,
// transpose_b}; further adapters on the same weight are added as
// MatMul(MatMul(x, A), B)·s. An embedding adapter adds
// MatMul(Gather(Aᵀ, ids), B)·s to the lookup, with Aᵀ [vocab, r] stored as
// the new f32 weight "<target>.lora.<k>.A_T"; a tied LM head keeps the base
// embedding, as in PEFT. Adapter factors are bound as
// "<target>.lora.<k>.A" / ".B". Targets that are not weights of the model,
// or not linear or embedding weights, are errors.
package hf

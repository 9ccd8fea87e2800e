// Package peft reads Hugging Face PEFT LoRA adapters (a directory with
// adapter_config.json and adapter_model.safetensors) and resolves them
// against a base Mamba model's normalized weight names, producing one
// [Adapter] per adapted weight and the full replacement weights of
// modules_to_save. Applying them is the importer's business (package hf).
//
// # Configuration
//
// [ParseConfig] reads r and lora_alpha (PEFT's defaults 8 and 8),
// use_rslora, rank_pattern, alpha_pattern, target_modules, exclude_modules,
// layers_to_transform, layers_pattern and modules_to_save, and rejects what
// would change the model in ways ssmc does not apply: peft_type other than
// "LORA", bias other than "none", fan_in_fan_out, use_dora, lora_bias,
// layer_replication, target_parameters and trainable_token_indices.
//
// The scale of a module with rank r and alpha α (after rank_pattern and
// alpha_pattern) is
//
//	scale = α / r            (α / √r with use_rslora)
//
// and the adapted layer computes y = x·Wᵀ + scale·(x·Aᵀ)·Bᵀ.
//
// # Module selection
//
// PEFT's rules, applied to the base modules (names of the base weights
// without ".weight", e.g. backbone.layers.0.mixer.in_proj):
//
//   - target_modules as a string is a regular expression that must match
//     the whole module name; "all-linear" means every linear module except
//     lm_head; a list entry selects the module of that full name or every
//     module whose name ends with "." + entry;
//   - layers_to_transform (an int or a list) keeps, of the modules a list
//     entry selects through a suffix, those whose layer index — the number
//     after "<layers_pattern>." (after any component when layers_pattern is
//     empty) and before the next dot — is listed;
//   - exclude_modules removes modules (regex or list, as target_modules);
//   - a rank_pattern or alpha_pattern key applies to a module whose name
//     equals it or ends with "." + key, or that the key as a regular
//     expression matches in full or in a dot-separated tail; the first
//     matching key in file order wins ([MatchPattern]);
//   - modules_to_save entries match module names exactly or by a
//     "." + entry suffix.
//
// Regular expressions are Go's (RE2) syntax, which covers what adapter
// configs use; a pattern Go cannot compile is an error.
//
// # Validation
//
// Every problem of one directory is reported together in an [*Error] that
// names the directory and, per problem, the file and the key or field.
// Names that match nothing — target_modules entries that select no base
// module, keys whose module is not in the base model or not targeted,
// targeted modules without factors, modules_to_save entries without a
// tensor — are errors unless [Options.AllowUnmatched] makes them
// warnings. Wrong shapes (against the base weight and r), a factor without
// its partner, lora_A on an embedding or lora_embedding_A on a linear
// layer, unsupported dtypes, non-finite values and targets that are not
// linear or embedding layers are always errors. Several adapters may target
// the same weight: stacking them is the caller's business.
package peft

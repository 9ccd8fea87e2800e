// Package tokenizer reads Hugging Face tokenizer.json files with a
// byte-level BPE model, as shipped with GPT-NeoX and Mamba checkpoints
// (the EleutherAI/gpt-neox-20b tokenizer), and encodes and decodes text
// exactly as the Hugging Face tokenizers library does.
//
// # Usage
//
//	tk, err := tokenizer.Load("tokenizer.json")
//	ids := tk.Encode("Hello, world!")      // []int
//	text, err := tk.Decode(ids)            // "Hello, world!"
//	eos, ok := tk.EOS()
//
// A Tokenizer is immutable after loading and safe for concurrent use.
//
// # Pipeline
//
// Encode follows Hugging Face's TokenizerImpl::encode:
//
//  1. Added tokens (added_tokens) are found in the raw text with the
//     leftmost-longest rule, honouring single_word, lstrip and rstrip.
//     Tokens with normalized: true are matched after normalization.
//  2. The rest is normalized: null or NFC (UAX #15, with tables restricted
//     to Unicode 9.0 characters like the crate Hugging Face uses).
//  3. The pre-tokenizer cuts it into pieces: ByteLevel (optional prefix
//     space, the GPT-2 pattern GPT2Pattern, mapping of every byte to a
//     printable character), Split (String or Regex pattern with the five
//     delimiter behaviors and invert) and Sequence of those.
//  4. The BPE model merges each piece by merge rank (with a cache),
//     supporting unk_token, fuse_unk, byte_fallback,
//     continuing_subword_prefix, end_of_word_suffix and ignore_merges.
//  5. The post-processor adds special tokens (TemplateProcessing,
//     RobertaProcessing, BertProcessing; ByteLevel adds none).
//
// Decode maps ids to tokens; with the ByteLevel decoder the characters are
// turned back into bytes, and invalid UTF-8 is replaced by U+FFFD per
// maximal invalid subsequence as Rust's String::from_utf8_lossy does.
//
// The GPT-2 pattern needs a negative lookahead that Go's regexp lacks; it
// is implemented by a hand-written scanner. Other Split patterns are
// translated to Go syntax (\s is made the Unicode White_Space set, as in
// Oniguruma) and an alternative \s+(?!\S) is handled natively; patterns
// with other lookaround, backreferences or anchors are rejected.
//
// Unsupported components (models other than BPE, normalizers other than
// NFC, other pre-tokenizers, post-processors or decoders, BPE dropout) are
// rejected by Parse with an error naming the field. truncation and padding
// are batching policies and are ignored; offsets are not computed, so
// trim_offsets has no effect.
//
// # Differences from Hugging Face
//
//   - Unknown ids make Decode fail (Hugging Face drops them).
//   - Added-token ids in the file must equal the ids Hugging Face assigns
//     (vocabulary id, or the next id after the vocabulary); Hugging Face
//     only warns.
//   - \p{L} and \p{N} use Go's Unicode tables (unicode.Version); the
//     Oniguruma build in Hugging Face may know characters added in later
//     Unicode versions.
//   - Invalid UTF-8 input (which Hugging Face cannot receive) is encoded
//     byte by byte.
//
// # Tests
//
// testdata/tiny-bpe.json is a 500-merge fixture trained by internal/gen on
// built-in multilingual text (regenerate with go test -run
// TestFixtureUpToDate -update). nfc_tables.go is generated from the Unicode
// Character Database (apt-get install unicode-data; go test -run
// TestNFCTablesUpToDate -update). The comparison with Hugging Face runs
// when node and the tokenizers npm package are present:
//
//	cd runtime/tokenizer/testdata/hfcheck && npm install
//	go test ./runtime/tokenizer -run HF -v
//
// or with SSMC_HF_TOKENIZERS_DIR set to a folder whose node_modules holds
// tokenizers.
package tokenizer

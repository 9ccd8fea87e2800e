// Package safetensors reads and writes the Hugging Face safetensors tensor
// format, treating every input file as hostile.
//
// # Format
//
// A safetensors file is
//
//	N       8 bytes, little-endian uint64: header length
//	header  N bytes of UTF-8 JSON, possibly padded with trailing spaces
//	data    the data section: raw little-endian tensor bytes
//
// The header is a JSON object. Each key is a tensor name mapping to
//
//	{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//
// where the offsets are relative to the start of the data section. The
// optional key "__metadata__" maps to an object of string values. A
// sharded checkpoint adds an index file, model.safetensors.index.json:
//
//	{"metadata": {...}, "weight_map": {"tensor.name": "model-00001-of-00002.safetensors", ...}}
//
// # Validation
//
// Open memory-maps the file read-only (reading it into memory where mmap is
// unavailable) and rejects, with a one-line error naming the file and the
// offending tensor or field:
//
//   - files shorter than 8 bytes, a header length above MaxHeaderSize or
//     beyond the end of the file;
//   - headers that are not valid UTF-8, not valid JSON, not a JSON object,
//     or followed by anything but whitespace;
//   - duplicate keys anywhere in the header (detected token by token);
//   - entries that are not objects, lack or repeat dtype/shape/data_offsets,
//     or carry unknown fields; unknown dtypes; empty tensor names;
//   - shapes with non-integer or negative dimensions, more than MaxRank
//     dimensions, or a byte size that overflows int64;
//   - data_offsets that are not two non-negative integers, with begin > end,
//     end past the data section, or end-begin different from the size
//     implied by shape and dtype;
//   - tensors whose byte ranges overlap (zero-size tensors are allowed);
//   - a "__metadata__" value that is not an object of strings.
//
// Nothing is allocated from a header field before it has been checked
// against the actual file size, and malformed input never panics. Gaps
// between tensors and trailing bytes in the data section are allowed.
//
// OpenIndex additionally requires shard names to be plain file names in the
// index's directory, every weight_map tensor to live in the shard it names,
// no tensor in two shards, and no shard tensor missing from weight_map.
//
// # Writing
//
// Write and Encode produce deterministic output: "__metadata__" first, then
// tensors sorted by name with their data packed in that order, and the
// header padded with spaces so the data section is 8-byte aligned. Write
// replaces the destination atomically via a temporary file and rename.
//
// The 16-bit float helpers F16ToF32, F32ToF16, BF16ToF32 and F32ToBF16 are
// exact or round to nearest even, and handle subnormals, infinities and NaN.
package safetensors

// Package artifact reads and writes .ssmc files: what `ssmc compile`
// produces and the runtime loads.
//
// A file is a small header, a section table and the sections:
//
//	offset 0   magic "SSMCART\x00"
//	       8   format version (uint32, little-endian; this package writes 1)
//	      12   number of sections (uint32)
//	      16   CRC-32C of the section table (uint32)
//	      20   reserved, zero
//	      24   section table: per section a 24-byte NUL-padded name,
//	           offset (uint64), length (uint64), CRC-32C (uint32), flags (uint32)
//	           then the sections' bytes, each starting at a multiple of 64
//
// Sections in use: "meta" (JSON: producer, source, model config, applied
// adapters), "ir" (the optimized IR in the text format), "weights.index"
// (JSON: name, dtype, shape, offset, length of each weight) and "weights"
// (the raw little-endian tensors, each 64-byte aligned so that the mapped
// file serves them in place). The runtime adds "plan", the CUDA code
// generator "kernels.cu", tokenizers "tokenizer"; readers ignore sections
// they do not know, so new sections do not need a new format version.
//
// Files are written atomically (a temporary file in the same folder, then
// a rename), so a failed compile never leaves a half-written artifact.
// Opening checks the header, the table (bounds, overlap, alignment) and the
// checksums of every section except "weights", whose checksum Verify checks
// on demand so that loading stays a matter of milliseconds plus page-ins.
package artifact

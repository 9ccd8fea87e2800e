// Reference runner for runtime/tokenizer tests: reads one JSON request on
// stdin and writes one JSON reply on stdout, computed with Hugging Face's
// tokenizers (Node binding).
//
// Request: {"jobs": [{"tokenizer": "/path/tokenizer.json",
//                      "texts": ["..."],          // encoded with add_special_tokens=true
//                      "pretokenize": ["..."],    // pre_tokenizer.pre_tokenize_str
//                      "normalize": ["..."],      // normalizer.normalize_str
//                      "decode": [[1, 2, 3]]}]}  // decoded with and without skipping specials
// Reply:   {"version": "...", "jobs": [{"ids": [[...]], "pieces": [[...]], "normalized": ["..."],
//           "decoded": ["..."], "decoded_skip": ["..."], "vocab_size": N}]}
"use strict";
const { Tokenizer } = require("tokenizers");

async function main() {
  // Concatenate the raw chunks before decoding: a UTF-8 character may be
  // split across two chunks.
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const reply = { version: require("tokenizers/package.json").version, jobs: [] };
  for (const job of req.jobs) {
    const tok = Tokenizer.fromFile(job.tokenizer);
    const out = { ids: [], pieces: [], normalized: [], decoded: [], decoded_skip: [], vocab_size: tok.getVocabSize(true) };
    for (const text of job.texts || []) {
      const enc = await tok.encode(text, null, { addSpecialTokens: true });
      out.ids.push(Array.from(enc.getIds()));
    }
    const pre = tok.getPreTokenizer();
    for (const text of job.pretokenize || []) {
      out.pieces.push(pre ? pre.preTokenizeString(text).map((p) => p[0]) : [text]);
    }
    const norm = tok.getNormalizer();
    for (const text of job.normalize || []) {
      out.normalized.push(norm ? norm.normalizeString(text) : text);
    }
    for (const ids of job.decode || []) {
      out.decoded.push(await tok.decode(ids, false));
      out.decoded_skip.push(await tok.decode(ids, true));
    }
    reply.jobs.push(out);
  }
  process.stdout.write(JSON.stringify(reply));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});

// ort-bench.js: prefill throughput of ONNX Runtime (onnxruntime-node, CPU)
// on a Mamba ONNX export, for comparison with `ssmc bench` in the same
// run (scripts/peers.sh). Usage:
//
//   NODE_PATH=$ORT_DIR/node_modules node tools/peers/ort-bench.js MODEL.onnx [runs] [lengths]
//
// For each prompt length (default 128,512) it runs one warm-up and `runs`
// (default 5) timed forward passes at batch 1, every position's logits,
// and prints the median tokens/s as "prefill L  X tok/s" lines, and as
// JSON on the last line. 2 intra-op threads, sequential execution, all
// graph optimizations: what anchors.md measured.
const ort = require('onnxruntime-node');

async function main() {
  const [model, runsArg, lensArg] = process.argv.slice(2);
  if (!model) {
    console.error('usage: ort-bench.js MODEL.onnx [runs] [lengths]');
    process.exit(2);
  }
  const runs = parseInt(runsArg || '5', 10);
  const lens = (lensArg || '128,512').split(',').map(Number);
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const result = { load_ms: loadMs, prefill_tok_s: {} };
  for (const L of lens) {
    const ids = new BigInt64Array(L);
    for (let i = 0; i < L; i++) ids[i] = BigInt((i * 7919) % 50000);
    const feeds = { input_ids: new ort.Tensor('int64', ids, [1, L]) };
    await session.run(feeds); // warm-up
    const rates = [];
    for (let r = 0; r < runs; r++) {
      const s = process.hrtime.bigint();
      await session.run(feeds);
      const sec = Number(process.hrtime.bigint() - s) / 1e9;
      rates.push(L / sec);
    }
    rates.sort((a, b) => a - b);
    const med = rates[Math.floor(rates.length / 2)];
    result.prefill_tok_s[L] = med;
    console.log(`prefill ${L}  ${med.toFixed(1)} tok/s`);
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

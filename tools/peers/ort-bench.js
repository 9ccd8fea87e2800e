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
//
//   node tools/peers/ort-bench.js DECODE.onnx decode runs batches layers d_inner d_conv d_state
//
// times `steps` (32) greedy-free decoding steps of a decode graph (one
// token, states in and out, fed back) per run at each batch size and
// prints "decode batch B  X tok/s" (tokens of all sequences per second).
const ort = require('onnxruntime-node');

async function main() {
  const [model, runsArg, lensArg] = process.argv.slice(2);
  if (!model) {
    console.error('usage: ort-bench.js MODEL.onnx [runs] [lengths]');
    process.exit(2);
  }
  if (runsArg === 'decode') {
    return decode(model, process.argv.slice(4));
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

async function decode(model, [runsArg, batchesArg, ...dims]) {
  const runs = parseInt(runsArg, 10);
  const [layers, dInner, dConv, dState] = dims.map(Number);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const steps = 32;
  const result = { decode_tok_s: {} };
  for (const b of String(batchesArg).split(',').map(Number)) {
    const zeros = (shape) => new ort.Tensor('float32', new Float32Array(shape.reduce((x, y) => x * y, 1)), shape);
    const ids = new BigInt64Array(b);
    const rates = [];
    for (let r = 0; r <= runs; r++) { // run 0 warms up
      let conv = zeros([layers, b, dInner, dConv - 1]);
      let ssm = zeros([layers, b, dInner, dState]);
      const s = process.hrtime.bigint();
      for (let t = 0; t < steps; t++) {
        for (let i = 0; i < b; i++) ids[i] = BigInt((t * 31 + i * 7) % 50000);
        const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [b, 1]), conv_state: conv, ssm_state: ssm });
        conv = out.conv_state_out;
        ssm = out.ssm_state_out;
      }
      const sec = Number(process.hrtime.bigint() - s) / 1e9;
      if (r > 0) rates.push((steps * b) / sec);
    }
    rates.sort((x, y) => x - y);
    const med = rates[Math.floor(rates.length / 2)];
    result.decode_tok_s[b] = med;
    console.log(`decode batch ${b}  ${med.toFixed(1)} tok/s`);
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

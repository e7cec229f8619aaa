'use strict';
// Runs a QDQ model that q8 exported in ONNX Runtime (onnxruntime-node, CPU) and compares ORT's
// output with q8's own INT8 output on the same input (both written by tests/ort/make_case.c).
//
//   node check_qdq.js MODEL.onnx INPUT.bin Q8_OUTPUT.bin [--report-only]
//
// Tensor files: "Q8TENSOR", u32 rank, f32 step, i64 dims[rank], f32 data, all little-endian.
//
// "One quantization step" is the step stored with q8's output: the scale of the quantized tensor
// that the model's final DequantizeLinear turns into the output. For the static digits models
// that is the scale of the last Gemm's u8 output (logits_scale), so both runtimes' outputs are
// (q - zero_point) * scale and a difference of one step is one integer at the last requantization.
// ORT runs with graphOptimizationLevel 'all' (it fuses the QDQ patterns back into integer kernels)
// and 'disabled' (every DequantizeLinear, float operator and QuantizeLinear as written); each run
// passes when every element is within one step of q8's (relative slack 1e-5 for the f32 rounding
// of (q - zero_point) * scale). A step of 0 (an output that is not quantized, e.g. dynamic models)
// cannot be checked this way: the figures are printed and, without --report-only, the check fails.
// Prints max |ORT - q8|, the step, how many elements differ, and argmax agreement per row.
// Exit status: 0 pass, 1 mismatch or error, 2 bad usage.

const fs = require('fs');
const path = require('path');

function usage(msg) {
  process.stderr.write(`check_qdq: ${msg}\nusage: node check_qdq.js MODEL.onnx INPUT.bin Q8_OUTPUT.bin [--report-only]\n`);
  process.exit(2);
}

function readTensor(file) {
  const b = fs.readFileSync(file);
  if (b.length < 16 || b.toString('latin1', 0, 8) !== 'Q8TENSOR') throw new Error(`${file}: not a Q8TENSOR file`);
  const rank = b.readUInt32LE(8);
  const step = b.readFloatLE(12);
  if (rank > 8 || b.length < 16 + 8 * rank) throw new Error(`${file}: bad rank ${rank}`);
  const dims = [];
  let n = 1;
  for (let i = 0; i < rank; ++i) {
    const d = Number(b.readBigInt64LE(16 + 8 * i));
    if (d < 0) throw new Error(`${file}: negative dimension`);
    dims.push(d);
    n *= d;
  }
  const at = 16 + 8 * rank;
  if (b.length !== at + 4 * n) throw new Error(`${file}: ${b.length} bytes, expected ${at + 4 * n} for [${dims}]`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = b.readFloatLE(at + 4 * i);
  return { dims, step, data };
}

function argmax(a, from, len) {
  let best = 0;
  for (let c = 1; c < len; ++c) if (a[from + c] > a[from + best]) best = c;
  return best;
}

async function main() {
  const args = process.argv.slice(2);
  const reportOnly = args.includes('--report-only');
  const files = args.filter((a) => a !== '--report-only');
  if (files.length !== 3) usage('give the model, the input file and q8\'s output file');
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(`check_qdq: cannot load onnxruntime-node (${e.message}); install it with ` +
      '`npm ci --ignore-scripts --no-audit --no-fund` next to tests/ort/package-lock.json and set NODE_PATH\n');
    process.exit(1);
  }
  const [modelFile, inputFile, q8File] = files;
  const x = readTensor(inputFile);
  const want = readTensor(q8File);
  const step = want.step;
  const classes = want.dims[want.dims.length - 1] || 1;
  const rows = want.data.length / classes;
  const name = path.basename(modelFile);
  let ok = true;
  for (const level of ['all', 'disabled']) {
    const session = await ort.InferenceSession.create(modelFile, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
    const result = await session.run(feeds);
    const y = result[session.outputNames[0]];
    if (y.type !== 'float32' || y.dims.join(',') !== want.dims.join(','))
      throw new Error(`${name}: ORT's output is ${y.type} [${y.dims}], q8's f32 [${want.dims}]`);
    let maxAbs = 0, differ = 0, beyond = 0, agree = 0;
    for (let i = 0; i < want.data.length; ++i) {
      const d = Math.abs(y.data[i] - want.data[i]);
      if (!(d <= maxAbs)) maxAbs = d;  // NaN propagates
      if (d !== 0) ++differ;
      if (!(d <= step * (1 + 1e-5))) ++beyond;
    }
    for (let r = 0; r < rows; ++r) agree += argmax(y.data, r * classes, classes) === argmax(want.data, r * classes, classes);
    const steps = step > 0 ? (maxAbs / step).toFixed(3) : 'n/a';
    const pass = step > 0 && beyond === 0;
    console.log(`${name} ORT '${level}': max |ORT - q8| ${maxAbs.toPrecision(6)} = ${steps} steps (step ${step.toPrecision(6)}), ` +
      `${differ} of ${want.data.length} elements differ, ${beyond} by more than one step, ` +
      `argmax agrees on ${agree}/${rows} rows: ${pass ? 'ok' : reportOnly ? 'reported' : 'FAIL'}`);
    if (!pass) ok = false;
  }
  if (step === 0 && !reportOnly) console.log(`${name}: q8's output carries no quantization step, so there is nothing to check within one step`);
  process.exit(ok || reportOnly ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`check_qdq: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});

// Test driver of a crisp-eml wasm build (tests/runtime/test_wasm.py, benchmarks/wasm.py): imports the generated
// ES module under Node and runs it on windows or a stream read from float32 files; writes JSON/binary results.
//
//   node wasm_driver.mjs DIR/NAME.mjs info
//   node wasm_driver.mjs DIR/NAME.mjs classify IN.f32 OUT_CODES.bin OUT_SCORES.f32
//   node wasm_driver.mjs DIR/NAME.mjs stream IN.f32 CHUNKS(comma list of rows) OUT.json [LABEL=THRESHOLD ...]
//   node wasm_driver.mjs DIR/NAME.mjs errors
//   node wasm_driver.mjs DIR/NAME.mjs bench IN.f32 ITERATIONS
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modulePath, command, ...args] = process.argv.slice(2);
const mod = await import(pathToFileURL(path.resolve(modulePath)).href);

function floats(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

if (command === "info") {
  const fromUrl = await mod.load();  // default: the .wasm next to the module (a file: URL under Node)
  const fromBytes = await mod.load(fs.readFileSync(modulePath.replace(/\.mjs$/, ".wasm")));
  console.log(JSON.stringify({ info: fromUrl.info, labels: fromUrl.labels, thresholds: fromUrl.stream.thresholds,
    sameInfo: JSON.stringify(fromBytes.info) === JSON.stringify(fromUrl.info) }));
} else {
  const model = await mod.load(fs.readFileSync(modulePath.replace(/\.mjs$/, ".wasm")));
  const n = model.info.rawLength;
  if (command === "classify") {
    const x = floats(args[0]);
    const k = x.length / n;
    const labels = model.labels;
    const codes = new Int8Array(k * labels.length);
    const scores = new Float32Array(k * labels.length);
    const anomaly = [];
    for (let i = 0; i < k; i += 1) {
      const w = x.subarray(i * n, (i + 1) * n);
      const r = model.run(w);
      const c = model.classify(w);
      codes.set(r.codes, i * labels.length);
      labels.forEach((lb, j) => { scores[i * labels.length + j] = c[lb]; });
      anomaly.push(c.anomaly ?? null);
    }
    fs.writeFileSync(args[1], codes);
    fs.writeFileSync(args[2], new Uint8Array(scores.buffer));
    console.log(JSON.stringify({ windows: k, anomaly }));
  } else if (command === "stream") {
    const x = floats(args[0]);
    const chunks = args[1].split(",").map(Number);
    for (const spec of args.slice(3)) {
      const [label, value] = spec.split("=");
      model.stream.setThreshold(label, Number(value));
    }
    const axes = model.info.axes;
    const results = [];
    let row = 0;
    let c = 0;
    const total = x.length / axes;
    while (row < total) {
      const m = Math.min(chunks[c % chunks.length], total - row);
      for (const r of model.stream.push(x.subarray(row * axes, (row + m) * axes))) {
        results.push({ endRow: r.endRow, t: r.t, codes: Array.from(r.codes), detection: r.detectionIndex,
          label: r.detection, average: model.labels.map((lb) => r.average[lb]),
          scores: model.labels.map((lb) => r.classification[lb]) });
      }
      row += m;
      c += 1;
    }
    fs.writeFileSync(args[2], JSON.stringify({ results, thresholds: model.stream.thresholds }));
  } else if (command === "errors") {  // what the module refuses, as {case: message}
    const out = {};
    const attempt = (name, f) => {
      try {
        f();
        out[name] = null;
      } catch (err) {
        out[name] = `${err.name}: ${err.message}`;
      }
    };
    attempt("short", () => model.classify(new Float32Array(n - 1)));
    attempt("partialRow", () => model.stream.push(new Float32Array(model.info.axes + 1)));
    attempt("unknownLabel", () => model.stream.setThreshold("no-such-label", 0.5));
    attempt("negativeThreshold", () => model.stream.setThreshold(0, -1));
    attempt("ok", () => model.classify(new Float32Array(n)));
    console.log(JSON.stringify(out));
  } else if (command === "bench") {
    const x = floats(args[0]).subarray(0, n);
    const iterations = Number(args[1]);
    for (let i = 0; i < Math.min(50, iterations); i += 1) {
      model.classify(x);  // warm up (tier-up of the wasm code)
    }
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i += 1) {
      model.classify(x);
    }
    const cpu = process.cpuUsage(c0);
    const t1 = process.hrtime.bigint();
    console.log(JSON.stringify({ us_per_classify: (cpu.user + cpu.system) / iterations,  // CPU time (shared hosts)
      wall_us_per_classify: Number(t1 - t0) / 1000 / iterations, iterations }));
  } else {
    console.error(`unknown command ${command}`);
    process.exit(2);
  }
}

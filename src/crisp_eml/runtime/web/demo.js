// demo.js - the demo page of a crisp-eml WebAssembly build: live microphone or accelerometer input when the
// browser allows it, CSV or WAV upload otherwise; shows the scores and the post-processed detections.
// No dependencies; loaded as a module (no inline script, so the page works under a strict CSP).

const MAX_DETECTIONS = 50;
const $ = (id) => document.getElementById(id);

function text(parent, tag, value) {
  const el = document.createElement(tag);
  el.textContent = value;
  parent.appendChild(el);
  return el;
}

function status(message) {
  $("status").textContent = message;
}

/** Streaming linear-interpolation resampler (one channel). */
class Resampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate;
    this.t = 0;      // position of the next output sample, in input samples from the current block's start
    this.last = 0;   // the previous block's last sample (position -1)
  }

  push(x) {
    const out = [];
    const n = x.length;
    while (this.t <= n - 1) {
      const i = Math.floor(this.t);
      const frac = this.t - i;
      const a = i < 0 ? this.last : x[i];
      const b = x[i + 1] ?? a;
      out.push(a + (b - a) * frac);
      this.t += this.step;
    }
    if (n > 0) {
      this.t -= n;
      this.last = x[n - 1];
    }
    return Float32Array.from(out);
  }
}

class View {
  constructor(model) {
    this.model = model;
    this.rows = new Map();
    const body = $("scores").querySelector("tbody");
    const thresholds = model.stream.thresholds;
    const names = model.labels.length ? model.labels : [];
    for (const label of names) {
      const tr = document.createElement("tr");
      text(tr, "th", label);
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = 0;
      const cell = document.createElement("td");
      cell.appendChild(bar);
      tr.appendChild(cell);
      const value = text(tr, "td", "-");
      const average = text(tr, "td", "-");
      const thr = thresholds[label];
      text(tr, "td", thr > 1 ? "never" : thr.toFixed(2));
      body.appendChild(tr);
      this.rows.set(label, { bar, value, average, tr });
    }
    if (model.info.hasAnomaly) {
      const tr = document.createElement("tr");
      text(tr, "th", "anomaly");
      tr.appendChild(document.createElement("td"));
      this.anomaly = text(tr, "td", "-");
      body.appendChild(tr);
    }
  }

  show(classification, average, anomaly, time) {
    let best = null;
    for (const [label, row] of this.rows) {
      const v = classification[label];
      row.bar.value = v;
      row.value.textContent = v.toFixed(3);
      row.average.textContent = average ? average[label].toFixed(3) : "-";
      if (best === null || v > classification[best]) {
        best = label;
      }
    }
    for (const [label, row] of this.rows) {
      row.tr.classList.toggle("top", label === best);
    }
    if (this.anomaly && anomaly !== undefined) {
      this.anomaly.textContent = anomaly.toFixed(3);
    }
    $("time").textContent = time ?? "";
  }

  results(list) {
    for (const r of list) {
      if (r.detection !== null) {
        const when = r.t !== null ? `${r.t.toFixed(2)} s` : `row ${r.endRow}`;
        const li = document.createElement("li");
        li.textContent = `${r.detection} at ${when} (average ${r.average[r.detection].toFixed(2)})`;
        $("detections").prepend(li);
        while ($("detections").children.length > MAX_DETECTIONS) {
          $("detections").lastChild.remove();
        }
      }
    }
    const last = list[list.length - 1];
    if (last) {
      this.show(last.classification, last.average, last.anomaly,
        last.t !== null ? `at ${last.t.toFixed(2)} s` : `at row ${last.endRow}`);
    }
  }
}

// --- live sensors ---

function microphone(model, view) {
  let ctx = null;
  let media = null;
  return {
    label: "Start the microphone",
    available: Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
    async start() {
      media = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false,
        autoGainControl: false } });
      ctx = new AudioContext();
      const source = ctx.createMediaStreamSource(media);
      const node = ctx.createScriptProcessor(4096, 1, 1);
      const resampler = new Resampler(ctx.sampleRate, model.info.frequency);
      const axes = model.info.axes;
      node.onaudioprocess = (ev) => {
        const mono = resampler.push(ev.inputBuffer.getChannelData(0));
        const rows = new Float32Array(mono.length * axes);
        for (let i = 0; i < mono.length; i += 1) {
          rows.fill(mono[i], i * axes, (i + 1) * axes);
        }
        view.results(model.stream.push(rows));
      };
      source.connect(node);
      node.connect(ctx.destination);  // a ScriptProcessor only runs when connected; it outputs silence
      status(`listening at ${ctx.sampleRate} Hz, resampled to ${model.info.frequency} Hz`);
    },
    stop() {
      media?.getTracks().forEach((t) => t.stop());
      ctx?.close();
    },
  };
}

function accelerometer(model, view) {
  let handler = null;
  return {
    label: "Start the accelerometer",
    available: typeof DeviceMotionEvent !== "undefined",
    async start() {
      if (typeof DeviceMotionEvent.requestPermission === "function") {  // iOS asks on a user gesture
        if (await DeviceMotionEvent.requestPermission() !== "granted") {
          throw new Error("motion sensor permission denied");
        }
      }
      const axes = model.info.axes;
      const period = 1000 / model.info.frequency;
      let next = null;
      handler = (ev) => {
        const a = ev.accelerationIncludingGravity ?? {};
        const g = ev.rotationRate ?? {};
        const reading = [a.x, a.y, a.z, g.alpha, g.beta, g.gamma].map((v) => v ?? 0);
        next ??= ev.timeStamp;
        const rows = [];
        while (next <= ev.timeStamp) {  // sample and hold at the model's frequency
          for (let k = 0; k < axes; k += 1) {
            rows.push(reading[k] ?? 0);
          }
          next += period;
        }
        if (rows.length) {
          view.results(model.stream.push(Float32Array.from(rows)));
        }
      };
      window.addEventListener("devicemotion", handler);
      status(`reading the motion sensor at ${model.info.frequency} Hz`);
    },
    stop() {
      if (handler) {
        window.removeEventListener("devicemotion", handler);
      }
    },
  };
}

// --- files ---

function parseWav(buffer) {
  const v = new DataView(buffer);
  const tag = (o) => String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
  if (buffer.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") {
    throw new Error("not a WAV file");
  }
  let fmt = null;
  let o = 12;
  while (o + 8 <= buffer.byteLength) {
    const id = tag(o);
    const size = v.getUint32(o + 4, true);
    if (id === "fmt ") {
      fmt = { format: v.getUint16(o + 8, true), channels: v.getUint16(o + 10, true),
        rate: v.getUint32(o + 12, true), bits: v.getUint16(o + 22, true) };
      if (fmt.format === 0xfffe && size >= 26) {
        fmt.format = v.getUint16(o + 32, true);
      }
    } else if (id === "data") {
      if (!fmt) {
        throw new Error("WAV data before its format");
      }
      const bytes = fmt.bits / 8;
      const end = Math.min(buffer.byteLength, o + 8 + size);
      const frames = Math.floor((end - o - 8) / (bytes * fmt.channels));
      const channels = Array.from({ length: fmt.channels }, () => new Float32Array(frames));
      let p = o + 8;
      for (let i = 0; i < frames; i += 1) {
        for (let c = 0; c < fmt.channels; c += 1, p += bytes) {
          let x;
          if (fmt.format === 3) {
            x = bytes === 4 ? v.getFloat32(p, true) : v.getFloat64(p, true);
          } else if (bytes === 1) {
            x = (v.getUint8(p) - 128) / 128;
          } else if (bytes === 2) {
            x = v.getInt16(p, true) / 32768;
          } else if (bytes === 3) {
            x = ((v.getUint8(p) | (v.getUint8(p + 1) << 8) | (v.getInt8(p + 2) << 16))) / 8388608;
          } else {
            x = v.getInt32(p, true) / 2147483648;
          }
          channels[c][i] = x;
        }
      }
      return { rate: fmt.rate, channels };
    }
    o += 8 + size + (size % 2);
  }
  throw new Error("no audio data in the WAV file");
}

function wavRows(model, buffer) {
  const { rate, channels } = parseWav(buffer);
  const axes = model.info.axes;
  const freq = model.info.frequency || rate;
  const resampled = channels.map((ch) => (rate === freq ? ch : new Resampler(rate, freq).push(ch)));
  const n = resampled[0].length;
  const rows = new Float32Array(n * axes);
  for (let i = 0; i < n; i += 1) {
    for (let k = 0; k < axes; k += 1) {
      rows[i * axes + k] = resampled[Math.min(k, resampled.length - 1)][i];
    }
  }
  return rows;
}

function csvRows(model, source) {
  const axes = model.info.axes;
  const lines = [];
  let header = null;
  for (const line of source.split(/\r?\n/)) {
    const cells = line.split(/[,;\t ]+/).filter((c) => c !== "");
    const values = cells.map(Number);
    if (values.length && values.every(Number.isFinite)) {
      lines.push(values);
    } else if (cells.length && !lines.length) {
      header = cells;
    }
  }
  if (!lines.length) {
    throw new Error("no numeric rows in the CSV file");
  }
  if (model.info.rawLength > axes && lines.every((l) => l.length === model.info.rawLength)) {
    return { windows: lines.map((l) => Float32Array.from(l)) };  // one window (e.g. features) per line
  }
  const width = lines[0].length;
  if (width < axes) {
    throw new Error(`the CSV has ${width} column(s); the model needs ${axes}`);
  }
  // a leading timestamp column: named so in the header, or the one column more than the model's axes
  const named = header !== null && /^(timestamp|time|t|ms|time_ms)$/i.test(header[0]);
  const skip = width > axes && (named || width === axes + 1) ? 1 : 0;
  const rows = new Float32Array(lines.length * axes);
  lines.forEach((l, i) => rows.set(l.slice(skip, skip + axes), i * axes));
  return { rows };
}

async function classifyFile(model, view, file) {
  const isWav = /\.wav$/i.test(file.name) || file.type.startsWith("audio/");
  const parsed = isWav ? { rows: wavRows(model, await file.arrayBuffer()) } : csvRows(model, await file.text());
  if (parsed.windows) {
    parsed.windows.forEach((w, i) => {
      const r = model.run(w);
      view.show(r.classification, null, r.anomaly, `window ${i + 1} of ${parsed.windows.length}`);
    });
    status(`${parsed.windows.length} window(s) classified from ${file.name}`);
    return;
  }
  const { rows } = parsed;
  const n = rows.length / model.info.axes;
  model.stream.reset();
  $("detections").replaceChildren();
  if (n < model.info.windowRows) {
    if (!model.info.variableLength) {
      throw new Error(`${file.name} has ${n} rows; the model's window is ${model.info.windowRows}`);
    }
    const r = model.run(rows);
    view.show(r.classification, null, r.anomaly, `${n} rows`);
    status(`${file.name}: one short window classified`);
    return;
  }
  const results = model.stream.push(rows);
  view.results(results);
  const detections = results.filter((r) => r.detection !== null).length;
  status(`${file.name}: ${n} rows, ${results.length} window(s), ${detections} detection(s)`);
}

// --- page ---

async function main() {
  const name = document.body.dataset.model;
  const { load } = await import(`./${encodeURIComponent(name)}.mjs`);
  const model = await load();
  const { info } = model;
  $("info").textContent = `${info.isClassifier ? `${model.labels.length} labels` : "anomaly score"}; window `
    + `${info.windowRows} rows × ${info.axes} axes${info.frequency ? ` at ${info.frequency} Hz` : " (features)"}; `
    + `a result every ${info.sliceRows} rows; sensor: ${info.sensor}`;
  const view = new View(model);
  const live = info.frequency > 0 && info.dspInC
    ? info.sensor === "microphone" ? microphone(model, view)
      : info.sensor === "accelerometer" ? accelerometer(model, view) : null
    : null;
  if (live && live.available) {
    const start = $("sensor-start");
    const stop = $("sensor-stop");
    start.textContent = live.label;
    start.hidden = false;
    stop.hidden = false;
    start.addEventListener("click", async () => {
      try {
        model.stream.reset();
        await live.start();
        start.disabled = true;
        stop.disabled = false;
      } catch (err) {
        status(`cannot start the sensor: ${err.message}; upload a file instead`);
      }
    });
    stop.addEventListener("click", () => {
      live.stop();
      start.disabled = false;
      stop.disabled = true;
      status("stopped");
    });
  } else {
    $("sensor-note").textContent = "No live sensor for this model in this browser: upload a file.";
  }
  $("file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (file) {
      try {
        await classifyFile(model, view, file);
      } catch (err) {
        status(`${file.name}: ${err.message}`);
      }
    }
  });
  status("ready");
}

main().catch((err) => {
  status(`cannot load the model: ${err.message}`);
});

// The Data acquisition page's sample viewer: one sample's facts, its values (a plot per axis for time series;
// a player and a spectrogram computed here for audio; the picture for images) and, for members who may label,
// its label and category (PATCH /samples/{id}).
import { api, card, clear, errorBox, field, fmtNum, fmtTime, h, plot } from "../lib.js";

const MAX_AXES_APART = 8;  // more axes than this share one plot

// In-place iterative radix-2 FFT of re/im (length a power of two).
function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci;
        const ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
}

// Magnitude spectrogram in dB: Hann windows of `size` samples, at most `maxFrames` frames over the signal.
export function spectrogram(signal, rate, { size = 512, maxFrames = 400 } = {}) {
  let n = 1;
  while (n * 2 <= Math.min(size, signal.length)) n *= 2;
  const hop = Math.max(n / 4, Math.ceil((signal.length - n) / maxFrames) || 1);
  const hann = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  const z = Array.from({ length: n / 2 + 1 }, () => []);
  const times = [];
  for (let start = 0; start + n <= signal.length; start += hop) {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let i = 0; i < n; i++) re[i] = (signal[start + i] || 0) * hann[i];
    fft(re, im);
    for (let k = 0; k <= n / 2; k++) z[k].push(10 * Math.log10(re[k] * re[k] + im[k] * im[k] + 1e-12));
    times.push(((start + n / 2) / rate) * 1000);
  }
  const freqs = Array.from({ length: n / 2 + 1 }, (_, k) => (k * rate) / n);
  return { z, times, freqs };
}

function axisNames(data) {
  const cols = data.shape.length > 1 ? data.shape[1] : 1;
  return Array.from({ length: cols }, (_, j) => (data.sensors[j] ? data.sensors[j].name : `axis ${j}`));
}

function column(values, j) {
  return values.map((row) => (Array.isArray(row) ? row[j] : row));
}

// Time series: one subplot per axis (sharing the time axis), or one plot when there are many axes.
function timeSeries(box, data) {
  const rate = data.frequency_hz || 1;
  const t = data.values.map((_, i) => (i / rate) * 1000);
  const names = axisNames(data);
  const apart = names.length <= MAX_AXES_APART;
  const traces = names.map((name, j) => ({
    type: "scatter", mode: "lines", name, x: t, y: column(data.values, j),
    ...(apart && j > 0 ? { xaxis: "x", yaxis: `y${j + 1}` } : {}),
  }));
  const layout = { height: apart ? Math.max(260, 150 * names.length) : 360, showlegend: !apart,
    xaxis: { title: { text: data.frequency_hz ? "time (ms)" : "row" } } };
  if (apart) {
    layout.grid = { rows: names.length, columns: 1, pattern: "coupled" };
    names.forEach((name, j) => {
      const units = data.sensors[j] && data.sensors[j].units ? ` (${data.sensors[j].units})` : "";
      layout[j === 0 ? "yaxis" : `yaxis${j + 1}`] = { title: { text: `${name}${units}` } };
    });
  }
  const el = h("div", { class: "plot", role: "img", "aria-label": `values of ${names.join(", ")} over time` });
  box.append(h("h3", {}, "Values per axis"), el);
  return plot(el, traces, layout);
}

function audio(box, data, src) {
  const signal = column(data.values, 0).map((v) => v || 0);
  const rate = data.frequency_hz || 16000;
  const { z, times, freqs } = spectrogram(signal, rate);
  const wave = h("div", { class: "plot", role: "img", "aria-label": "waveform" });
  const spec = h("div", { class: "plot", role: "img", "aria-label": "spectrogram" });
  box.append(h("h3", {}, "Listen"), h("audio", { controls: true, preload: "none", src, "aria-label": "play the sample" }),
    h("h3", {}, "Waveform"), wave, h("h3", {}, "Spectrogram"), spec);
  const step = Math.max(1, Math.floor(signal.length / 4000));  // a few thousand points draw fast enough
  const x = [];
  const y = [];
  for (let i = 0; i < signal.length; i += step) {
    x.push((i / rate) * 1000);
    y.push(signal[i]);
  }
  return Promise.all([
    plot(wave, [{ type: "scatter", mode: "lines", x, y, name: "amplitude" }],
      { height: 220, xaxis: { title: { text: "time (ms)" } } }),
    plot(spec, [{ type: "heatmap", x: times, y: freqs, z, colorscale: "Viridis", colorbar: { title: { text: "dB" } } }],
      { height: 320, xaxis: { title: { text: "time (ms)" } }, yaxis: { title: { text: "frequency (Hz)" } } }),
  ]);
}

function editor(sample, onSaved) {
  const label = h("input", { type: "text", maxlength: 256, value: sample.label || "", required: true });
  const category = h("select", {}, ["training", "testing"].map((c) =>
    h("option", { value: c, selected: c === sample.category }, c)));
  const msg = h("div", { role: "status" });
  const form = h("form", { class: "row", "aria-label": "label and category",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const change = {};
      if (label.value.trim() && label.value.trim() !== (sample.label || "")) change.label = label.value.trim();
      if (category.value !== sample.category) change.category = category.value;
      if (Object.keys(change).length === 0) return clear(msg, h("p", { class: "muted" }, "Nothing changed."));
      try {
        const res = await api(`/samples/${encodeURIComponent(sample.id)}`, { method: "PATCH", body: change });
        Object.assign(sample, res.sample);
        clear(msg, h("p", { class: "okmsg" }, `Saved: ${res.sample.name} is ${res.sample.label || "unlabeled"} in `
          + `${res.sample.category}.`));
        onSaved(res.sample);
      } catch (err) {
        clear(msg, errorBox(err));
      }
    } },
  field("Sample label", label), field("Sample category", category), h("button", { type: "submit" }, "Save"));
  return h("div", {}, h("h3", {}, "Label and category"), form, msg);
}

function facts(sample) {
  const pairs = [["Id", sample.id], ["Label", sample.label || "(unlabeled)"], ["Category", sample.category],
    ["Kind", sample.kind], ["Rate", sample.frequency_hz ? `${fmtNum(sample.frequency_hz, 2)} Hz` : "—"],
    ["Shape", (sample.shape || []).join(" × ")],
    ["Axes", (sample.sensors || []).map((s) => (s.units ? `${s.name} (${s.units})` : s.name)).join(", ")],
    ["Source", sample.source || "—"], ["Added", fmtTime(sample.created_at)]];
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// Render the viewer of sample `ref` into `box`; on.onChange() after a save, on.onClose() when closed.
export async function renderViewer(box, ref, ctx, on = {}) {
  const title = h("h2", { tabindex: "-1" }, "Sample");
  const body = h("div", {}, h("p", { class: "loading" }, "Loading the sample…"));
  const close = h("button", { type: "button", class: "secondary", onclick: () => on.onClose && on.onClose() },
    "Close the viewer");
  const el = h("section", { class: "card viewer", "aria-label": "sample viewer" },
    h("div", { class: "row viewer-head" }, title, close), body);
  clear(box, el);
  el.scrollIntoView({ block: "start" });
  let sample;
  try {
    sample = await api(`/samples/${encodeURIComponent(ref)}`);
  } catch (err) {
    clear(body, errorBox(err));
    return;
  }
  if (!box.contains(el) || ctx.stale()) return;  // closed or replaced meanwhile
  title.textContent = `Sample ${sample.name}`;
  const factsBox = h("div", {}, facts(sample));
  const values = h("div", {}, h("p", { class: "loading" }, "Loading its values…"));
  clear(body, h("div", { class: "grid" }, factsBox,
    ctx.can("label-data") ? editor(sample, (s) => { clear(factsBox, facts(s)); if (on.onChange) on.onChange(s); }) : null),
  values);
  title.focus();
  const base = `/api/v1/samples/${encodeURIComponent(sample.id)}/data`;
  try {
    if (sample.kind === "image") {
      clear(values, h("h3", {}, "Image"), h("img", { src: `${base}?format=png`, alt: `sample ${sample.name}`,
        class: "sample-image" }));
      return;
    }
    const data = await api(`/samples/${encodeURIComponent(sample.id)}/data`);
    if (!box.contains(el) || ctx.stale()) return;
    clear(values);
    await (sample.kind === "audio" ? audio(values, data, `${base}?format=wav`) : timeSeries(values, data));
  } catch (err) {
    clear(values, errorBox(err));
  }
}

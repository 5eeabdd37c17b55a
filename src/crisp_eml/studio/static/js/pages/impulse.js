// Impulse design: the input (window) settings, the processing blocks and their parameters (validated by the
// server, errors shown next to the form), the learning block, a DSP preview of one sample (raw signal ->
// features, per block), the feature explorer scatter (click a point to open its sample) and the impulse history.
import {
  api, ApiError, badge, card, clear, empty, errorBox, field, fmtNum, fmtTime, h, loading, plot, runJob, table
} from "../lib.js";

const LABELS = {
  window_size_ms: "Window size (ms)", window_increase_ms: "Window increase (ms)", frequency_hz: "Frequency (Hz)",
  pad_zeros: "Zero-pad short windows", length_mode: "Length mode", axes: "Axes (comma separated)",
};
const LENGTH_MODES = ["window", "pad", "resample"];
const LEARNING_TYPES = ["nn-classifier", "nn-regressor", "anomaly-kmeans", "anomaly-gmm", "expert", "byom"];
const clone = (x) => JSON.parse(JSON.stringify(x));

// A form control for one value, typed by the value (bool, number, string, list/object as JSON).
function control(value, { disabled, onValue, label }) {
  const set = (v) => onValue(v);
  if (typeof value === "boolean") {
    return h("input", { type: "checkbox", checked: value, disabled, onchange: (ev) => set(ev.target.checked) });
  }
  if (typeof value === "number") {
    return h("input", { type: "number", step: "any", value: String(value), disabled,
      oninput: (ev) => set(ev.target.value === "" ? ev.target.value : Number(ev.target.value)) });
  }
  if (typeof value === "string") {
    return h("input", { type: "text", value, disabled, oninput: (ev) => set(ev.target.value) });
  }
  return h("input", { type: "text", value: JSON.stringify(value), disabled, title: `${label} as JSON`,
    oninput: (ev) => { try { set(JSON.parse(ev.target.value)); } catch (_) { set(ev.target.value); } } });
}

function inputFields(spec, disabled) {
  const inp = spec.input;
  return Object.entries(inp).filter(([k]) => k !== "type").map(([k, v]) => {
    const label = LABELS[k] || k;
    let el;
    if (k === "length_mode") {
      el = h("select", { disabled, onchange: (ev) => { inp[k] = ev.target.value; } },
        LENGTH_MODES.map((m) => h("option", { value: m, selected: m === v }, m)));
    } else if (k === "axes" && Array.isArray(v)) {
      el = h("input", { type: "text", value: v.join(", "), disabled,
        oninput: (ev) => { inp[k] = ev.target.value.split(",").map((s) => s.trim()).filter(Boolean); } });
    } else {
      el = control(v, { disabled, label, onValue: (x) => { inp[k] = x; } });
    }
    el.dataset.field = `input.${k}`;
    return field(label, el);
  });
}

function blockEditor(spec, i, blockTypes, disabled, redraw) {
  const b = spec.blocks[i];
  const n = i + 1;
  // the defaults of one implementation version ("crisp" when the block has none: stored before versions existed)
  const defaultsOf = (t, v) => (t ? (t.defaults_by_version || {})[String(v ?? "crisp")] || t.defaults : {});
  const typeSel = h("select", { disabled, "data-field": `blocks.${i}.type`, onchange: (ev) => {
    const t = blockTypes.find((x) => x.type === ev.target.value);
    const v = t ? t.latest_version : "crisp";
    spec.blocks[i] = { name: ev.target.value, type: ev.target.value, params: clone(defaultsOf(t, v)), axes: b.axes,
      implementation_version: v };
    redraw();
  } }, blockTypes.map((t) => h("option", { value: t.type, selected: t.type === b.type }, t.type)));
  const bt = blockTypes.find((x) => x.type === b.type);
  const versionSel = h("select", { disabled, "data-field": `blocks.${i}.implementation_version`, onchange: (ev) => {
    const v = ev.target.value === "crisp" ? "crisp" : Number(ev.target.value);
    const keep = defaultsOf(bt, v);  // parameters the new version knows keep their values
    b.params = Object.fromEntries(Object.entries({ ...keep, ...b.params }).filter(([k]) => k in keep));
    b.implementation_version = v;
    redraw();
  } }, ((bt && bt.versions) || [b.implementation_version ?? "crisp"]).map((v) => h("option", { value: String(v),
    selected: String(v) === String(b.implementation_version ?? "crisp") },
  v === "crisp" ? "crisp-eml" : `Edge Impulse v${v}`)));
  const defaults = defaultsOf(bt, b.implementation_version);
  const params = { ...clone(defaults), ...b.params };
  b.params = params;
  const fields = Object.entries(params).map(([k, v]) => {
    const el = control(v, { disabled, label: k, onValue: (x) => { b.params[k] = x; } });
    el.dataset.field = `blocks.${i}.params.${k}`;
    return field(`Block ${n} ${k}`, el);
  });
  return h("fieldset", { class: "block", "data-block": String(i) },
    h("legend", {}, `Processing block ${n}: ${b.name}`),
    h("div", { class: "row" },
      field(`Block ${n} name`, h("input", { type: "text", value: b.name, disabled, "data-field": `blocks.${i}.name`,
        oninput: (ev) => { b.name = ev.target.value; } })),
      field(`Block ${n} type`, typeSel),
      field(`Block ${n} implementation version`, versionSel),
      disabled ? null : h("button", { type: "button", class: "secondary", onclick: () => { spec.blocks.splice(i, 1); redraw(); } },
        `Remove block ${n}`)),
    h("div", { class: "params" }, fields));
}

function learningEditor(spec, disabled) {
  const l = spec.learning || (spec.learning = { type: "nn-classifier", params: {} });
  const params = h("textarea", { rows: 4, disabled, "data-field": "learning.params",
    oninput: (ev) => { try { l.params = JSON.parse(ev.target.value || "{}"); } catch (_) { l.params = ev.target.value; } } },
  JSON.stringify(l.params || {}, null, 1));
  return h("fieldset", { class: "block" }, h("legend", {}, "Learning block"),
    h("div", { class: "row" },
      field("Learning type", h("select", { disabled, "data-field": "learning.type", onchange: (ev) => { l.type = ev.target.value; } },
        LEARNING_TYPES.map((t) => h("option", { value: t, selected: t === l.type }, t)))),
      field("Learning parameters (JSON)", params)));
}

function summary(version) {
  return h("dl", { class: "facts" },
    h("dt", {}, "Version"), h("dd", {}, `v${version.version}`, " ", version.current ? badge("current", "ok") : null),
    h("dt", {}, "Saved"), h("dd", {}, `${fmtTime(version.created_at)} by ${version.author}`),
    h("dt", {}, "Features"), h("dd", {}, `${fmtNum(version.n_features)} (${(version.output_shapes || []).map((s) => `[${s.join("×")}]`).join(" + ")})`),
    version.cost ? [h("dt", {}, "DSP cost"), h("dd", {}, `${fmtNum(version.cost.ops)} ops, ${fmtNum(version.cost.working_bytes)} B working memory per window`)] : null);
}

// -- the impulse form ------------------------------------------------------------------------------------------
function designCard(state, ctx, onSaved) {
  const may = ctx.can("design-impulse");
  const box = card("Impulse");
  const body = h("div", {});
  box.append(body);
  const draw = () => {
    const spec = state.draft;
    const msg = h("input", { type: "text", placeholder: "what changed and why", maxlength: 2000 });
    const status = h("div", { "aria-live": "polite" }, state.flash || null);
    state.flash = null;
    const save = async () => {
      clear(status);
      for (const el of body.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      try {
        const v = await api("/impulse", { method: "PUT", body: { spec, message: msg.value || null } });
        state.flash = h("p", { class: "okmsg", role: "status" }, `Saved as version ${v.version} (${fmtNum(v.n_features)} features).`);
        onSaved(v);  // redraws the form, showing state.flash
      } catch (err) {
        status.append(errorBox(err));
        const f = err instanceof ApiError && err.field ? String(err.field).replace(/^spec[.:]\s*/, "") : "";
        const el = f && body.querySelector(`[data-field="${CSS.escape(f)}"]`);
        if (el) { el.setAttribute("aria-invalid", "true"); el.focus(); }
      }
    };
    clear(body,
      summary(state.version),
      h("h3", {}, `Input: ${spec.input.type}`),
      h("div", { class: "row params" }, inputFields(spec, !may)),
      h("h3", {}, "Processing blocks"),
      spec.blocks.length ? spec.blocks.map((_, i) => blockEditor(spec, i, state.blockTypes, !may, draw)) : empty("No processing block: add one."),
      may ? h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => {
        const t = state.blockTypes.find((x) => x.type === "flatten") || state.blockTypes[0];
        spec.blocks.push({ name: `${t.type}-${spec.blocks.length + 1}`, type: t.type, params: clone(t.defaults), axes: null });
        draw();
      } }, "Add processing block")) : null,
      learningEditor(spec, !may),
      may
        ? h("div", { class: "row" }, field("Change note", msg),
            h("button", { type: "button", onclick: save }, "Save impulse"),
            h("button", { type: "button", class: "secondary", onclick: () => { state.draft = clone(state.version.spec); draw(); } }, "Discard changes"))
        : h("p", { class: "muted" }, `Your persona (${ctx.me.persona}) may view the impulse but not change it.`),
      status);
  };
  state.redraw = draw;
  draw();
  return box;
}

// -- DSP preview -----------------------------------------------------------------------------------------------
async function previewInto(out, ref, offset, input) {
  clear(out, loading("Computing features…"));
  const [pv, raw] = await Promise.all([
    api(`/impulse/preview/${encodeURIComponent(ref)}`, { query: { offset, limit: 1 } }),
    api(`/samples/${encodeURIComponent(ref)}/data`).catch(() => null),
  ]);
  const rawPlot = h("div", { class: "plot", "data-plot": "raw" });
  const plots = pv.blocks.map((b) => h("div", { class: "plot", "data-plot": `block-${b.name}` }));
  clear(out,
    h("p", { class: "muted" }, `${pv.sample.name} (${pv.sample.label || "unlabeled"}, ${pv.sample.category}): window ${pv.offset + 1} of ${pv.windows}, `,
      `${pv.n_features} features`, pv.window_starts_ms && pv.window_starts_ms.length ? ` from ${fmtNum(pv.window_starts_ms[0], 0)} ms` : ""),
    raw && raw.kind !== "image" ? [h("h3", {}, "Raw signal"), rawPlot] : null,
    pv.blocks.map((b, i) => [h("h3", {}, `${b.name} (${b.type}) → [${b.output_shape.join("×")}]`), plots[i]]));
  if (raw && raw.kind !== "image" && Array.isArray(raw.values)) {
    const names = (raw.sensors || []).map((s) => (typeof s === "string" ? s : s.name));
    const rows = raw.values;
    const dt = raw.frequency_hz ? 1000 / raw.frequency_hz : 1;
    const x = rows.map((_, i) => i * dt);
    const traces = names.map((n, j) => ({ x, y: rows.map((r) => (Array.isArray(r) ? r[j] : r)), name: n, type: "scatter", mode: "lines" }));
    const shapes = [];
    if (pv.window_starts_ms && pv.window_starts_ms.length && (input.length_mode || "window") === "window") {
      const w = pv.window_starts_ms[0];
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: w, x1: w + (input.window_size_ms || 0), y0: 0, y1: 1,
        fillcolor: "rgba(15,92,140,.08)", line: { width: 0 } });
    }
    await plot(rawPlot, traces, { xaxis: { title: raw.frequency_hz ? "time (ms)" : "row" }, shapes, height: 300 });
  }
  const feats = pv.features[0] || [];
  await Promise.all(pv.blocks.map((b, i) => plot(plots[i], [{
    type: "bar", x: pv.feature_names.slice(b.start, b.start + b.length), y: feats.slice(b.start, b.start + b.length), name: b.name,
  }], { height: 300, xaxis: { automargin: true, tickangle: -45 }, yaxis: { title: { text: "value" } } })));
  out.dataset.ready = "true";
}

async function previewCard(ctx, state) {
  const out = h("div", { class: "preview" });
  const box = card("DSP preview", h("p", { class: "muted" }, "One sample through the current impulse: the raw signal and each block's features."));
  const page = await api("/samples", { query: { limit: 500 } });
  if (!page.items.length) {
    box.append(empty("No samples yet: upload or ingest on Data acquisition."));
    return box;
  }
  const first = ctx.params.get("sample") || page.items[0].id;
  const sel = h("select", {}, page.items.map((s) => h("option", { value: s.id, selected: s.id === first || s.name === first },
    `${s.name} (${s.label || "unlabeled"}, ${s.category})`)));
  const win = h("input", { type: "number", min: 0, value: 0, step: 1 });
  const go = () => previewInto(out, sel.value, Math.max(0, Number(win.value) || 0), state.version.spec.input)
    .catch((err) => clear(out, errorBox(err)));
  box.refresh = go;
  sel.addEventListener("change", () => { win.value = 0; go(); });
  win.addEventListener("change", go);
  box.append(h("div", { class: "row" }, field("Sample to preview", sel), field("Window (from 0)", win)), out);
  go();
  return box;
}

// -- feature explorer ------------------------------------------------------------------------------------------
function explorerCard(ctx) {
  const out = h("div", {});
  const jobBox = h("div", {});
  const box = card("Feature explorer",
    h("p", { class: "muted" }, "Every window's features in 2-D (PCA of the standardised features), coloured by label. Click a point to open its sample."),
    jobBox, out);
  const load = async () => {
    clear(out, loading("Embedding features…"));
    const ex = await api("/features/explorer");
    const status = h("p", { class: "muted" }, `${ex.generated} of ${ex.samples} samples have features for this impulse`,
      ex.silhouette !== null && ex.silhouette !== undefined ? `; silhouette ${fmtNum(ex.silhouette)}` : "",
      ex.thinned ? `; showing ${ex.points.length} of ${ex.windows} windows` : "");
    const canGen = ctx.can("design-impulse") || ctx.can("train");
    const gen = canGen ? h("button", { type: "button", onclick: () => generate(gen) },
      ex.missing ? "Generate features" : "Regenerate features") : null;
    if (!ex.points.length) {
      clear(out, status, empty(ex.missing ? `No features yet for ${ex.missing} samples: generate features to see the explorer.`
        : (ex.reason || "Nothing to show.")), gen);
      return;
    }
    const el = h("div", { class: "plot", "data-plot": "explorer", role: "img", "aria-label": "feature explorer scatter plot" });
    clear(out, status, gen, el);
    const labels = [...new Set(ex.points.map((p) => p.label || "(unlabeled)"))];
    const traces = labels.map((lab) => {
      const pts = ex.points.filter((p) => (p.label || "(unlabeled)") === lab);
      return { type: "scatter", mode: "markers", name: lab, x: pts.map((p) => p.x), y: pts.map((p) => p.y),
        customdata: pts.map((p) => p.sample_id), text: pts.map((p) => `${p.name} #${p.window} (${p.category})`),
        hovertemplate: "%{text}<extra>%{fullData.name}</extra>", marker: { size: 8, opacity: 0.8 } };
    });
    await plot(el, traces, { hovermode: "closest", height: 420, xaxis: { title: { text: "component 1" } }, yaxis: { title: { text: "component 2" } } });
    el.on("plotly_click", (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (p && p.customdata) ctx.navigate(`/data?sample=${encodeURIComponent(p.customdata)}`);
    });
    out.dataset.ready = "true";
  };
  const generate = async (btn) => {
    const done = await runJob({ button: btn, box: jobBox, label: "Feature generation",
      start: () => api("/features/generate", { method: "POST", body: {} }) });
    if (done && done.status === "succeeded" && !ctx.stale()) await load().catch((err) => jobBox.append(errorBox(err)));
  };
  box.reload = () => load().catch((err) => clear(out, errorBox(err)));
  box.reload();
  return box;
}

function historyCard(history) {
  return card("Impulse history", table({
    columns: [{ label: "Version", render: (v) => `v${v.version}` }, { label: "Saved", render: (v) => fmtTime(v.created_at) },
      { key: "author", label: "By" }, { key: "message", label: "Note" },
      { label: "Blocks", render: (v) => (v.spec.blocks || []).map((b) => b.type).join(", ") },
      { label: "", render: (v) => (v.current ? badge("current", "ok") : "") }],
    rows: [...history].reverse(), empty: "No impulse versions yet.",
  }));
}

// -- no impulse yet: design one from the data (a job: the window, DSP blocks and learning block are chosen by
// scoring candidates on the samples) ------------------------------------------------------------------------------
function createCard(ctx) {
  const box = card("Impulse", empty("No impulse yet: design one from your samples (window, DSP blocks and "
    + "learning block are chosen from the data; you can edit them afterwards)."));
  if (!ctx.can("design-impulse")) return box;
  const quick = h("input", { type: "checkbox", name: "quick" });
  const jobBox = h("div", { "aria-live": "polite" });
  const go = h("button", { type: "button" }, "Design the impulse from the data");
  go.addEventListener("click", async () => {
    const done = await runJob({ button: go, box: jobBox, label: "Impulse design",
      start: () => api("/impulse/create", { method: "POST", body: { quick: quick.checked, message: "designed in the Studio" } }) });
    if (done && done.status === "succeeded" && !ctx.stale()) ctx.navigate("/impulse");
  });
  box.append(h("div", { class: "row" }, go, h("label", { class: "check" }, quick, " quick (fewer candidates)")), jobBox);
  return box;
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Impulse design"));
  let version;
  try {
    version = await api("/impulse");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      root.append(createCard(ctx));
      return;
    }
    throw err;
  }
  const [blockTypes, history] = await Promise.all([api("/dsp/blocks"), api("/impulse/history")]);
  const state = { version, draft: clone(version.spec), blockTypes };
  const hist = h("div", {}, historyCard(history));
  const explorer = explorerCard(ctx);
  const slot = h("div", {}, card("DSP preview", loading()));
  let preview = null;
  root.append(designCard(state, ctx, async (v) => {
    state.version = v;
    state.draft = clone(v.spec);
    state.redraw();
    if (preview && preview.refresh) preview.refresh();
    explorer.reload();
    clear(hist, historyCard(await api("/impulse/history")));
  }), slot, explorer, hist);
  preview = await previewCard(ctx, state);
  clear(slot, preview);
}

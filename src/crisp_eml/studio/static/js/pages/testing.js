// Model testing: run a test job on the testing samples, float32 vs int8 metrics side by side, the confusion matrix
// (a heatmap) and the per-sample results, misclassified first, each linking to its sample on Data acquisition.
import {
  api, badge, card, clear, empty, errorBox, field, fmtNum, fmtTime, h, loading, plot, runJob, table
} from "../lib.js";

const METRICS = [["accuracy", "Accuracy (windows)"], ["balanced_accuracy", "Balanced accuracy"], ["f1", "F1 (macro)"],
  ["sample_accuracy", "Accuracy (samples)"], ["roc_auc", "ROC AUC"], ["mae", "MAE"], ["rmse", "RMSE"], ["windows", "Windows tested"]];

function metricsTable(res) {
  const names = Object.keys(res.variants);
  const rows = METRICS.filter(([k]) => names.some((v) => typeof res.variants[v][k] === "number"))
    .map(([k, label]) => ({ k, label, values: names.map((v) => res.variants[v][k]) }));
  const both = names.includes("float32") && names.includes("int8");
  return table({
    columns: [{ key: "label", label: "Metric" }, ...names.map((v, i) => ({ label: v, render: (r) => fmtNum(r.values[i]) })),
      both ? { label: "int8 − float32", render: (r) => {
        const [a, b] = [r.values[names.indexOf("int8")], r.values[names.indexOf("float32")]];
        return typeof a === "number" && typeof b === "number" && r.k !== "windows" ? fmtNum(a - b) : "";
      } } : null].filter(Boolean),
    rows, caption: names.map((v) => `${v}: ${res.variants[v].source === "test job" ? `test job ${res.variants[v].job} (${fmtTime(res.variants[v].at)}, ${res.variants[v].by})` : `at training (${fmtTime(res.variants[v].at)})`}`).join(" · "),
  });
}

async function confusion(el, v) {
  const cm = v.confusion_matrix || [];
  const labels = v.labels || cm.map((_, i) => String(i));
  const text = cm.map((row) => row.map(String));
  await plot(el, [{ type: "heatmap", z: cm, x: labels, y: labels, colorscale: [[0, "#f6f7f9"], [1, "#0f5c8c"]], text, texttemplate: "%{text}",
    hovertemplate: "actual %{y}, predicted %{x}: %{z}<extra></extra>", showscale: false }],
  { height: 360, xaxis: { title: { text: "predicted" }, side: "bottom", automargin: true },
    yaxis: { title: { text: "actual" }, autorange: "reversed", automargin: true } });
  el.dataset.ready = "true";
}

function perSample(v) {
  const regression = v.task === "regression";
  return table({
    columns: [
      { label: "Sample", render: (r) => h("a", { href: `/data?sample=${encodeURIComponent(r.sample_id)}`, "data-link": "" }, r.name) },
      { label: "Label", render: (r) => String(r.label) },
      { label: "Predicted", render: (r) => String(r.predicted) },
      regression ? { label: "Error", render: (r) => fmtNum(r.error) }
        : { label: v.task === "anomaly" ? "Score" : "Confidence", render: (r) => fmtNum(v.task === "anomaly" ? r.score : r.confidence) },
      { label: "Windows", render: (r) => fmtNum(r.windows ?? "") },
      regression ? null : { label: "Result", render: (r) => (r.correct ? badge("correct", "ok") : badge("misclassified", "bad")) },
    ].filter(Boolean),
    rows: v.per_sample, rowClass: (r) => (r.correct === false ? "miss" : ""),
    caption: regression ? "largest error first" : `${v.misclassified} misclassified of ${v.per_sample.length} samples (misclassified first)`,
    empty: "No per-sample results.",
  });
}

function resultsView(res) {
  const names = Object.keys(res.variants);
  if (!names.length) return empty(`Run ${res.run} has no test results yet: run a test.`);
  const pick = h("select", {}, names.map((v) => h("option", { value: v, selected: v === (names.includes("int8") ? "int8" : names[0]) }, v)));
  const heat = h("div", { class: "plot", "data-plot": "confusion", role: "img", "aria-label": "confusion matrix" });
  const samples = h("div", {});
  const show = () => {
    const v = res.variants[pick.value];
    clear(samples, perSample(v));
    return v.confusion_matrix ? confusion(heat, v) : null;
  };
  pick.addEventListener("change", show);
  const el = h("div", { "data-run": res.run },
    h("p", { class: "muted" }, `Run ${res.run} (${res.learning_type}, trained ${fmtTime(res.created_at)}).`),
    card("float32 vs int8", metricsTable(res),
      typeof res.int8_accuracy_drop === "number" ? h("p", { class: "muted" }, `int8 accuracy drop at training: ${fmtNum(res.int8_accuracy_drop)}`) : null),
    card("Confusion matrix and per-sample results", h("div", { class: "row" }, field("Model variant", pick)),
      h("h3", {}, "Confusion matrix"), heat, h("h3", {}, "Per-sample results"), samples));
  show();
  return el;
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Model testing"));
  const out = h("div", {}, loading());
  const runs = await api("/runs", { query: { limit: 200 } });
  if (!runs.length) {
    root.append(card("Test results", empty("No trained model yet: start a run on Training.")));
    return;
  }
  const chosen = ctx.params.get("run") || runs[0].id;
  const runSel = h("select", {}, runs.map((r) => h("option", { value: r.id, selected: r.id === chosen },
    `${r.id.slice(0, 8)} · ${fmtTime(r.created_at)} · ${r.learning_type}`)));
  const load = async () => {
    clear(out, loading());
    try {
      clear(out, resultsView(await api(`/runs/${encodeURIComponent(runSel.value)}/test`)));
    } catch (err) {
      clear(out, errorBox(err));
    }
  };
  runSel.addEventListener("change", load);
  const controls = [field("Run", runSel)];
  const jobBox = h("div", { "aria-live": "polite" });
  if (ctx.can("train")) {
    const variant = h("select", {}, ["int8", "float32"].map((v) => h("option", { value: v }, v)));
    const btn = h("button", { type: "button" }, "Run test");
    btn.addEventListener("click", async () => {
      const done = await runJob({ button: btn, box: jobBox, label: "Test",
        start: () => api("/test", { method: "POST", body: { run: runSel.value, variant: variant.value } }) });
      if (done && done.status === "succeeded" && !ctx.stale()) await load().catch((err) => jobBox.append(errorBox(err)));
    });
    controls.push(field("Model variant to test", variant), btn);
  }
  root.append(card("Test a run", h("p", { class: "muted" }, "Testing runs the model in TFLite Micro on every testing sample."),
    h("div", { class: "row" }, controls), jobBox), out);
  await load();
}

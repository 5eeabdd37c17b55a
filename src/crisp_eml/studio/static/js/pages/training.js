// Training: start a run as a background job (live progress bar and loss/accuracy curves streamed over SSE), the
// runs table, a run's detail (parameters, metrics, training curves, its HTML report) and runs side by side.
import { api, badge, card, clear, errorBox, field, fmtNum, fmtTime, h, loading, plot, runJob, table } from "../lib.js";

const CURVES = ["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae"];

// Loss and accuracy plots fed point by point: x is the epoch; each cross-validation fold is its own faint trace
// ("loss · fold 2/5") and the final fit on all the training data the bold one.
function curves() {
  const loss = h("div", { class: "plot", "data-plot": "loss", role: "img", "aria-label": "loss per epoch" });
  const acc = h("div", { class: "plot", "data-plot": "accuracy", role: "img", "aria-label": "accuracy per epoch" });
  const series = new Map();  // "metric|fold" -> {metric, fold, x, y}
  let points = 0;
  let pending = null;
  const traces = (wanted) => [...series.values()].filter((s) => wanted(s.metric)).map((s) => ({
    type: "scatter", mode: "lines+markers", x: s.x, y: s.y, name: s.fold ? `${s.metric} · fold ${s.fold}` : s.metric,
    legendgroup: s.metric, opacity: s.fold ? 0.35 : 1, showlegend: !s.fold || series.size <= 8 }));
  const draw = () => {
    pending = null;
    return Promise.all([
      plot(loss, traces((m) => !m.includes("accuracy")), { height: 280, title: { text: "Loss" }, xaxis: { title: { text: "epoch" } } }),
      plot(acc, traces((m) => m.includes("accuracy")), { height: 280, title: { text: "Accuracy" }, xaxis: { title: { text: "epoch" } },
        yaxis: { range: [0, 1.02] } }),
    ]).then(() => { loss.dataset.points = String(points); });
  };
  const push = (metric, fold, epoch, value) => {
    const key = `${metric}|${fold}`;
    if (!series.has(key)) series.set(key, { metric, fold, x: [], y: [] });
    const s = series.get(key);
    s.x.push(epoch);
    s.y.push(value);
  };
  return {
    el: h("div", { class: "grid" }, loss, acc),
    // one progress event of the training job: {done: epoch, metrics: {loss, ..., fold?, folds?}}
    add(d) {
      const m = d.metrics;
      const fold = m.fold !== undefined && m.folds !== undefined ? `${m.fold}/${m.folds}` : "";
      if (!fold) points += 1;
      for (const k of CURVES) if (m[k] !== undefined) push(k, fold, d.done, m[k]);
      if (!pending) pending = new Promise((r) => requestAnimationFrame(r)).then(draw);
    },
    setHistory(history) {
      series.clear();
      for (const k of CURVES) if (history[k]) history[k].forEach((v, i) => push(k, "", i + 1, v));
      points = Math.max(0, ...CURVES.map((k) => (history[k] ? history[k].length : 0)));
      return draw();
    },
  };
}

function startCard(ctx, onDone) {
  if (!ctx.can("train")) {
    return card("Start training", h("p", { class: "muted" },
      `Your persona (${ctx.me.persona}) may look at runs but not train; a data scientist starts training runs.`));
  }
  const epochs = h("input", { type: "number", min: 1, max: 10000, step: 1, placeholder: "impulse default" });
  const lr = h("input", { type: "number", min: 0, step: "any", placeholder: "impulse default" });
  const batch = h("input", { type: "number", min: 1, step: 1, placeholder: "impulse default" });
  const patience = h("input", { type: "number", min: 0, step: 1, placeholder: "impulse default" });
  const seed = h("input", { type: "number", min: 0, step: 1, value: 0 });
  const out = h("div", { "aria-live": "polite" });
  const btn = h("button", { type: "button" }, "Start training");
  btn.addEventListener("click", async () => {
    const num = (el) => (el.value === "" ? undefined : Number(el.value));
    const body = { epochs: num(epochs), learning_rate: num(lr), batch_size: num(batch), patience: num(patience), seed: num(seed) ?? 0 };
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    const c = curves();
    const done = await runJob({ button: btn, box: out, label: "Training", extra: [c.el],
      start: () => api("/train", { method: "POST", body }),
      onProgress: (d) => { if (d.metrics) c.add(d); } });
    if (done && done.status === "succeeded") {
      const id = done.result && done.result.id;
      out.append(h("p", { class: "okmsg" }, `Run ${id} finished.`));
      if (!ctx.stale()) await onDone(id).catch((err) => out.append(errorBox(err)));
    }
  });
  return card("Start training",
    h("p", { class: "muted" }, "Leave a field empty to use the impulse's learning block setting."),
    h("div", { class: "row" }, field("Epochs", epochs), field("Learning rate", lr), field("Batch size", batch),
      field("Early-stopping patience", patience), field("Seed", seed), btn),
    out);
}

function runDetail(run) {
  const m = run.metrics || {};
  const test = m.test || {};
  const variants = ["float32", "int8", "model"].filter((v) => test[v]);
  const c = curves();
  const el = h("div", { "data-run": run.id },
    h("dl", { class: "facts" },
      h("dt", {}, "Run"), h("dd", {}, run.id, " ", badge(run.status, run.status === "finished" ? "ok" : "warn")),
      h("dt", {}, "Learning"), h("dd", {}, run.learning_type),
      h("dt", {}, "Started"), h("dd", {}, `${fmtTime(run.created_at)} by ${run.author}`),
      h("dt", {}, "Dataset version"), h("dd", {}, String(run.dataset_version ?? "")),
      h("dt", {}, "Epochs run"), h("dd", {}, fmtNum(m.epochs_run)),
      h("dt", {}, "Report"), h("dd", {}, (run.artifacts || {})["report.html"]
        ? h("a", { href: `/api/v1/runs/${encodeURIComponent(run.id)}/report`, target: "_blank", rel: "noopener" }, "Open the training report")
        : "none")),
    variants.length ? h("div", { class: "kpis" }, variants.map((v) => h("div", { class: "kpi" },
      h("b", {}, fmtNum(test[v].accuracy ?? test[v].mae)), `${v} ${test[v].accuracy !== undefined ? "test accuracy" : "test MAE"}`))) : null,
    m.overfit_warning ? h("p", { class: "error" }, String(m.overfit_warning)) : null,
    m.history ? c.el : null,
    h("details", {}, h("summary", {}, "Parameters"), h("pre", {}, JSON.stringify(run.params || {}, null, 1))));
  if (m.history) c.setHistory(m.history);
  return el;
}

function compareView(cmp) {
  return table({
    columns: [{ key: "row", label: "Setting / metric" },
      ...cmp.runs.map((id, i) => ({ label: id.slice(0, 8), render: (r) => fmtNum(r.values[i]) }))],
    rows: Object.entries(cmp.rows).map(([row, values]) => ({ row, values, differs: cmp.differs.includes(row) })),
    rowClass: (r) => (r.differs ? "differs" : ""),
    caption: `${cmp.differs.length} rows differ (highlighted)`,
  });
}

function runsCard(ctx) {
  const list = h("div", {}, loading());
  const detail = h("div", {});
  const cmpOut = h("div", {});
  const box = card("Runs", list, cmpOut, h("div", { class: "run-detail" }, detail));
  const show = async (id) => {
    clear(detail, loading());
    try {
      const run = await api(`/runs/${encodeURIComponent(id)}`);
      clear(detail, h("h3", {}, `Run ${run.id}`), runDetail(run));
    } catch (err) {
      clear(detail, errorBox(err));
    }
  };
  const load = async (select) => {
    const runs = await api("/runs", { query: { limit: 200 } });
    const t = table({
      columns: [{ label: "Run", render: (r) => h("code", {}, r.id.slice(0, 8)) }, { label: "Started", render: (r) => fmtTime(r.created_at) },
        { key: "author", label: "By" }, { key: "learning_type", label: "Learning" },
        { label: "Status", render: (r) => badge(r.status, r.status === "finished" ? "ok" : "warn") },
        { label: "float32 accuracy", render: (r) => fmtNum(r.accuracy_float32) },
        { label: "int8 accuracy", render: (r) => fmtNum(r.accuracy_int8) }],
      rows: runs, selectable: runs.length > 1, onRow: (r) => show(r.id), caption: `${runs.length} run${runs.length === 1 ? "" : "s"}, newest first`,
      empty: "No training runs yet: start one above.",
    });
    const cmpBtn = runs.length > 1 ? h("button", { type: "button", class: "secondary", onclick: async () => {
      const chosen = t.selected();
      if (chosen.length < 2) { clear(cmpOut, h("p", { class: "error", role: "alert" }, "Select at least two runs to compare.")); return; }
      try {
        const cmp = await api("/runs/compare", { query: { run: chosen.map((r) => r.id) } });
        clear(cmpOut, h("h3", {}, "Runs compared"), compareView(cmp));
      } catch (err) { clear(cmpOut, errorBox(err)); }
    } }, "Compare selected runs") : null;
    clear(list, t, cmpBtn);
    const first = select || (runs[0] && runs[0].id);
    if (first) await show(first);
  };
  box.reload = (id) => load(id).catch((err) => clear(list, errorBox(err)));
  box.reload(ctx.params.get("run"));
  return box;
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Training"));
  const runs = runsCard(ctx);
  const note = h("p", { class: "muted", hidden: true });
  root.append(note, startCard(ctx, (id) => { note.hidden = true; return runs.reload(id); }), runs);
  if (!ctx.can("train")) return;
  const status = await api("/features").catch(() => null);  // 404 before there is an impulse
  if (status && status.missing) {
    note.textContent = `${status.missing} samples have no features for the current impulse yet: training `
      + "generates them first.";
    note.hidden = false;
  }
}

// Field data review: the windows devices flagged in the field (low confidence, anomaly) waiting for a domain
// expert's label (GET /review, paged), each with a small plot of its values, what the model predicted and why
// it was flagged. Members who may label data label them (each becomes a sample) or dismiss them, then add the
// labelled windows to the dataset as a new version (POST /review/commit).
import { api, badge, card, clear, empty, errorBox, field, fmtNum, fmtTime, h, loading, plot } from "../lib.js";

const PAGE = 10;
const STATUSES = [["pending", "Waiting for a label"], ["labelled", "Labelled"], ["dismissed", "Dismissed"],
  ["all", "All"]];
const CATEGORIES = [["split", "Split automatically (training/testing)"], ["training", "Training"],
  ["testing", "Testing"]];
const MAX_POINTS = 2000;  // a small plot needs no more

const howTo = () => h("div", { class: "empty" },
  h("p", {}, "No windows are waiting for a label."),
  h("p", {}, "Devices send the windows their model is unsure about (or finds anomalous) while it runs:"),
  h("pre", {}, "eml run MODEL --input - --continuous --review-server URL --device-key KEY --flag-below 0.6 "
    + "[--flag-anomaly-above X]"),
  h("p", {}, "A device key comes from ", h("code", {}, "eml devices add NAME"),
    " (printed once); the flagged windows then appear here for labelling."));

function items(page) {
  return Array.isArray(page) ? page : page.items || page.review || [];
}

function column(values, j) {
  return values.map((row) => (Array.isArray(row) ? row[j] : row));
}

// A small plot of a window's values: one line per axis (every axis in one plot).
async function miniPlot(el, item) {
  const data = await api(`/review/${encodeURIComponent(item.id)}/data`);
  const values = data.values || [];
  const step = Math.max(1, Math.ceil(values.length / MAX_POINTS));
  const rows = values.filter((_, i) => i % step === 0);
  const rate = data.frequency_hz || item.frequency_hz;
  const x = rows.map((_, i) => (rate ? ((i * step) / rate) * 1000 : i * step));
  const cols = data.shape && data.shape.length > 1 ? data.shape[1] : 1;
  const sensors = data.sensors || item.sensors || [];
  const traces = Array.from({ length: cols }, (_, j) => ({ type: "scatter", mode: "lines", x, y: column(rows, j),
    name: sensors[j] ? sensors[j].name : `axis ${j}` }));
  return plot(el, traces, { height: 200, margin: { l: 40, r: 10, t: 10, b: 30 }, legend: { orientation: "h" },
    xaxis: { title: { text: rate ? "time (ms)" : "row" } } });
}

const known = (x) => x !== null && x !== undefined;

function facts(item) {
  const confident = known(item.confidence) ? ` (${fmtNum(100 * item.confidence, 1)}% confident)` : "";
  const pairs = [
    ["Predicted", item.predicted ? `${item.predicted}${confident}` : "—"],
    ["Anomaly score", known(item.anomaly_score) ? fmtNum(item.anomaly_score, 3) : "—"],
    ["Reason", badge(item.reason || "manual", item.reason === "anomaly" ? "bad" : "warn")],
    ["Device", item.device || "—"],
    ["Model", item.model || "—"],
    ["Sent", fmtTime(item.created_at)],
    ["Window", `${item.length ?? ""} rows${item.frequency_hz ? ` at ${fmtNum(item.frequency_hz, 1)} Hz` : ""}`],
  ];
  if (item.status !== "pending") {
    const by = item.reviewed_by ? ` by ${item.reviewed_by}` : "";
    pairs.push(["Status", `${item.status}${item.label ? ` as ${item.label}` : ""}${by}`]);
    if (item.sample_id) {
      pairs.push(["Sample", h("a", { href: `/data?sample=${encodeURIComponent(item.sample_id)}`, "data-link": "" },
        item.sample_id)]);
    }
    if (item.version_id) pairs.push(["Dataset version", String(item.version_id)]);
  }
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export async function render(root, ctx) {
  const mayLabel = ctx.can("label-data");
  const st = { status: ctx.params.get("status") || "pending", tokens: [null], at: 0, labels: [] };
  root.append(h("h1", {}, "Field data review"),
    h("p", { class: "muted" }, "Windows a deployed model was unsure about, sent by the devices: label them to feed "
      + "the next dataset version (and the retraining loop), or dismiss them."));

  const labels = h("datalist", { id: "review-labels" });
  const status = h("select", { onchange: () => {
    st.status = status.value;
    clear(msg);
    st.tokens = [null];
    st.at = 0;
    load();
  } },
    STATUSES.map(([v, t]) => h("option", { value: v, selected: v === st.status }, t)));
  const category = h("select", {}, CATEGORIES.map(([v, t]) => h("option", { value: v }, t)));
  const msg = h("div", { role: "status" });
  const list = h("div", { class: "review-list" }, loading("Loading the review queue…"));
  const pager = h("nav", { class: "pager", "aria-label": "review pages" });
  root.append(card("Flagged windows", labels,
    h("div", { class: "row" }, field("Show", status), mayLabel ? field("Labelled windows go to", category) : null),
    msg, list, pager));

  // -- committing the labelled windows as a dataset version ----------------------------------------------------
  if (mayLabel) {
    const message = h("input", { type: "text", maxlength: 10000, value: "labelled field data" });
    const commitMsg = h("div", { role: "status" });
    root.append(card("Add labelled windows to the dataset",
      h("p", { class: "muted" }, "Labelled windows are samples already; this records them (and every other sample) "
        + "as a new dataset version, so training and the monitoring loop can refer to it."),
      h("form", { class: "row", "aria-label": "commit labelled windows", onsubmit: async (ev) => {
        ev.preventDefault();
        clear(commitMsg);
        try {
          const res = await api("/review/commit", { method: "POST",
            body: { message: message.value.trim() || "labelled field data" } });
          const v = res.version || res;
          const id = v.id ?? v.version_id;
          const n = res.committed ?? res.items ?? res.n_items;
          const count = Array.isArray(n) ? n.length : n;
          clear(commitMsg, h("p", { class: "okmsg" }, `Dataset version ${id} recorded`,
            typeof count === "number" ? ` with ${count} labelled window(s)` : "",
            known(v.n_samples) ? ` (${v.n_samples} samples in all).` : "."));
          if (st.status !== "pending") load();
        } catch (err) {
          clear(commitMsg, errorBox(err));
        }
      } }, field("Version message", message), h("button", { type: "submit" }, "Add labelled windows to the dataset")),
      commitMsg));
  }

  async function act(path, body, done) {
    clear(msg);
    try {
      await api(path, { method: "POST", body });
      clear(msg, h("p", { class: "okmsg" }, done));
      await load();
    } catch (err) {
      clear(msg, errorBox(err));
    }
  }

  function itemCard(item) {
    const chart = h("div", { class: "plot mini-plot", role: "img", "aria-label": `values of window ${item.id}` });
    const label = h("input", { type: "text", maxlength: 256, list: "review-labels",
      placeholder: item.predicted || "label", "aria-label": `label for window ${item.id}` });
    const pending = mayLabel && item.status === "pending";
    const controls = pending ? h("form", { class: "row review-actions", "aria-label": `label window ${item.id}`,
      onsubmit: (ev) => {
        ev.preventDefault();
        const l = label.value.trim();
        if (!l) return clear(msg, errorBox("Type a label for the window first (or dismiss it)."));
        return act("/review/label", { ids: [item.id], label: l, category: category.value },
          `Labelled window ${item.id} as ${l}: it is a sample now.`);
      } }, label, h("button", { type: "submit" }, "Label"),
    h("button", { type: "button", class: "secondary", onclick: () => act("/review/dismiss", { ids: [item.id] },
      `Dismissed window ${item.id}.`) }, "Dismiss")) : null;
    const el = h("article", { class: "review-item", "aria-label": `window ${item.id}` },
      h("div", { class: "review-facts" }, facts(item), controls), chart);
    miniPlot(chart, item).catch((err) => clear(chart, errorBox(err)));
    return el;
  }

  async function load() {
    let page;
    try {
      page = await api("/review", { query: { status: st.status, limit: PAGE, page_token: st.tokens[st.at] } });
    } catch (err) {
      if (!ctx.stale()) clear(list, errorBox(err));
      return;
    }
    if (ctx.stale()) return;
    const rows = items(page);
    const next = page.next_page_token ?? page.next_token ?? null;
    st.tokens[st.at + 1] = next;
    if (rows.length === 0) {
      clear(list, st.status === "pending" && st.at === 0 ? howTo() : empty("No windows here."));
    } else {
      const shown = STATUSES.find(([v]) => v === st.status)[1].toLowerCase();
      clear(list, h("p", { class: "muted" }, `${page.total ?? rows.length} window(s): ${shown}.`), rows.map(itemCard));
    }
    clear(pager, st.at > 0 || next ? [
      h("button", { type: "button", class: "secondary", disabled: st.at === 0,
        onclick: () => { st.at -= 1; load(); } }, "Previous"),
      h("span", {}, `page ${st.at + 1}`),
      h("button", { type: "button", class: "secondary", disabled: !next,
        onclick: () => { st.at += 1; load(); } }, "Next"),
    ] : []);
  }

  async function loadLabels() {
    try {
      const summary = await api("/data/summary");
      if (ctx.stale()) return;
      clear(labels, summary.labels.filter((r) => r.label).map((r) => h("option", { value: r.label })));
    } catch (_) { /* the label box still takes any label */ }
  }

  await Promise.all([load(), loadLabels()]);
}

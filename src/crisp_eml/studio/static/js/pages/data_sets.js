// The Data acquisition page's data set cards: dataset versions (list, snapshot, diff of two versions) and the
// quality report (latest result; run the check; score breakdown, issues and class balance plots; the samples
// with issues, each opening in the viewer).
import { ApiError, api, badge, card, clear, empty, errorBox, field, fmtNum, fmtTime, h, plot, table } from "../lib.js";

const DIFF_KINDS = [["added", "Added"], ["removed", "Removed"], ["relabeled", "Relabeled"],
  ["recategorized", "Moved"], ["changed", "Content changed"]];

function diffView(d, open) {
  const total = DIFF_KINDS.reduce((n, [k]) => n + d[k].length, 0);
  if (total === 0) return h("p", { class: "okmsg" }, `Versions ${d.from} and ${d.to} hold the same samples.`);
  const rows = DIFF_KINDS.flatMap(([k, what]) => d[k].map((x) => ({ ...x, what })));
  return h("div", { class: "diff" },
    h("p", {}, `From version ${d.from} to ${d.to}: `,
      DIFF_KINDS.filter(([k]) => d[k].length).map(([k, what]) => `${what.toLowerCase()} ${d[k].length}`).join(", ")),
    table({
      columns: [{ key: "what", label: "Change" }, { key: "name", label: "Sample" },
        { label: "Before", render: (x) => (x.what === "Added" ? "" : x.from ?? `${x.label ?? "(unlabeled)"} · ${x.category}`) },
        { label: "After", render: (x) => (x.what === "Removed" ? "" : x.to ?? `${x.label ?? "(unlabeled)"} · ${x.category}`) }],
      rows: rows.slice(0, 200), onRow: (x) => (x.what === "Removed" ? null : open(x.sample_id)),
      caption: rows.length > 200 ? `the first 200 of ${rows.length} changes` : "",
    }));
}

export function versionsCard(ctx, open) {
  const list = h("div", {}, h("p", { class: "loading" }, "Loading versions…"));
  const msg = h("div", { role: "status" });
  const diffBox = h("div", {});
  const from = h("select", {});
  const to = h("select", {});
  const message = h("input", { type: "text", maxlength: 10000, placeholder: "what this version is for" });
  const snapshotForm = ctx.can("ingest-data") ? h("form", { class: "row", "aria-label": "snapshot",
    onsubmit: async (ev) => {
      ev.preventDefault();
      if (!message.value.trim()) return clear(msg, errorBox("Type a message for the snapshot."));
      try {
        const v = await api("/datasets/versions", { method: "POST", body: { message: message.value.trim() } });
        message.value = "";
        clear(msg, h("p", { class: "okmsg" }, `Version ${v.id} recorded (${v.n_samples} samples).`));
        await reload();
      } catch (err) {
        clear(msg, errorBox(err));
      }
    } }, field("Snapshot message", message), h("button", { type: "submit" }, "Snapshot")) : null;
  const diffForm = h("form", { class: "row", "aria-label": "compare versions",
    onsubmit: async (ev) => {
      ev.preventDefault();
      clear(diffBox, h("p", { class: "loading" }, "Comparing…"));
      try {
        clear(diffBox, diffView(await api(`/datasets/versions/${from.value}/diff/${to.value}`), open));
      } catch (err) {
        clear(diffBox, errorBox(err));
      }
    } }, field("From version", from), field("To version", to), h("button", { type: "submit", class: "secondary" },
    "Show differences"));
  const el = card("Dataset versions", list, snapshotForm, msg, diffForm, diffBox);

  async function reload() {
    let versions;
    try {
      versions = await api("/datasets/versions");
    } catch (err) {
      clear(list, errorBox(err));
      return;
    }
    if (ctx.stale()) return;
    const newest = [...versions].reverse();
    clear(list, table({
      columns: [{ key: "id", label: "#" }, { key: "message", label: "Message" }, { key: "layer", label: "Layer" },
        { key: "n_samples", label: "Samples" },
        { label: "Labels", render: (v) => Object.entries(v.labels || {}).map(([l, n]) => `${l} ${n}`).join(", ") },
        { key: "author", label: "By" }, { label: "When", render: (v) => fmtTime(v.created_at) }],
      rows: newest.slice(0, 10), empty: "No versions yet: take a snapshot to record the samples.",
      caption: versions.length > 10 ? `the newest 10 of ${versions.length} versions` : "",
    }));
    const keep = (sel) => sel.value;
    const [f, t] = [keep(from), keep(to)];
    const opts = (chosen) => newest.map((v) => h("option", { value: v.id, selected: String(v.id) === chosen },
      `${v.id}: ${v.message.slice(0, 40)}`));
    clear(from, opts(f || String(newest.length > 1 ? newest[1].id : newest[0] ? newest[0].id : "")));
    clear(to, opts(t || String(newest[0] ? newest[0].id : "")));
    diffForm.style.display = versions.length === 0 ? "none" : "";  // .row's display beats [hidden]
  }

  return { el, reload };
}

function qualityPlots(box, report) {
  const scores = report.samples.map((s) => s.score);
  const codes = Object.keys(report.issue_counts);
  const labels = [...new Set(Object.values(report.label_counts).flatMap((m) => Object.keys(m)))].sort();
  const hist = h("div", { class: "plot", role: "img", "aria-label": "sample score distribution" });
  const issues = h("div", { class: "plot", role: "img", "aria-label": "issues by type" });
  const classes = h("div", { class: "plot", role: "img", "aria-label": "class balance" });
  box.append(h("div", { class: "grid" },
    h("div", {}, h("h3", {}, "Sample scores"), hist),
    h("div", {}, h("h3", {}, "Issues by type"), codes.length ? issues : empty("No sample has an issue.")),
    h("div", {}, h("h3", {}, "Class balance"), classes)));
  return Promise.all([
    plot(hist, [{ type: "histogram", x: scores, xbins: { start: 0, end: 100.01, size: 5 }, name: "samples" }],
      { xaxis: { title: { text: "score" }, range: [0, 101] }, yaxis: { title: { text: "samples" } } }),
    codes.length ? plot(issues, [{ type: "bar", orientation: "h", y: codes, x: codes.map((c) => report.issue_counts[c]) }],
      { margin: { l: 140, r: 20, t: 20, b: 40 }, xaxis: { title: { text: "samples" } } }) : null,
    plot(classes, ["training", "testing"].filter((c) => report.label_counts[c]).map((cat) => ({
      type: "bar", name: cat, x: labels.map((l) => l || "(unlabeled)"), y: labels.map((l) => report.label_counts[cat][l] || 0),
    })), { barmode: "stack", yaxis: { title: { text: "samples" } }, legend: { orientation: "h" } }),
  ]);
}

function reportView(report, open) {
  const box = h("div", { class: "quality-report" });
  box.append(h("div", { class: "kpis" },
    h("div", { class: "kpi" }, h("b", {}, fmtNum(report.score, 1)), "score"),
    h("div", { class: "kpi" }, h("b", {}, badge(report.tier, report.tier === "bronze" ? "bad" : "ok")), "tier"),
    h("div", { class: "kpi" }, h("b", {}, String(report.n_samples)), "samples"),
    h("div", { class: "kpi" }, h("b", {}, fmtNum(report.balance.ratio, 2)), "largest / smallest class"),
    h("div", { class: "kpi" }, h("b", {}, fmtNum(report.balance.entropy, 2)), "balance (1 = even)")));
  if (report.dataset_issues.length) {
    box.append(h("h3", {}, "Data set issues"), h("ul", {}, report.dataset_issues.map((i) =>
      h("li", {}, badge(i.severity, i.severity === "error" ? "bad" : "warn"), " ", i.message))));
  }
  const plots = qualityPlots(box, report);
  const flagged = report.samples.filter((s) => s.issues.length).sort((a, b) => a.score - b.score);
  box.append(h("h3", {}, "Samples with issues"), table({
    columns: [{ key: "name", label: "Sample" }, { key: "label", label: "Label" }, { key: "category", label: "Category" },
      { label: "Score", render: (s) => fmtNum(s.score, 0) },
      { label: "Issues", render: (s) => s.issues.map((i) => i.message).join("; ") }],
    rows: flagged.slice(0, 50), onRow: (s) => open(s.id), empty: "No sample has an issue.",
    caption: flagged.length > 50 ? `the 50 lowest of ${flagged.length} samples with issues` : "",
  }));
  return { box, plots };
}

// onReport(report) runs after the check (the sample table then filters by issue).
export function qualityCard(ctx, { onReport, open }) {
  const latest = h("div", {}, h("p", { class: "loading" }, "Loading the latest check…"));
  const out = h("div", {});
  const run = h("button", { type: "button", onclick: async () => {
    run.disabled = true;
    clear(out, h("p", { class: "loading", role: "status" }, "Checking every sample…"));
    try {
      const report = await api("/datasets/quality", { method: "POST", body: {} });
      if (ctx.stale()) return;
      const view = reportView(report, open);
      clear(out, view.box);
      if (onReport) onReport(report);
      await view.plots;
      await reload(true);
    } catch (err) {
      clear(out, errorBox(err));
    } finally {
      run.disabled = false;
    }
  } }, "Run the quality check");
  const el = card("Quality report", latest, h("div", { class: "row" }, run), out);

  async function reload(any = true) {
    if (!any) return clear(latest, h("p", { class: "muted" }, "No samples to check yet."));
    try {
      const q = await api("/datasets/quality/latest");
      if (ctx.stale()) return;
      clear(latest, h("dl", { class: "facts" },
        h("dt", {}, "Latest score"), h("dd", {}, `${fmtNum(q.score, 1)} `, badge(q.tier, q.tier === "bronze" ? "bad" : "ok")),
        h("dt", {}, "Checked"), h("dd", {}, `${fmtTime(q.at)} by ${q.actor} (${q.samples} samples)`),
        h("dt", {}, "Still current"), h("dd", {}, q.current ? "yes" : badge("no: the samples changed since", "warn"))));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        clear(latest, h("p", { class: "muted" }, "No quality check has been run yet."));
      } else clear(latest, errorBox(err));
    }
  }
  return { el, reload };
}

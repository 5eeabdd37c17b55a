// Data acquisition: the sample table (filters by label, category, name and quality issue; paging; bulk relabel
// or move), the per-sample viewer (?sample=REF), uploads through the Edge Impulse ingestion API, devices and
// recordings from them with their live signal (data_devices.js), the train/test balance per label, dataset
// versions (snapshot, diff) and the quality report. Only the controls the member's persona may use are shown
// (ingest-data: upload, record and snapshot; label-data: relabel and move).
import { api, card, clear, empty, errorBox, field, fmtNum, fmtTime, h, plot, table } from "../lib.js";
import { uploadCard } from "./data_upload.js";
import { qualityCard, versionsCard } from "./data_sets.js";
import { renderViewer } from "./data_viewer.js";
import { devicesCard } from "./data_devices.js";

const PAGE_SIZE = 20;
const ALL = "";
const UNLABELED = "\u0000unlabeled";  // the label filter's value for samples without a label

function option(value, text, selected) {
  return h("option", { value, selected: value === selected }, text);
}

// The train/test balance per label: a grouped bar chart from GET /data/summary.
function balanceCard() {
  const body = h("div", {}, h("p", { class: "muted" }, "Counting samples…"));
  const el = card("Train/test balance per label", body);
  return {
    el,
    show(summary) {
      if (summary.total === 0) return clear(body, empty("No samples yet: upload or ingest."));
      const labels = summary.labels.map((r) => r.label || "(unlabeled)");
      const chart = h("div", { class: "plot", "aria-label": "training and testing samples per label", role: "img" });
      const test = summary.categories.testing || 0;
      clear(body, h("p", { class: "muted" }, `${summary.total} samples: training ${summary.categories.training || 0}, `
        + `testing ${test} (${fmtNum((100 * test) / summary.total, 1)}% testing)`), chart);
      return plot(chart, ["training", "testing"].map((c) => ({
        type: "bar", name: c, x: labels, y: summary.labels.map((r) => r[c] || 0),
      })), { barmode: "group", yaxis: { title: { text: "samples" } }, legend: { orientation: "h" } })
        .catch((err) => clear(body, errorBox(err)));
    },
  };
}

export async function render(root, ctx) {
  const canLabel = ctx.can("label-data");
  const st = {
    label: ctx.params.get("label") || ALL, category: ctx.params.get("category") || ALL, search: ctx.params.get("q") || "",
    issue: ALL, offset: Math.max(0, Number(ctx.params.get("offset")) || 0), summary: null, quality: null, seq: 0,
  };
  const live = () => !ctx.stale();

  root.append(h("h1", {}, "Data acquisition"));
  const samplesBody = h("div", {}, h("p", { class: "loading" }, "Loading samples…"));
  const filters = h("div", { class: "row filters" });
  const bulk = h("div", { class: "row bulk" });
  const bulkMsg = h("div", { role: "status" });
  const viewerBox = h("div", { id: "sample-viewer" });
  const balance = balanceCard();
  root.append(card("Samples", filters, canLabel ? bulk : null, bulkMsg, samplesBody), viewerBox);
  if (ctx.can("ingest-data")) root.append(uploadCard(ctx, () => refresh()));
  root.append(devicesCard(ctx, { open: (ref) => openSample(ref), stored: () => refresh() }));
  root.append(balance.el);
  const versions = versionsCard(ctx, (ref) => openSample(ref));
  const quality = qualityCard(ctx, { onReport: (report) => { st.quality = report; drawFilters(); drawSamples(); },
    open: (ref) => openSample(ref) });
  root.append(versions.el, quality.el);

  // -- the URL keeps the filters and the open sample, so the back button and a shared link work ---------------
  function url(sample) {
    const q = new URLSearchParams();
    if (st.label) q.set("label", st.label);
    if (st.category) q.set("category", st.category);
    if (st.search) q.set("q", st.search);
    if (st.offset) q.set("offset", String(st.offset));
    if (sample) q.set("sample", sample);
    const s = q.toString();
    return `/data${s ? `?${s}` : ""}`;
  }
  const openRef = () => new URLSearchParams(window.location.search).get("sample");

  function openSample(ref) {
    if (openRef() !== ref) history.pushState({}, "", url(ref));
    renderViewer(viewerBox, ref, ctx, {
      onChange: () => refresh(),
      onClose: () => { history.pushState({}, "", url(null)); clear(viewerBox); },
    });
  }

  // -- filters and bulk actions --------------------------------------------------------------------------------
  function drawFilters() {
    const labels = st.summary ? st.summary.labels.map((r) => r.label) : [];
    const labelSel = h("select", { onchange: (ev) => { st.label = ev.target.value; st.offset = 0; changed(); } },
      option(ALL, "All labels", st.label),
      labels.map((l) => (l === "" ? option(UNLABELED, "(unlabeled)", st.label) : option(l, l, st.label))));
    const catSel = h("select", { onchange: (ev) => { st.category = ev.target.value; st.offset = 0; changed(); } },
      option(ALL, "Training and testing", st.category), option("training", "Training", st.category),
      option("testing", "Testing", st.category));
    const codes = st.quality ? Object.keys(st.quality.issue_counts) : [];
    const issueSel = h("select", { disabled: !st.quality,
      onchange: (ev) => { st.issue = ev.target.value; st.offset = 0; changed(); } },
    option(ALL, st.quality ? "Any (or none)" : "Run the quality check first", st.issue),
    codes.map((c) => option(c, `${c} (${st.quality.issue_counts[c]})`, st.issue)));
    let timer = null;
    const search = h("input", { type: "search", value: st.search, placeholder: "part of a name",
      oninput: (ev) => {
        clearTimeout(timer);
        timer = setTimeout(() => { st.search = ev.target.value.trim(); st.offset = 0; changed(); }, 250);
      } });
    clear(filters, field("Label", labelSel), field("Category", catSel), field("Quality issue", issueSel),
      field("Name contains", search));
  }

  function drawBulk(tbl) {
    if (!canLabel) return;
    const newLabel = h("input", { type: "text", maxlength: 256, placeholder: "new label" });
    const moveTo = h("select", {}, option("training", "Training", ""), option("testing", "Testing", ""));
    const run = async (change, what) => {
      const rows = tbl.selected();
      if (rows.length === 0) return clear(bulkMsg, errorBox("Select samples first (the check boxes in the table)."));
      try {
        const res = await api("/samples/label", { method: "POST", body: { samples: rows.map((r) => r.id), ...change } });
        const n = res.changes ? res.changes.length : rows.length;
        clear(bulkMsg, h("p", { class: "okmsg" }, `${what} ${n} of ${rows.length} selected sample(s).`));
        await refresh();
      } catch (err) {
        clear(bulkMsg, errorBox(err));
      }
    };
    clear(bulk,
      field("New label for the selected samples", newLabel),
      h("button", { type: "button", onclick: () => {
        const label = newLabel.value.trim();
        if (!label) return clear(bulkMsg, errorBox("Type the new label first."));
        return run({ label }, `Relabeled as ${label}:`);
      } }, "Relabel selected"),
      field("Move the selected samples to", moveTo),
      h("button", { type: "button", class: "secondary",
        onclick: () => run({ category: moveTo.value }, `Moved to ${moveTo.value}:`) }, "Move selected"));
  }

  // -- the table -----------------------------------------------------------------------------------------------
  async function fetchPage() {
    const labelOk = (l) => !st.label || (st.label === UNLABELED ? !l : l === st.label);
    if (st.issue && st.quality) {  // the quality report knows each sample's issues: filter and page it here
      const needle = st.search.toLowerCase();
      const rows = st.quality.samples.filter((s) => s.issues.some((i) => i.code === st.issue) && labelOk(s.label)
        && (!st.category || s.category === st.category) && (!needle || s.name.toLowerCase().includes(needle)));
      return { items: rows.slice(st.offset, st.offset + PAGE_SIZE), total: rows.length };
    }
    const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(st.offset) });
    if (st.label) q.set("label", st.label === UNLABELED ? "" : st.label);  // label= : the unlabeled samples
    if (st.category) q.set("category", st.category);
    if (st.search) q.set("search", st.search);
    return api(`/samples?${q}`);
  }

  async function drawSamples() {
    const seq = ++st.seq;
    let page;
    try {
      page = await fetchPage();
    } catch (err) {
      if (seq === st.seq && live()) clear(samplesBody, errorBox(err));
      return;
    }
    if (seq !== st.seq || !live()) return;
    if (page.total > 0 && st.offset >= page.total) {  // past the end (after a filter or a move): last page
      st.offset = Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE;
      return drawSamples();
    }
    history.replaceState({}, "", url(openRef()));
    const q = st.quality ? new Map(st.quality.samples.map((s) => [s.id, s])) : null;
    const columns = [
      { key: "name", label: "Name", render: (r) => h("a", { href: `/data?sample=${encodeURIComponent(r.id)}`,
        onclick: (ev) => {
          ev.stopPropagation();
          if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return;  // a new tab opens the sample there
          ev.preventDefault();
          openSample(r.id);
        } }, r.name) },
      { key: "label", label: "Label", render: (r) => r.label ?? h("span", { class: "muted" }, "(unlabeled)") },
      { key: "category", label: "Category" },
      { key: "kind", label: "Kind" },
      { label: "Length", render: (r) => (r.length ?? (r.shape ? r.shape[0] : "")) },
      { label: "Added", render: (r) => fmtTime(r.created_at) },
    ];
    if (q) columns.push({ label: "Quality", render: (r) => {
      const s = q.get(r.id);
      return s ? `${fmtNum(s.score, 0)}${s.issues.length ? ` · ${s.issues.map((i) => i.code).join(", ")}` : ""}` : "";
    } });
    const none = st.summary && st.summary.total === 0;
    const tbl = table({ columns, rows: page.items, selectable: canLabel, onRow: (r) => openSample(r.id),
      empty: none ? "No samples yet: upload or ingest." : "No samples match these filters.",
      caption: "Select a row to open the sample." });
    drawBulk(tbl);
    const last = Math.max(0, Math.ceil(page.total / PAGE_SIZE) - 1);
    const at = Math.floor(st.offset / PAGE_SIZE);
    const go = (offset) => { st.offset = offset; drawSamples(); };
    const pager = page.total > 0 ? h("nav", { class: "pager", "aria-label": "sample pages" },
      h("button", { type: "button", class: "secondary", disabled: at === 0, onclick: () => go(st.offset - PAGE_SIZE) },
        "Previous"),
      h("span", { role: "status" }, `Samples ${st.offset + 1}–${st.offset + page.items.length} of ${page.total}`,
        ` · page ${at + 1} of ${last + 1}`),
      h("button", { type: "button", class: "secondary", disabled: at >= last, onclick: () => go(st.offset + PAGE_SIZE) },
        "Next")) : null;
    clear(samplesBody, tbl, pager);
  }

  function changed() {
    clear(bulkMsg);
    drawSamples();
  }

  async function loadSummary() {
    try {
      st.summary = await api("/data/summary");
    } catch (err) {
      clear(samplesBody, errorBox(err));
      return;
    }
    if (!live()) return;
    drawFilters();
    balance.show(st.summary);  // the chart draws in the background (Plotly's first load takes a while)
  }

  async function refresh() {
    await loadSummary();
    if (!live()) return;
    await Promise.all([drawSamples(), versions.reload(), quality.reload(st.summary && st.summary.total > 0)]);
  }

  // the page's frame is drawn; its cards fill in the background (each shows its own errors), so the shell's
  // navigation is ready at once
  drawFilters();
  await loadSummary();
  if (!live()) return;
  drawSamples();
  versions.reload();
  quality.reload(st.summary && st.summary.total > 0);
  if (openRef()) openSample(openRef());
}

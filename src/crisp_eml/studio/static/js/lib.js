// Shared helpers for every Studio page: API calls (session cookie + CSRF token), DOM building, tables,
// empty states, plots (Plotly served by the server), and background jobs watched over Server-Sent Events.

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

// Call the REST API. `path` starts with "/" and is relative to /api/v1 unless it starts with "/api/" or
// "/login"/"/logout". `body` is sent as JSON, `form` (a FormData) as multipart. Returns parsed JSON (or the
// Response when `raw` is true); throws ApiError with the server's {"error": {code, message, field}}.
export async function api(path, { method = "GET", body, form, headers = {}, raw = false, query } = {}) {
  let url = path.startsWith("/api/") || path.startsWith("/log") ? path : `/api/v1${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === "") continue;
      for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
    }
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const h = { Accept: "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = cookie("eml_csrf");
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h["Content-Type"] = "application/json";
  }
  const resp = await fetch(url, { method, headers: h, body: payload, credentials: "same-origin" });
  if (resp.status === 401 && !path.startsWith("/log")) {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
    throw new ApiError(401, "unauthorized", "signed out: sign in again", null);
  }
  if (!resp.ok) {
    let err = { code: "http", message: `${resp.status} ${resp.statusText}`, field: null };
    try {
      const j = await resp.json();
      if (j && j.error && typeof j.error === "object") err = { ...err, ...j.error };
      else if (j && typeof j.error === "string") err.message = j.error;
      else if (j && j.detail) err.message = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
    } catch (_) { /* not JSON */ }
    throw new ApiError(resp.status, err.code, err.message, err.field);
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  const type = resp.headers.get("content-type") || "";
  return type.includes("json") ? resp.json() : resp.text();
}

// h("div", {class: "card", onclick: fn}, "text", child, [more]) builds an element. Attributes starting with
// "on" become listeners; `false`/null/undefined attributes and children are skipped.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" && "value" in el) el.value = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const card = (title, ...children) => h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
export const empty = (text) => h("p", { class: "empty" }, text);
export const badge = (text, kind) => h("span", { class: `badge ${kind || String(text).toLowerCase()}` }, String(text));
export const loading = (text = "Loading…") => h("p", { class: "loading" }, text);

export function errorBox(err) {
  const msg = err instanceof ApiError
    ? `${err.message}${err.field ? ` (field: ${err.field})` : ""}${err.status ? ` [${err.status}]` : ""}`
    : String(err && err.message ? err.message : err);
  return h("p", { class: "error", role: "alert" }, msg);
}

// A labelled form control: field("Label", h("input", {...})) gives the input an id and its label a for=.
let fieldSeq = 0;
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
    hint ? h("small", { class: "muted" }, hint) : null);
}

// table({columns: [{key, label, render?(row)}], rows, empty: "text", onRow?(row), selectable?, caption?})
// Rows with onRow are keyboard reachable (Enter/Space). With selectable, the first column is a checkbox
// and `table.selected()` returns the selected rows.
export function table({ columns, rows, empty: emptyText = "Nothing yet.", onRow, selectable = false, caption,
                        rowClass }) {
  if (!rows || rows.length === 0) {
    const e = empty(emptyText);
    e.selected = () => [];
    return e;
  }
  const chosen = new Set();
  const head = h("tr", {}, selectable ? h("th", { scope: "col" }, h("span", { class: "skip" }, "Select")) : null,
    columns.map((c) => h("th", { scope: "col" }, c.label)));
  const body = rows.map((row, i) => {
    const cells = columns.map((c) => {
      const v = c.render ? c.render(row) : row[c.key];
      return h("td", {}, v === null || v === undefined ? "" : v);
    });
    const tr = h("tr", { class: [onRow ? "clickable" : "", rowClass ? rowClass(row) : ""].join(" ").trim() || false });
    if (selectable) {
      const box = h("input", { type: "checkbox", "aria-label": `select row ${i + 1}`,
        onchange: (ev) => { ev.target.checked ? chosen.add(row) : chosen.delete(row); tr.classList.toggle("selected", ev.target.checked); },
        onclick: (ev) => ev.stopPropagation() });
      tr.append(h("td", {}, box));
    }
    tr.append(...cells);
    if (onRow) {
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onRow(row));
      tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onRow(row); } });
    }
    return tr;
  });
  const t = h("table", {}, caption ? h("caption", { class: "muted" }, caption) : null, h("thead", {}, head), h("tbody", {}, body));
  const wrap = h("div", { class: "table-wrap" }, t);
  wrap.selected = () => rows.filter((r) => chosen.has(r));
  return wrap;
}

// Plotly, loaded once from /static/vendor/plotly.min.js (served from the installed plotly package).
let plotlyLoading = null;
function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/static/vendor/plotly.min.js";
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => reject(new Error("could not load plotly.min.js"));
      document.head.append(s);
    });
  }
  return plotlyLoading;
}

// plot(el, traces, layout): a responsive Plotly chart in `el` (which keeps its min-height while loading).
export async function plot(el, traces, layout = {}, config = {}) {
  el.classList.add("plot");
  const P = await plotly();
  await P.react(el, traces, { margin: { l: 50, r: 20, t: 30, b: 40 }, autosize: true, ...layout },
    { responsive: true, displaylogo: false, ...config });
  return el;
}

// Start watching a background job: calls on.progress(data), on.log(data), on.status(data) for its
// Server-Sent Events and resolves with the final status data ({status, error?, result?}).
function watchJob(jobId, on = {}) {
  return new Promise((resolve) => {
    const es = new EventSource(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
    const final = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
    for (const kind of ["progress", "log", "status"]) {
      es.addEventListener(kind, (ev) => {
        const data = JSON.parse(ev.data);
        if (on[kind]) on[kind](data);
        if (kind === "status" && final.has(data.status)) {
          es.close();
          resolve(data);
        }
      });
    }
    es.onerror = async () => {  // the stream ended or broke: read the job's state instead
      if (es.readyState === EventSource.CLOSED) {
        try {
          const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
          if (final.has(job.status)) resolve(job);
        } catch (_) { /* shown by the caller's own checks */ }
      }
    };
  });
}

// A progress bar + message for a job; returns {el, update(data), done(status)}.
function jobProgress(label = "Job") {
  const bar = h("progress", { max: 1, value: 0, "aria-label": `${label} progress` });
  const msg = h("span", { class: "muted" }, "queued");
  const el = h("div", { class: "job-progress", role: "status" }, h("strong", {}, label, " "), msg, bar);
  return {
    el,
    update(d) {
      if (d.total) bar.value = Math.min(1, d.done / d.total);
      if (d.message) msg.textContent = d.message;
    },
    done(d) {
      bar.value = d.status === "succeeded" ? 1 : bar.value;
      msg.textContent = d.status + (d.error ? `: ${d.error.message || d.error}` : "");
      msg.className = d.status === "succeeded" ? "" : "error";
    },
  };
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export function fmtNum(x, digits = 3) {
  if (x === null || x === undefined || x === "") return "";
  return typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : String(x);
}

export function fmtTime(iso) {
  if (!iso) return "";
  return String(iso).replace("T", " ").slice(0, 19);
}

// Save a Response (or Blob) as a download with the given file name.
export async function download(respOrBlob, name) {
  const blob = respOrBlob instanceof Blob ? respOrBlob : await respOrBlob.blob();
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

// Run a background job from a button: disable the button, show a progress bar (then `extra` elements) in `box`,
// follow the job's events (onProgress(data) for each progress event), and return the finished job as
// GET /jobs/{id} has it ({status, result, error}); null when it could not be started (the error is shown).
export async function runJob({ button, box, label, start, onProgress, extra = [] }) {
  if (button) button.disabled = true;
  const prog = jobProgress(label);
  clear(box, prog.el, extra);
  try {
    const job = await start();
    const final = await watchJob(job.id, {
      progress: (d) => { prog.update(d); if (onProgress) onProgress(d); },
      log: (d) => { if (d.line) prog.update({ message: d.line }); },
    });
    prog.done(final);
    return await api(`/jobs/${encodeURIComponent(job.id)}`);
  } catch (err) {
    box.append(errorBox(err));
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

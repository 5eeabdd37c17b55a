// Business & evaluation: the requirements (KPIs) with their versions, editing them (a new audited version per
// change), picking and comparing target devices for the current model, and running the acceptance gate.
import {
  api, badge, card, clear, empty, errorBox, field, fmtBytes, fmtNum, fmtTime, h, loading, plot, runJob, table
} from "../lib.js";

// The KPIs the server knows (crisp_eml/core/requirements.py): direction, unit and what they measure.
const KPIS = {
  min_accuracy: ["min", "ratio", "test accuracy of the int8 model (0 to 1)"],
  min_f1: ["min", "ratio", "macro F1 of the int8 model (0 to 1)"],
  max_false_accept_rate: ["max", "ratio", "false-accept rate (0 to 1)"],
  max_false_reject_rate: ["max", "ratio", "false-reject rate (0 to 1)"],
  max_int8_accuracy_drop: ["max", "ratio", "accuracy lost by quantisation (0 to 1)"],
  max_false_accepts_per_hour: ["max", "per_hour", "false accepts per hour on a long stream ('eml calibrate')"],
  max_stream_false_reject_rate: ["max", "ratio", "events missed on a long stream ('eml calibrate', 0 to 1)"],
  max_latency_ms: ["max", "ms", "inference latency on the target, in ms"],
  max_ram_bytes: ["max", "bytes", "RAM of the compiled library: bytes, or 64k / 1.5m"],
  max_flash_bytes: ["max", "bytes", "flash of the compiled library: bytes, or 64k / 1.5m"],
  min_quality_score: ["min", "score", "dataset quality score (0 to 100)"],
  min_samples_per_class: ["min", "count", "fewest samples of any class"],
};
const SIZE = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i;

function kpiInfo(name) {
  return KPIS[name.split(".")[0]] || ["", "", ""];
}

// The value to send for a KPI typed as text, or throws an Error naming what is wrong.
export function parseKpi(name, text) {
  const [, unit] = kpiInfo(name);
  const t = String(text).trim();
  if (t === "") throw new Error("enter a value");
  if (unit === "bytes") {
    const m = SIZE.exec(t);
    if (!m) throw new Error("a size: bytes, or a number with k or m (64k)");
    return m[2] ? t : Number(m[1]);
  }
  const x = Number(t);
  if (!Number.isFinite(x) || x < 0) throw new Error("a number of at least 0");
  if (unit === "ratio" && x > 1) throw new Error("a ratio between 0 and 1");
  if (unit === "score" && x > 100) throw new Error("a score between 0 and 100");
  if (unit === "count" && !Number.isInteger(x)) throw new Error("a whole number");
  return x;
}

function fmtKpi(name, v) {
  if (v === null || v === undefined) return "—";
  return kpiInfo(name)[1] === "bytes" && typeof v === "number" ? `${fmtBytes(v)} (${v})` : fmtNum(v);
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Business & evaluation"));
  const slots = {
    reqs: card("Requirements", loading()),
    history: card("Requirement versions", loading()),
    targets: card("Target devices", loading()),
    gate: card("Evaluation: acceptance gate", loading()),
  };
  root.append(slots.reqs, slots.history, slots.targets, slots.gate);
  const state = { catalog: [], models: [] };
  const message = h("input", { type: "text", maxlength: 2000, placeholder: "why this change (kept in the audit trail)" });

  async function save(changes, status) {
    clear(status, loading("Saving…"));
    try {
      const got = await api("/requirements", { method: "PUT", body: { changes, message: message.value } });
      message.value = "";
      await refresh();
      clear(status, h("p", { class: "okmsg", role: "status" }, `Saved as requirements v${got.version}.`));
    } catch (err) {
      clear(status, errorBox(err));
    }
  }

  function kpiForm(name, value, status) {
    const input = h("input", { type: "text", value: String(value), name, "aria-describedby": `hint-${name}` });
    const problem = h("small", { class: "muted", id: `hint-${name}`, "aria-live": "polite" }, kpiInfo(name)[2]);
    const form = h("form", { class: "kpi-form row", "data-kpi": name, novalidate: true },
      field(name, input),
      h("button", { type: "submit", "aria-label": `Save ${name}` }, "Save"),
      h("button", { type: "button", class: "secondary", "aria-label": `Remove ${name}`,
        onclick: () => save({ [name]: null }, status) }, "Remove"),
      problem);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      try {
        const v = parseKpi(name, input.value);
        input.removeAttribute("aria-invalid");
        problem.className = "muted";
        problem.textContent = kpiInfo(name)[2];
        save({ [name]: v }, status);
      } catch (err) {
        input.setAttribute("aria-invalid", "true");
        problem.className = "error-text";
        problem.textContent = `${name}: ${err.message}`;
        input.focus();
      }
    });
    return form;
  }

  function addForm(reqs, status) {
    const free = Object.keys(KPIS).filter((k) => !(k in reqs.kpis));
    const select = h("select", {}, free.map((k) => h("option", { value: k }, k)));
    const input = h("input", { type: "text", placeholder: "threshold" });
    const problem = h("small", { class: "muted", "aria-live": "polite" });
    const form = h("form", { class: "row", novalidate: true }, field("New KPI", select), field("Threshold", input),
      h("button", { type: "submit" }, "Add KPI"), problem);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      try {
        save({ [select.value]: parseKpi(select.value, input.value) }, status);
      } catch (err) {
        input.setAttribute("aria-invalid", "true");
        problem.className = "error-text";
        problem.textContent = `${select.value}: ${err.message}`;
      }
    });
    return free.length ? form : null;
  }

  const reqStatus = h("div", { "aria-live": "polite" });  // kept across re-renders: says what the last save did
  function renderReqs(reqs) {
    const status = reqStatus;
    const editable = ctx.can("set-requirements");
    const kpis = Object.entries(reqs.kpis);
    clear(slots.reqs, h("h2", {}, "Requirements"),
      reqs.version === 0
        ? empty(editable ? "No requirements yet: add the first KPI below." : "No requirements yet: a business "
          + "leader or domain expert sets them.")
        : h("dl", { class: "facts", "data-testid": "requirements-facts" },
          h("dt", {}, "Version"), h("dd", {}, `v${reqs.version}`),
          h("dt", {}, "Target"), h("dd", {}, reqs.target || "none"),
          h("dt", {}, "Author"), h("dd", {}, `${reqs.author || ""} · ${fmtTime(reqs.at)}`),
          reqs.message ? [h("dt", {}, "Message"), h("dd", {}, reqs.message)] : null),
      kpis.length ? table({
        caption: `KPIs of requirements v${reqs.version}`,
        columns: [{ key: "kpi", label: "KPI" }, { label: "Threshold", render: (r) => fmtKpi(r.kpi, r.value) },
          { label: "Meaning", render: (r) => `${kpiInfo(r.kpi)[0] === "min" ? "at least" : "at most"}: ${kpiInfo(r.kpi)[2]}` }],
        rows: kpis.map(([kpi, value]) => ({ kpi, value })),
      }) : null,
      editable ? h("div", { class: "req-edit" }, h("h3", {}, "Change requirements"),
        field("Change message", message, "Saved with the new version and in the audit trail."),
        kpis.map(([k, v]) => kpiForm(k, v, status)), addForm(reqs, status), status) : null);
  }

  function renderHistory(versions) {
    if (versions.length === 0) {
      clear(slots.history, h("h2", {}, "Requirement versions"), empty("No versions yet."));
      return;
    }
    const opts = (sel) => versions.map((v) => h("option", { value: v.version, selected: v.version === sel }, `v${v.version}`));
    const last = versions[versions.length - 1].version;
    const from = h("select", {}, opts(Math.max(1, last - 1)));
    const to = h("select", {}, opts(last));
    const diff = h("div", { class: "req-diff" });
    const show = () => {
      const a = versions.find((v) => v.version === Number(from.value));
      const b = versions.find((v) => v.version === Number(to.value));
      const keys = [...new Set(["target", ...Object.keys(a.kpis), ...Object.keys(b.kpis)])].sort();
      const val = (s, k) => (k === "target" ? s.target : s.kpis[k]);
      const rows = keys.map((k) => {
        const x = val(a, k); const y = val(b, k);
        const change = x === undefined || x === null ? (y === undefined || y === null ? "same" : "added")
          : y === undefined || y === null ? "removed" : x === y ? "same" : "changed";
        return { k, x, y, change };
      });
      clear(diff, table({
        caption: `v${a.version} → v${b.version}`,
        columns: [{ key: "k", label: "KPI" }, { label: `v${a.version}`, render: (r) => fmtKpi(r.k, r.x) },
          { label: `v${b.version}`, render: (r) => fmtKpi(r.k, r.y) },
          { label: "Change", render: (r) => badge(r.change, r.change === "same" ? "" : "warn") }],
        rows, rowClass: (r) => (r.change === "same" ? "" : "changed"),
      }));
    };
    from.addEventListener("change", show);
    to.addEventListener("change", show);
    clear(slots.history, h("h2", {}, "Requirement versions"),
      table({
        columns: [{ label: "Version", render: (v) => `v${v.version}` }, { label: "When", render: (v) => fmtTime(v.at) },
          { key: "author", label: "Author" }, { key: "target", label: "Target" },
          { label: "KPIs", render: (v) => Object.keys(v.kpis).length }, { key: "message", label: "Message" }],
        rows: [...versions].reverse(),
      }),
      h("h3", {}, "Compare versions"),
      h("div", { class: "row" }, field("From version", from), field("To version", to)), diff);
    show();
  }

  const targetStatus = h("div", { "aria-live": "polite" });  // kept across re-renders: the last profile job
  async function renderTargets(reqs, cmp) {
    const status = targetStatus;
    const model = cmp.model;
    const canCompile = ctx.can("compile");
    const canSet = ctx.can("set-requirements");
    const rows = cmp.targets.map((t) => ({ ...t.target, profile: t.profile }));
    const fitBadge = (ok) => (ok === null || ok === undefined ? "" : badge(ok ? "fits" : "too big", ok ? "ok" : "bad"));
    async function profileOn(t, button) {
      const done = await runJob({ button, box: status, label: `Profile on ${t.id}`,
        start: () => api("/profile", { method: "POST", body: { source: model, target: t.id } }) });
      if (done && done.status === "succeeded" && !ctx.stale()) await renderTargets(reqs, await api("/targets/compare"));
    }
    async function useTarget(t) {
      try {
        await api("/requirements", { method: "PUT", body: { changes: { target: t.id }, message: `target: ${t.id}` } });
        await refresh();
      } catch (err) {
        clear(status, errorBox(err));
      }
    }
    const chart = h("div", { class: "plot", role: "img",
      "aria-label": "RAM and flash of the current model per target against the requirement limits" });
    const profiled = rows.filter((r) => r.profile);
    clear(slots.targets, h("h2", {}, "Target devices"),
      h("p", { class: "muted" }, model
        ? `Current model ${model}${cmp.aliases.length ? ` (${cmp.aliases.join(", ")})` : " (newest version)"}: `
          + "figures from its latest profile on each target."
        : "No model registered yet: train and register one to compare targets."),
      table({
        caption: "Catalog targets and the current model on them",
        columns: [
          { label: "Target", render: (r) => h("span", {}, h("strong", {}, r.id), r.id === reqs.target ? [" ", badge("required", "ok")] : null,
            h("br"), h("small", { class: "muted" }, r.name)) },
          { label: "Device RAM", render: (r) => (r.kind === "linux" ? "host" : fmtBytes(r.ram_bytes)) },
          { label: "Device flash", render: (r) => (r.kind === "linux" ? "host" : fmtBytes(r.flash_bytes)) },
          { label: "Model RAM", render: (r) => (r.profile ? h("span", {}, fmtBytes(r.profile.ram_bytes), " ", fitBadge(r.profile.fits.ram)) : h("span", { class: "muted" }, "not profiled")) },
          { label: "Model flash", render: (r) => (r.profile ? h("span", {}, fmtBytes(r.profile.flash_bytes), " ", fitBadge(r.profile.fits.flash)) : "") },
          { label: "Latency", render: (r) => (r.profile && r.profile.latency_ms !== null ? `${fmtNum(r.profile.latency_ms)} ms` : "") },
          { label: "Actions", render: (r) => h("span", { class: "row" },
            canSet && r.id !== reqs.target ? h("button", { type: "button", class: "secondary", "aria-label": `Use ${r.id} as the target`,
              onclick: () => useTarget(r) }, "Use as target") : null,
            canCompile && model ? h("button", { type: "button", class: "secondary", "aria-label": `Profile on ${r.id}`,
              onclick: (ev) => profileOn(r, ev.currentTarget) }, "Profile on this target") : null) },
        ],
        rows, rowClass: (r) => (r.id === reqs.target ? "required-target" : ""),
      }),
      status,
      profiled.length ? chart : empty(model ? "Not profiled on any target yet"
        + (canCompile ? ": use “Profile on this target”." : ": an embedded developer or ML ops member profiles it.") : "No model yet."));
    if (profiled.length) {
      const x = profiled.map((r) => r.id);
      const traces = [
        { type: "bar", name: "RAM", x, y: profiled.map((r) => r.profile.ram_bytes) },
        { type: "bar", name: "Flash", x, y: profiled.map((r) => r.profile.flash_bytes) },
      ];
      const shapes = [];
      for (const [key, label, color] of [["max_ram_bytes", "RAM limit", "#b42318"], ["max_flash_bytes", "flash limit", "#9a6700"]]) {
        if (typeof cmp.limits[key] !== "number") continue;
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: cmp.limits[key], y1: cmp.limits[key],
          line: { color, dash: "dash", width: 2 } });
        traces.push({ type: "scatter", mode: "lines", name: `${label} ${fmtBytes(cmp.limits[key])}`, x, hoverinfo: "name",
          y: x.map(() => cmp.limits[key]), line: { color, dash: "dash" } });
      }
      await plot(chart, traces, { barmode: "group", yaxis: { title: { text: "bytes" }, rangemode: "tozero" }, height: 340 });
    }
  }

  function renderGateResult(box, g) {
    clear(box,
      h("p", { class: g.passed ? "okmsg" : "error", role: "status", "data-testid": "gate-verdict" },
        `Gate #${g.id} for ${g.model} on ${g.target || "no target"} (requirements v${g.requirements_version}): `,
        h("strong", {}, g.passed ? "PASSED" : `FAILED (${g.failed.join(", ")})`), ` · ${g.actor} ${fmtTime(g.at)}`),
      table({
        caption: "Each requirement against the measured evidence",
        columns: [{ key: "requirement", label: "Requirement" },
          { label: "Threshold", render: (r) => `${r.direction === "min" ? "≥" : "≤"} ${fmtKpi(r.requirement, r.threshold)}` },
          { label: "Measured", render: (r) => (r.measured === null || r.measured === undefined ? "not measured" : fmtKpi(r.requirement, r.measured)) },
          { label: "Result", render: (r) => badge(r.passed ? "pass" : "fail") },
          { label: "Evidence", render: (r) => h("small", {}, r.source || "", r.note ? ` (${r.note})` : "") }],
        rows: g.rows, rowClass: (r) => (r.passed ? "gate-pass" : "gate-fail"),
      }));
  }

  async function renderGate(reqs, current) {
    const models = state.models;
    const result = h("div", { class: "gate-result", "aria-live": "polite" });
    const modelSel = h("select", {}, models.map((m) => h("option", { value: m.uri, selected: m.uri === current },
      `${m.uri}${m.aliases.length ? ` (${m.aliases.join(", ")})` : ""}`)));
    const targetSel = h("select", {}, h("option", { value: "" }, `requirements' target (${reqs.target || "none"})`),
      state.catalog.map((t) => h("option", { value: t.id }, t.id)));
    const showLatest = async () => {
      const gates = await api("/gates", { query: { model: modelSel.value } });
      if (ctx.stale()) return;
      if (gates.length) renderGateResult(result, gates[gates.length - 1]);
      else clear(result, empty("No gate result for this model yet."));
    };
    const run = h("button", { type: "submit" }, "Run gate");
    const form = h("form", { class: "row" }, field("Model", modelSel), field("Target", targetSel),
      ctx.can("approve-gate") ? run : null);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      run.disabled = true;
      clear(result, loading("Evaluating the gate…"));
      try {
        const g = await api("/gates", { method: "POST", body: { model: modelSel.value, target: targetSel.value || null } });
        renderGateResult(result, g);
      } catch (err) {
        clear(result, errorBox(err));
      } finally {
        run.disabled = false;
      }
    });
    modelSel.addEventListener("change", () => showLatest().catch((err) => clear(result, errorBox(err))));
    clear(slots.gate, h("h2", {}, "Evaluation: acceptance gate"),
      models.length === 0 ? empty("No model registered yet: nothing to evaluate.") : [
        h("p", { class: "muted" }, ctx.can("approve-gate")
          ? "Check a model version against every requirement; the result is stored and audited."
          : "Members who may approve gates run it; you see the latest result."),
        form, result]);
    if (models.length) await showLatest();
  }

  async function refresh() {
    const [reqs, versions, cmp] = await Promise.all([api("/requirements"), api("/requirements/history"),
      api("/targets/compare")]);
    if (ctx.stale()) return;
    renderReqs(reqs);
    renderHistory(versions);
    await Promise.all([
      renderTargets(reqs, cmp).catch((err) => clear(slots.targets, h("h2", {}, "Target devices"), errorBox(err))),
      renderGate(reqs, cmp.model).catch((err) => clear(slots.gate, h("h2", {}, "Evaluation: acceptance gate"), errorBox(err))),
    ]);
  }

  try {
    const [catalog, models] = await Promise.all([api("/targets"), api("/models")]);
    state.catalog = catalog;
    state.models = [...models].sort((a, b) => (b.aliases.length - a.aliases.length) || b.version - a.version);
    await refresh();
  } catch (err) {
    root.append(errorBox(err));
  }
}

// Development & testing (the embedded developer's page): compile a registered model to C and verify it bit-exact
// against TensorFlow Lite Micro, profile it on a catalog target (both as background jobs), the library's RAM,
// flash and latency per target next to TFLite Micro's arena, the acceptance gate row by row with its evidence,
// and the downloads: the C library as a .zip and the signed bundle.
import {
  api, badge, card, clear, download, empty, errorBox, field, fmtBytes, fmtNum, fmtTime, h, loading, plot, runJob,
  table
} from "../lib.js";

// One choice per registered model version: its URI (models:/NAME/VERSION, never a moving alias) and the sha256
// of its int8 model, which compile and profile results record.
function versions(models) {
  return models.map((m) => {
    const sha = Object.entries(m.artifacts || {}).find(([k]) => k.includes("int8") && k.endsWith(".tflite"));
    const aliases = (m.aliases || []).length ? ` (${m.aliases.join(", ")})` : "";
    return { uri: `models:/${m.name}/${m.version}`, name: m.name, version: m.version, sha: sha ? sha[1] : null,
             label: `${m.name} v${m.version}${aliases}` };
  });
}

function ofModel(results, v) {
  return results.filter((r) => (v.sha && r.model_sha256 ? r.model_sha256 === v.sha
    : String(r.model || r.source || "") === v.uri));
}

// The verification that checked each compile: the first one of the same library after it (before a recompile).
function verifiedBy(compiles, verifications) {
  const out = new Map();
  const asc = [...compiles].sort((a, b) => a.id - b.id);
  for (const v of [...verifications].sort((a, b) => a.id - b.id)) {
    const c = asc.filter((x) => x.library === v.library && x.id < v.id).pop();
    if (c && !out.has(c.id)) out.set(c.id, v);
  }
  return out;
}

function checksList(checks) {
  const entries = Array.isArray(checks) ? checks.map((c) => [c.name, c.identical]) : Object.entries(checks || {});
  return h("ul", { class: "checks" }, entries.map(([name, ok]) => h("li", {}, badge(ok ? "identical" : "differs",
    ok ? "ok" : "bad"), " ", name)));
}

async function saveZip(id, note) {
  clear(note);
  try {
    const resp = await api(`/compiles/${id}/library.zip`, { raw: true });
    const name = /filename="([^"]+)"/.exec(resp.headers.get("content-disposition") || "");
    await download(resp, name ? name[1] : `library-${id}.zip`);
  } catch (err) {
    note.append(errorBox(err));
  }
}

function zipButton(id, note, label = "Download C library (.zip)") {
  return h("button", { type: "button", class: "secondary", onclick: () => saveZip(id, note) }, label);
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Development & testing"));
  const canCompile = ctx.can("compile");
  const [models, targets, reqs] = await Promise.all([
    api("/models"), api("/targets").catch(() => []), api("/requirements").catch(() => null)]);
  const choices = versions(models);
  if (choices.length === 0) {
    root.append(card("Model", empty("No registered model yet: train one and register it on Training.")));
    return;
  }
  const preferred = models.find((m) => (m.aliases || []).includes("production")) || models[models.length - 1];
  const start = ctx.params.get("model") || `models:/${preferred.name}/${preferred.version}`;
  const modelSel = h("select", { name: "model" }, choices.map((c) => h("option", { value: c.uri, selected: c.uri === start }, c.label)));
  root.append(h("div", { class: "row" }, field("Model version", modelSel,
    "compile, profile, figures and gate below are for this version")));

  const jobsBox = h("div", { class: "grid" });
  const figures = card("RAM, flash and latency per target vs TensorFlow Lite Micro", loading());
  const libs = card("Compiled C libraries", loading());
  const gateCard = card("Acceptance gate", loading());
  const bundles = card("Signed bundles", loading());
  root.append(jobsBox, figures, libs, gateCard, bundles);
  const current = () => choices.find((c) => c.uri === modelSel.value) || choices[0];

  async function refresh() {
    const v = current();
    const [compiles, verifs, profiles, gates, bundleList] = await Promise.all([
      api("/compiles", { query: { limit: 1000 } }), api("/verifications", { query: { limit: 1000 } }),
      api("/profiles", { query: { limit: 1000 } }), api("/gates"), api("/bundles", { query: { limit: 1000 } })]);
    if (ctx.stale()) return;
    renderFigures(figures, ofModel(profiles.results, v), targets);
    renderLibraries(libs, ofModel(compiles.results, v), verifiedBy(compiles.results, verifs.results));
    await renderGate(gateCard, gates.filter((g) => g.name === v.name && g.version === v.version));
    renderBundles(bundles, bundleList.results.filter((b) => b.model === v.uri || (v.sha && b.model_sha256 === v.sha)),
      v, ctx, targets, reqs, refresh);
  }

  if (canCompile) {
    jobsBox.append(compileCard(current, refresh), profileCard(current, targets, reqs, refresh));
  } else {
    jobsBox.append(card("Compile, verify and profile", h("p", { class: "muted" },
      `Compiling and profiling need the compile permission (embedded developers, devops/MLOps, ML platform `
      + `developers); you are ${ctx.me.persona}. The results below are read-only.`)));
  }
  modelSel.addEventListener("change", () => {
    for (const c of [figures, libs, gateCard, bundles]) clear(c, c.firstChild, loading());
    refresh().catch((err) => figures.append(errorBox(err)));
  });
  await refresh();
}

function compileCard(current, refresh) {
  const verify = h("input", { type: "checkbox", checked: true });
  const m4 = h("input", { type: "checkbox" });
  const vectors = h("input", { type: "number", min: 0, max: 10000, value: 8, inputmode: "numeric" });
  const out = h("div", { "aria-live": "polite" });
  const go = h("button", { type: "button" }, "Compile");
  go.addEventListener("click", async () => {
    const v = current();
    const body = { model: v.uri, vectors: Number(vectors.value || 0), verify: verify.checked };
    if (verify.checked && m4.checked) body.target = "cortex-m4";
    const done = await runJob({ button: go, box: out, label: verify.checked ? "Compile and verify" : "Compile",
      start: () => api("/compile", { method: "POST", body }) });
    try {
      if (done && done.status === "succeeded" && done.result) {
        const c = done.result.compile;
        const ver = done.result.verify;
        const compiles = await api("/compiles", { query: { model: v.uri, limit: 1 } });
        const rid = compiles.results.length && compiles.results[0].out_dir === c.out_dir ? compiles.results[0].id : null;
        const note = h("div");
        out.append(h("dl", { class: "facts" },
          h("dt", {}, "Library"), h("dd", {}, c.name),
          h("dt", {}, "Arena"), h("dd", {}, fmtBytes(c.arena_bytes)),
          h("dt", {}, "RAM (arena + state)"), h("dd", {}, fmtBytes(c.ram_bytes)),
          h("dt", {}, "Weights"), h("dd", {}, fmtBytes(c.weights_bytes)),
          h("dt", {}, "Ops"), h("dd", {}, c.ops.join(", ")),
          h("dt", {}, "Verification"), h("dd", {}, ver
            ? [ver.ok ? badge("Verified bit-exact against TFLite Micro", "ok") : badge("Outputs differ", "bad"),
              checksList(ver.checks)]
            : h("span", { class: "muted" }, "not verified"))),
        rid ? h("p", { class: "row" }, zipButton(rid, note)) : null, note);
      }
      if (done) await refresh();
    } catch (err) {
      out.append(errorBox(err));
    }
  });
  return card("Compile and verify",
    h("p", { class: "muted" }, "Compile the model to a dependency-free C99 library and check its outputs byte for "
      + "byte against the TensorFlow Lite Micro interpreter."),
    h("div", { class: "row" }, field("Test vectors", vectors),
      h("label", { class: "check" }, verify, " Verify bit-exact against TFLite Micro"),
      h("label", { class: "check" }, m4, " also on an emulated Cortex-M4 (QEMU)")),
    h("p", {}, go), out);
}

function profileCard(current, targets, reqs, refresh) {
  const want = (reqs && reqs.target) || "cortex-m4f-80mhz";
  const sel = h("select", { name: "target" }, (targets.length ? targets : [{ id: want, name: want }])
    .map((t) => h("option", { value: t.id, selected: t.id === want }, `${t.name} (${t.id})`)));
  const out = h("div", { "aria-live": "polite" });
  const go = h("button", { type: "button" }, "Profile");
  go.addEventListener("click", async () => {
    const done = await runJob({ button: go, box: out, label: `Profile on ${sel.value}`,
      start: () => api("/profile", { method: "POST", body: { source: current().uri, target: sel.value } }) });
    try {
      const r = done && done.result;
      if (done && done.status === "succeeded" && r) {
        out.append(h("dl", { class: "facts" },
          h("dt", {}, "RAM (static + stack)"), h("dd", {}, fmtBytes(r.ram_bytes)),
          h("dt", {}, "Flash"), h("dd", {}, r.flash_bytes ? fmtBytes(r.flash_bytes) : "n/a"),
          h("dt", {}, "Latency"), h("dd", {}, r.latency_ms === null || r.latency_ms === undefined ? "n/a" : `${fmtNum(r.latency_ms)} ms`),
          h("dt", {}, "TFLite Micro arena"), h("dd", {}, r.tflm_arena_bytes ? fmtBytes(r.tflm_arena_bytes) : "n/a")));
      }
      if (done) await refresh();
    } catch (err) {
      out.append(errorBox(err));
    }
  });
  return card("Profile on a target",
    h("p", { class: "muted" }, "RAM, flash and latency on a catalog device (cross build, QEMU instruction count x "
      + "the target's CPI / clock), next to TFLite Micro's smallest arena. Saved as gate evidence."),
    h("div", { class: "row" }, field("Target device", sel), go), out);
}

function renderFigures(box, profiles, targets) {
  const latest = new Map();
  for (const p of profiles) if (!latest.has(p.target) || latest.get(p.target).id < p.id) latest.set(p.target, p);
  const rows = [...latest.values()].sort((a, b) => String(a.target).localeCompare(String(b.target)));
  const names = new Map(targets.map((t) => [t.id, t]));
  const chart = h("div", { class: "plot", role: "img", "aria-label": "bar chart: bytes per target, crisp-eml vs TFLite Micro" });
  clear(box, box.firstChild, table({
    columns: [
      { label: "Target", render: (r) => (names.get(r.target) || {}).name || r.target },
      { label: "Arena (crisp-eml)", render: (r) => fmtBytes(r.arena_bytes) },
      { label: "Arena (TFLite Micro)", render: (r) => (r.tflm_arena_bytes ? fmtBytes(r.tflm_arena_bytes) : "n/a") },
      { label: "RAM total (crisp-eml)", render: (r) => fmtBytes(r.ram_bytes) },
      { label: "Flash (crisp-eml)", render: (r) => (r.flash_bytes ? fmtBytes(r.flash_bytes) : "n/a") },
      { label: "Latency", render: (r) => (r.latency_ms === null || r.latency_ms === undefined ? "n/a" : `${fmtNum(r.latency_ms)} ms`) },
      { label: "Fits", render: (r) => {
        const t = names.get(r.target);
        if (!t || !r.ram_bytes) return "";
        const fits = r.ram_bytes <= t.ram_bytes && (!r.flash_bytes || r.flash_bytes <= t.flash_bytes);
        return badge(fits ? "fits" : "too big", fits ? "ok" : "bad");
      } },
      { label: "Measured", render: (r) => h("span", { title: r.latency_method || "" }, fmtTime(r.at)) },
    ],
    rows, caption: "Latest profile per target. RAM total = static data + worst-case stack of the cross build; "
      + "TFLite Micro's figure is its smallest working arena (interpreter and kernels not counted).",
    empty: "Not profiled yet: profile the model on a target above (eml profile).",
  }), rows.length ? chart : null);
  if (!rows.length) return;
  const x = rows.map((r) => r.target);
  const bar = (name, key) => ({ type: "bar", name, x, y: rows.map((r) => r[key] || null) });
  plot(chart, [bar("Arena, crisp-eml", "arena_bytes"), bar("Arena, TFLite Micro", "tflm_arena_bytes"),
    bar("RAM total, crisp-eml", "ram_bytes"), bar("Flash, crisp-eml", "flash_bytes")],
  { barmode: "group", yaxis: { title: { text: "bytes (log scale)" }, type: "log" }, legend: { orientation: "h" } })
    .catch((err) => box.append(errorBox(err)));
}

// `eml profile` of a registered model compiles it into a temporary folder (eml-profile-*) that is gone once the
// profile is saved: such a compile result has nothing left to download.
const scratch = (r) => /[\\/]eml-profile-[^\\/]*[\\/]lib$/.test(String(r.out_dir || ""));

function renderLibraries(box, compiles, verified) {
  const note = h("div");
  clear(box, box.firstChild, table({
    columns: [
      { key: "id", label: "#" },
      { key: "library", label: "Library" },
      { label: "Arena", render: (r) => fmtBytes(r.arena_bytes) },
      { label: "Verified", render: (r) => {
        const v = verified.get(r.id);
        if (!v) return badge("not verified", "warn");
        return h("span", {}, badge(v.ok ? "bit-exact" : "differs", v.ok ? "ok" : "bad"), " ",
          h("small", { class: "muted" }, `${Object.keys(v.checks || {}).length} checks`));
      } },
      { label: "Compiled", render: (r) => `${fmtTime(r.at)} by ${r.actor}` },
      { label: "Sources", render: (r) => h("code", { title: r.sources_sha256 }, String(r.sources_sha256 || "").slice(0, 12)) },
      { label: "Download", render: (r) => (scratch(r) ? h("small", { class: "muted" }, "profile's scratch build (deleted)")
        : zipButton(r.id, note, "C library (.zip)")) },
    ],
    rows: compiles, empty: "Not compiled yet: compile the model above (eml compile).",
  }), note);
}

async function renderGate(box, gates) {
  if (!gates.length) {
    clear(box, box.firstChild, empty("No gate result for this version yet: the business leader or an embedded "
      + "developer evaluates it (eml gate)."));
    return;
  }
  const sorted = [...gates].sort((a, b) => b.id - a.id);
  const sel = h("select", {}, sorted.map((g) => h("option", { value: g.id },
    `#${g.id} ${g.passed ? "passed" : "failed"} on ${g.target || "no target"}, ${fmtTime(g.at)}`)));
  const body = h("div");
  const show = async () => {
    clear(body, loading());
    try {
      const g = await api(`/gates/${sel.value}`);
      const items = Object.entries((g.evidence && g.evidence.items) || {});
      clear(body,
        h("p", {}, badge(g.passed ? "pass" : "fail"), ` requirements v${g.requirements_version}, target `
          + `${g.target || "none"}, by ${g.actor || "?"}`),
        table({
          columns: [
            { key: "requirement", label: "Requirement" },
            { label: "Threshold", render: (r) => `${r.direction === "max" ? "≤" : "≥"} ${fmtNum(r.threshold)} ${r.unit || ""}` },
            { label: "Measured", render: (r) => (r.measured === null || r.measured === undefined ? "not measured" : `${fmtNum(r.measured)} ${r.unit || ""}`) },
            { label: "Result", render: (r) => badge(r.passed ? "pass" : "fail") },
            { label: "Evidence", render: (r) => h("small", {}, r.source || "", r.note ? ` (${r.note})` : "") },
            { key: "phase", label: "Phase" },
          ],
          rows: g.rows, rowClass: (r) => (r.passed ? "" : "failed"), empty: "The requirements have no KPI.",
        }),
        items.length ? h("details", {}, h("summary", {}, `All evidence (${items.length} figures)`),
          h("dl", { class: "facts" }, items.map(([k, e]) => [h("dt", {}, k),
            h("dd", {}, fmtNum(e.value), " ", h("small", { class: "muted" }, e.source || ""))]))) : null);
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  sel.addEventListener("change", show);
  clear(box, box.firstChild, field("Gate result", sel), body);
  await show();
}

function renderBundles(box, list, v, ctx, targets, reqs, refresh) {
  const note = h("div", { "aria-live": "polite" });
  const rows = table({
    columns: [
      { key: "id", label: "#" }, { key: "target", label: "Target" }, { label: "Gate", render: (r) => `#${r.gate}` },
      { label: "Size", render: (r) => fmtBytes(r.size_bytes) },
      { label: "Signed by key", render: (r) => h("code", {}, String(r.key_fingerprint || "").slice(0, 16)) },
      { label: "Deployed", render: (r) => `${fmtTime(r.at)} by ${r.actor}` },
      { label: "Download", render: (r) => h("button", { type: "button", class: "secondary", onclick: async () => {
        clear(note);
        try {
          await download(await api(`/bundles/${r.id}/download`, { raw: true }), `${v.name}-${r.target}-bundle-${r.id}.zip`);
        } catch (err) { note.append(errorBox(err)); }
      } }, "Signed bundle (.zip)") },
    ],
    rows: list, empty: "No signed bundle yet.",
  });
  let form = null;
  if (ctx.can("deploy")) {
    const want = (reqs && reqs.target) || "cortex-m4f-80mhz";
    const sel = h("select", {}, (targets.length ? targets : [{ id: want, name: want }])
      .map((t) => h("option", { value: t.id, selected: t.id === want }, `${t.name} (${t.id})`)));
    const go = h("button", { type: "button" }, "Build signed bundle");
    go.addEventListener("click", async () => {
      go.disabled = true;
      clear(note, loading("Building and signing…"));
      try {
        const r = await api("/bundles", { method: "POST", body: { model: v.uri, target: sel.value } });
        await refresh();  // renders this card again: the message goes under the new one
        box.append(h("p", { class: "okmsg", role: "status" },
          `Bundle #${r.id} signed (${fmtBytes(r.size_bytes)}, gate #${r.gate}).`));
      } catch (err) {
        clear(note, errorBox(err));
      } finally {
        go.disabled = false;
      }
    });
    form = h("div", { class: "row" }, field("Bundle for target", sel), go);
  } else {
    form = h("p", { class: "muted" }, "Building a signed bundle needs the deploy permission (devops/MLOps).");
  }
  clear(box, box.firstChild, form, rows, note);
}

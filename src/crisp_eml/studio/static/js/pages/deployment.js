// Deployment (devops/MLOps): the model registry (versions, their lineage), aliases with their history, and the
// promotion of a version to an alias: production needs a passing gate, or an audited override with a reason.
// Devices, rollouts and monitoring will join this page in later issues.
import { api, badge, card, clear, empty, errorBox, field, fmtNum, fmtTime, h, loading, table } from "../lib.js";

const GATED = ["production"];  // as crisp_eml.workspace.promotion.GATED_ALIASES

function latestGate(gates, name, version) {
  return gates.filter((g) => g.name === name && g.version === version).sort((a, b) => b.id - a.id)[0] || null;
}

function gateBadge(g) {
  return g ? h("span", {}, badge(g.passed ? "pass" : "fail"), h("small", { class: "muted" }, ` gate #${g.id}`))
    : badge("not gated", "warn");
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Deployment"));
  const [models, gates] = await Promise.all([api("/models"), api("/gates")]);
  if (models.length === 0) {
    root.append(card("Model registry", empty("No registered model yet: train one and register it on Training.")));
    return;
  }
  const names = [...new Set(models.map((m) => m.name))];
  const registry = card("Model registry");
  const details = card("Version details", h("p", { class: "muted" }, "Choose a version in the registry to see its "
    + "lineage (run, dataset version, impulse, samples)."));
  const aliases = card("Aliases and their history", loading());
  const promote = ctx.can("move-alias") ? card("Promote a version") : null;
  root.append(registry, h("div", { class: "grid" }, aliases, promote), details,
    h("p", { class: "muted" }, "Devices, rollouts and monitoring will appear here in a later release."));

  const showVersion = async (m) => {
    clear(details, details.firstChild, loading());
    try {
      const base = `/models/${encodeURIComponent(m.name)}/versions/${m.version}`;
      const [now, lin] = await Promise.all([api(base), api(`${base}/lineage`)]);  // aliases as of now
      const run = lin.run || {};
      const ds = lin.dataset_version || {};
      clear(details, details.firstChild, h("h3", {}, `${m.name} v${m.version}`), h("dl", { class: "facts" },
        h("dt", {}, "URI"), h("dd", {}, h("code", {}, m.uri)),
        h("dt", {}, "Aliases"), h("dd", {}, (now.aliases || []).join(", ") || "none"),
        h("dt", {}, "Latest gate"), h("dd", {}, gateBadge(latestGate(gates, m.name, m.version))),
        h("dt", {}, "Run"), h("dd", {}, run.id ? `${run.id} (${run.learning_type}, seed ${run.seed}, by ${run.author})` : "none"),
        h("dt", {}, "Dataset version"), h("dd", {}, ds.version !== undefined ? `v${ds.version}` : String(m.dataset_version ?? "none")),
        h("dt", {}, "Impulse"), h("dd", {}, h("code", {}, String(m.impulse_hash || "none").slice(0, 16))),
        h("dt", {}, "Samples"), h("dd", {}, `${(lin.samples || []).length}`),
        h("dt", {}, "Artifacts"), h("dd", {}, Object.keys(m.artifacts || {}).join(", "))));
    } catch (err) {
      clear(details, details.firstChild, errorBox(err));
    }
  };

  const registryTable = () => clear(registry, registry.firstChild, table({
    columns: [
      { key: "name", label: "Model" }, { key: "version", label: "Version" },
      { label: "Aliases", render: (m) => h("span", {}, (m.aliases || []).map((a) => [badge(a, "ok"), " "])) },
      { label: "Gate", render: (m) => gateBadge(latestGate(gates, m.name, m.version)) },
      { label: "Accuracy (int8)", render: (m) => fmtNum(m.accuracy_int8) },
      { key: "learning_type", label: "Learning" },
      { label: "Run", render: (m) => h("code", {}, String(m.run || "").slice(0, 8)) },
      { label: "Registered", render: (m) => fmtTime(m.created_at) },
    ],
    rows: [...models].reverse(), onRow: showVersion, caption: "Newest first; choose a row for its lineage.",
  }));
  registryTable();
  const reload = async (name) => {  // after a promotion: the registry's aliases and the history
    models.splice(0, models.length, ...(await api("/models")));
    registryTable();
    modelSel.value = name;
    await loadAliases();
  };

  const modelSel = h("select", { name: "model" }, names.map((n) => h("option", { value: n }, n)));
  const historyBox = h("div");
  const loadAliases = async () => {
    clear(historyBox, loading());
    try {
      const name = modelSel.value;
      const [info, hist] = await Promise.all([api(`/models/${encodeURIComponent(name)}`),
        api(`/models/${encodeURIComponent(name)}/aliases`)]);
      if (ctx.stale()) return;
      const current = Object.entries(info.aliases || {});
      clear(historyBox,
        current.length ? h("dl", { class: "facts", "aria-label": "current aliases" }, current.map(([a, v]) => [
          h("dt", {}, a), h("dd", {}, `v${v} `, h("code", {}, `models:/${name}@${a}`))]))
          : empty("No alias yet: promote a version."),
        h("h3", {}, "History"),
        table({
          columns: [
            { label: "When", render: (e) => fmtTime(e.at) }, { key: "alias", label: "Alias" },
            { label: "Move", render: (e) => `${e.from_version === null ? "none" : `v${e.from_version}`} → v${e.to_version}` },
            { key: "actor", label: "Who" }, { key: "note", label: "Note" },
          ],
          rows: [...hist].reverse(), empty: "No alias moves yet.", caption: "Every move, newest first (audited).",
        }));
    } catch (err) {
      clear(historyBox, errorBox(err));
    }
  };
  clear(aliases, aliases.firstChild, names.length > 1 ? field("Model", modelSel) : null, historyBox);
  modelSel.addEventListener("change", loadAliases);

  if (promote) promote.append(promoteForm(models, gates, reload));
  function promoteForm(all, gateList, after) {
    const model = h("select", { name: "promote-model" }, names.map((n) => h("option", { value: n }, n)));
    const version = h("select", { name: "version" });
    const alias = h("input", { type: "text", name: "alias", value: "staging", list: "alias-names", maxlength: 64,
      pattern: "[A-Za-z][A-Za-z0-9_\\-]*", required: true });
    const known = h("datalist", { id: "alias-names" }, ["staging", "production", "canary"].map((a) => h("option", { value: a })));
    const note = h("input", { type: "text", name: "note", maxlength: 2000 });
    const reason = h("textarea", { name: "override", rows: 2, maxlength: 2000 });
    const overrideBox = h("div", { hidden: true }, field("Override reason (audited)", reason,
      "Promote to production without a passing gate: needs approve-gate as well; recorded in the audit trail."));
    const gateInfo = h("p", { "aria-live": "polite" });
    const out = h("div", { "aria-live": "polite" });
    const go = h("button", { type: "button" }, "Promote");
    const fill = () => {
      clear(version, all.filter((m) => m.name === model.value).reverse()
        .map((m) => h("option", { value: m.version }, `v${m.version}${(m.aliases || []).length ? ` (${m.aliases.join(", ")})` : ""}`)));
      check();
    };
    const check = () => {
      const g = latestGate(gateList, model.value, Number(version.value));
      const gated = GATED.includes(alias.value.trim());
      clear(gateInfo, "Gate check: ", gateBadge(g), gated
        ? h("small", { class: "muted" }, g && g.passed ? " — passed: the move is allowed" : " — production needs a passing gate or an override")
        : h("small", { class: "muted" }, ` — '${alias.value.trim() || "?"}' is not gated`));
      overrideBox.hidden = !(gated && !(g && g.passed) && ctx.can("approve-gate"));
    };
    model.addEventListener("change", fill);
    version.addEventListener("change", check);
    alias.addEventListener("input", check);
    go.addEventListener("click", async () => {
      const a = alias.value.trim();
      if (!alias.checkValidity() || !a) {
        clear(out, errorBox(new Error("alias: start with a letter; letters, digits, '_' or '-'")));
        return;
      }
      go.disabled = true;
      clear(out);
      try {
        const body = { version: Number(version.value), note: note.value.trim() || null };
        if (!overrideBox.hidden && reason.value.trim()) body.override_reason = reason.value.trim();
        const r = await api(`/models/${encodeURIComponent(model.value)}/aliases/${encodeURIComponent(a)}`,
          { method: "PUT", body });
        clear(out, h("p", { class: "okmsg", role: "status" },
          `${r.alias} of ${r.name} now points at v${r.to_version}${r.from_version ? ` (was v${r.from_version})` : ""}.`));
        await after(model.value);
      } catch (err) {
        clear(out, errorBox(err));
      } finally {
        go.disabled = false;
      }
    });
    fill();
    return h("div", {}, h("p", { class: "muted" }, "Point an alias (models:/NAME@ALIAS) at a version. Production "
      + "needs the version's latest gate to have passed."),
    h("div", { class: "row" }, names.length > 1 ? field("Model", model) : null, field("Version", version),
      field("Alias", alias), known),
    field("Note", note), gateInfo, overrideBox, h("p", {}, go), out);
  }
  await loadAliases();
}

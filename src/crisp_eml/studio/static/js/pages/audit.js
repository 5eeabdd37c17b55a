// Audit & members: the hash-chained audit trail (filtered, paged, newest first, each entry's artifacts on
// demand) with chain verification; the members with their personas and permissions; API tokens (list, create
// with the secret shown once, revoke).
import { api, badge, card, clear, empty, errorBox, field, fmtTime, h, loading, table } from "../lib.js";

const PAGE = 25;
const PERSONAS = ["business-leader", "domain-expert", "end-user", "data-scientist", "ml-researcher",
  "ml-platform-developer", "embedded-developer", "devops-mlops"];
const PERMISSIONS = ["set-requirements", "ingest-data", "label-data", "design-impulse", "train", "compile",
  "approve-gate", "move-alias", "deploy", "manage-members"];

export async function render(root, ctx) {
  root.append(h("h1", {}, "Audit & members"));
  const slots = {
    audit: card("Audit trail", loading()),
    verify: card("Chain verification"),
    members: card("Members", loading()),
    tokens: card("API tokens", loading()),
  };
  root.append(slots.audit, slots.verify, slots.members, slots.tokens);
  const manage = ctx.can("manage-members");
  let members = [];

  // -- audit trail ---------------------------------------------------------------------------------------------
  const filter = {
    action: ctx.params.get("action") || "",
    actor: ctx.params.get("actor") || "",
    offset: Math.max(0, Number(ctx.params.get("offset")) || 0),
  };
  const actionInput = h("input", { type: "search", value: filter.action, maxlength: 64, placeholder: "e.g. gate or requirements.set" });
  const actorSelect = h("select", {});
  const list = h("div", { class: "audit-list", "aria-live": "polite" }, loading());

  async function loadAudit() {
    const page = await api("/audit", { query: { action: filter.action, actor: filter.actor, offset: filter.offset,
      limit: PAGE, newest_first: true } });
    if (ctx.stale()) return;
    const first = page.total ? filter.offset + 1 : 0;
    const last = Math.min(filter.offset + PAGE, page.total);
    const prev = h("button", { type: "button", class: "secondary", disabled: filter.offset === 0,
      onclick: () => { filter.offset = Math.max(0, filter.offset - PAGE); reload(); } }, "Newer");
    const next = h("button", { type: "button", class: "secondary", disabled: last >= page.total,
      onclick: () => { filter.offset += PAGE; reload(); } }, "Older");
    clear(list,
      table({
        caption: `Entries ${first}–${last} of ${page.total}, newest first`,
        empty: filter.action || filter.actor ? "No entries match these filters." : "No audit entries yet.",
        columns: [{ key: "seq", label: "#" }, { label: "When", render: (e) => fmtTime(e.at) },
          { label: "Who", render: (e) => h("span", {}, e.actor, h("br"), h("small", { class: "muted" }, e.persona || "")) },
          { label: "Action", render: (e) => h("code", { class: "audit-action" }, e.action) },
          { key: "note", label: "Note" },
          { label: "Artifacts", render: (e) => (e.artifacts && Object.keys(e.artifacts).length
            ? h("details", {}, h("summary", {}, `${Object.keys(e.artifacts).length} fields`),
              h("pre", {}, JSON.stringify(e.artifacts, null, 2)))
            : h("span", { class: "muted" }, "none")) }],
        rows: page.entries,
      }),
      h("div", { class: "pager" }, prev, next, h("span", { class: "muted" }, `${page.total} matching entries`)));
  }
  function reload() {
    const q = new URLSearchParams();
    if (filter.action) q.set("action", filter.action);
    if (filter.actor) q.set("actor", filter.actor);
    if (filter.offset) q.set("offset", String(filter.offset));
    history.replaceState({}, "", `/audit${q.toString() ? `?${q}` : ""}`);
    clear(list, loading());
    loadAudit().catch((err) => clear(list, errorBox(err)));
  }
  const filterForm = h("form", { class: "row", role: "search" },
    field("Action", actionInput, "exact or a prefix: 'gate' matches gate.evaluate"),
    field("By member", actorSelect),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", class: "secondary", onclick: () => {
      actionInput.value = ""; actorSelect.value = ""; filter.action = ""; filter.actor = ""; filter.offset = 0; reload();
    } }, "Clear filters"));
  filterForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    filter.action = actionInput.value.trim();
    filter.actor = actorSelect.value;
    filter.offset = 0;
    reload();
  });
  clear(slots.audit, h("h2", {}, "Audit trail"), filterForm, list);

  // -- chain verification ----------------------------------------------------------------------------------------
  const verifyOut = h("div", { "aria-live": "polite" });
  const verifyBtn = h("button", { type: "button" }, "Verify chain");
  verifyBtn.addEventListener("click", async () => {
    verifyBtn.disabled = true;
    clear(verifyOut, loading("Checking every entry's hash and the signed checkpoints…"));
    try {
      const v = await api("/audit/verify");
      clear(verifyOut,
        h("p", { class: v.ok ? "okmsg" : "error", role: "status", "data-testid": "verify-result" },
          v.ok ? `Chain intact: ${v.entries} entries, ${v.checkpoints} signed checkpoints checked.`
            : `Chain broken: ${v.problems.length} problem(s) in ${v.entries} entries.`),
        v.problems.length ? table({ caption: "Problems", columns: [{ key: "seq", label: "Entry" }, { key: "reason", label: "Problem" }],
          rows: v.problems }) : null,
        v.notes && v.notes.length ? h("ul", { class: "muted" }, v.notes.map((n) => h("li", {}, n))) : null,
        h("p", { class: "muted" }, `Key: ${v.key_source || "none"}`));
    } catch (err) {
      clear(verifyOut, errorBox(err));
    } finally {
      verifyBtn.disabled = false;
    }
  });
  slots.verify.append(h("p", { class: "muted" }, "Recompute the hash chain and check its signed checkpoints: an edited, "
    + "removed or inserted entry shows up here."), verifyBtn, verifyOut);

  // -- members ---------------------------------------------------------------------------------------------------
  const memberStatus = h("div", { "aria-live": "polite" });
  async function loadMembers() {
    members = await api("/members");
    if (ctx.stale()) return;
    const chosen = actorSelect.value || filter.actor;
    clear(actorSelect, h("option", { value: "" }, "anyone"),
      members.map((m) => h("option", { value: m.name, selected: m.name === chosen }, m.name)));
    clear(slots.members, h("h2", {}, "Members"),
      table({
        columns: [{ key: "name", label: "Name" },
          { label: "Persona", render: (m) => h("span", {}, m.persona, m.owner ? [" ", badge("owner", "ok")] : null) },
          { label: "May", render: (m) => h("small", {}, m.permissions.join(", ") || "read only") },
          { label: "Since", render: (m) => fmtTime(m.since) },
          manage ? { label: "Actions", render: (m) => (m.name === ctx.me.name ? "" : h("button", { type: "button",
            class: "danger", "aria-label": `Remove ${m.name}`, onclick: () => removeMember(m) }, "Remove")) } : null,
        ].filter(Boolean),
        rows: members,
      }),
      manage ? addMemberForm() : h("p", { class: "muted" }, "Only members who manage members add or remove members."),
      memberStatus);
    refreshTokenForm();
  }
  async function removeMember(m) {
    if (!window.confirm(`Remove ${m.name} from the project? Their tokens stop working at once.`)) return;
    try {
      await api(`/members/${encodeURIComponent(m.name)}`, { method: "DELETE" });
      await loadMembers();
      clear(memberStatus, h("p", { class: "okmsg", role: "status" }, `Removed ${m.name}.`));
    } catch (err) {
      clear(memberStatus, errorBox(err));
    }
  }
  function addMemberForm() {
    const name = h("input", { type: "text", maxlength: 128, required: true, autocomplete: "off" });
    const persona = h("select", {}, PERSONAS.map((p) => h("option", { value: p }, p)));
    const form = h("form", { class: "row add-member" }, field("New member name", name), field("Persona", persona),
      h("button", { type: "submit" }, "Add member"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const m = await api("/members", { method: "POST", body: { name: name.value.trim(), persona: persona.value } });
        await loadMembers();
        clear(memberStatus, h("p", { class: "okmsg", role: "status" }, `Added ${m.name} (${m.persona}).`));
      } catch (err) {
        clear(memberStatus, errorBox(err));
      }
    });
    return form;
  }

  // -- tokens ----------------------------------------------------------------------------------------------------
  const tokenList = h("div", { "aria-live": "polite" });
  const tokenStatus = h("div", { "aria-live": "polite" });
  const allBox = h("input", { type: "checkbox" });
  const tokenMember = h("select", {});
  function refreshTokenForm() {
    const keep = tokenMember.value || ctx.me.name;
    clear(tokenMember, (manage ? members.map((m) => m.name) : [ctx.me.name])
      .map((n) => h("option", { value: n, selected: n === keep }, n)));
  }
  async function loadTokens() {
    const tokens = await api("/tokens", { query: manage && allBox.checked ? { all: true } : {} });
    if (ctx.stale()) return;
    clear(tokenList, table({
      caption: manage && allBox.checked ? "Every member's tokens" : "Your tokens",
      empty: "No API tokens yet.",
      columns: [{ label: "Id", render: (t) => h("code", {}, t.id) }, { key: "member", label: "Member" },
        { label: "Scopes", render: (t) => (t.scopes.length ? t.scopes.join(", ") : "all of the persona's") },
        { key: "note", label: "Note" }, { label: "Created", render: (t) => fmtTime(t.created_at) },
        { label: "Expires", render: (t) => (t.expires_at ? fmtTime(t.expires_at) : "never") },
        { label: "Last used", render: (t) => fmtTime(t.last_used_at) || "never" },
        { label: "State", render: (t) => badge(t.state, t.state === "active" ? "ok" : "bad") },
        { label: "Actions", render: (t) => (t.state === "active" ? h("button", { type: "button", class: "danger",
          "aria-label": `Revoke token ${t.id}`, onclick: () => revoke(t) }, "Revoke") : "") }],
      rows: tokens,
    }));
  }
  async function revoke(t) {
    try {
      await api(`/tokens/${encodeURIComponent(t.id)}/revoke`, { method: "POST" });
      clear(tokenStatus, h("p", { class: "okmsg", role: "status" }, `Revoked token ${t.id} of ${t.member}.`));
      await loadTokens();
    } catch (err) {
      clear(tokenStatus, errorBox(err));
    }
  }
  function createForm() {
    const scopes = PERMISSIONS.filter((p) => ctx.can(p) || manage).map((p) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", value: p }), ` ${p}`));
    const expires = h("input", { type: "number", min: 1, max: 3650, step: 1, placeholder: "never" });
    const note = h("input", { type: "text", maxlength: 500, placeholder: "what the token is for" });
    const form = h("form", { class: "token-create" },
      h("div", { class: "row" }, field("Token for", tokenMember), field("Expires after (days)", expires),
        field("Token note", note)),
      h("fieldset", { class: "scopes" }, h("legend", {}, "Scopes (none ticked: everything the persona may do)"), scopes),
      h("button", { type: "submit" }, "Create token"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const picked = [...form.querySelectorAll(".scopes input:checked")].map((b) => b.value);
      try {
        const t = await api("/tokens", { method: "POST", body: { member: tokenMember.value || null,
          scopes: picked.length ? picked : null, expires_days: expires.value ? Number(expires.value) : null,
          note: note.value } });
        note.value = "";
        const secret = h("input", { type: "text", readonly: true, value: t.token, class: "secret", size: 60 });
        const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
          secret.select();
          try { await navigator.clipboard.writeText(t.token); copy.textContent = "Copied"; } catch (_) { copy.textContent = "Press Ctrl+C"; }
        } }, "Copy");
        clear(tokenStatus, h("div", { class: "okmsg token-secret", role: "status" },
          h("p", {}, `Token ${t.id} for ${t.member}. `, h("strong", {}, "Copy it now: it is shown only once."),
            " Send it as Authorization: Bearer <token>."),
          h("div", { class: "row" }, field("New token (shown once)", secret), copy)));
        secret.focus();
        secret.select();
        await loadTokens();
      } catch (err) {
        clear(tokenStatus, errorBox(err));
      }
    });
    return form;
  }
  allBox.addEventListener("change", () => loadTokens().catch((err) => clear(tokenList, errorBox(err))));
  clear(slots.tokens, h("h2", {}, "API tokens"),
    h("p", { class: "muted" }, "A token lets a script or the CLI act as its member (narrowed by its scopes). "
      + "Its secret is shown once, when it is made."),
    manage ? h("label", { class: "check" }, allBox, " Show every member's tokens") : null,
    tokenList, h("h3", {}, "Create a token"), createForm(), tokenStatus);

  await Promise.all([
    loadAudit().catch((err) => clear(list, errorBox(err))),
    loadMembers().catch((err) => clear(slots.members, h("h2", {}, "Members"), errorBox(err))),
    loadTokens().catch((err) => clear(tokenList, errorBox(err))),
  ]);
}

// Home: the six CRISP-EML phases (state, owner personas, blocking items, feedback loops), the requirements
// (KPIs) with the latest gate result per model, and the most recent audit entries.
import { api, badge, card, empty, fmtNum, fmtTime, h, table } from "../lib.js";

function phaseCard(p) {
  return h("article", { class: "phase", "data-phase": p.key },
    h("h3", {}, p.title),
    badge(p.state),
    h("p", { class: "muted" }, p.why || ""),
    h("p", {}, h("small", {}, "Owners: ", p.personas.join(", "))),
    p.depends_on.length ? h("p", {}, h("small", { class: "muted" }, "After: ", p.depends_on.join(", "))) : null,
    p.feedback_from.length ? h("p", {}, h("small", { class: "error" }, "Feedback from: ", p.feedback_from.join(", "))) : null);
}

export async function render(root, ctx) {
  const [board, reqs, gates, audit] = await Promise.all([
    api("/project"),  // fresh: the phases change as the team works (ctx.project is from sign-in)
    api("/requirements").catch(() => null),
    api("/gates"),
    api("/audit", { query: { limit: 10, newest_first: true } }),
  ]);
  const status = board.status;
  root.append(h("h1", {}, `Project ${board.name}`));
  root.append(card("CRISP-EML phases",
    h("div", { class: "phases" }, status.phases.map(phaseCard)),
    status.feedback && status.feedback.length
      ? h("div", {}, h("h3", {}, "Open feedback loops"),
          h("ul", {}, status.feedback.map((f) => h("li", {}, `${f.source} → ${f.to}: ${f.reason}`))))
      : h("p", { class: "muted" }, "No open feedback loops.")));

  const latest = new Map();
  for (const g of gates) if (!latest.has(g.model) || latest.get(g.model).id < g.id) latest.set(g.model, g);
  const kpis = reqs && reqs.kpis ? Object.entries(reqs.kpis) : [];
  const models = [...latest.values()];
  root.append(card("Requirements and latest gate results",
    kpis.length === 0
      ? empty("No requirements yet: set them on Business & evaluation.")
      : table({
        columns: [{ key: "kpi", label: "Requirement" }, { key: "threshold", label: "Threshold" },
          ...models.map((g) => ({ label: g.model, render: (r) => {
            const row = g.rows.find((x) => x.requirement === r.kpi);
            return row ? h("span", {}, badge(row.passed ? "pass" : "fail"), " ", fmtNum(row.measured)) : "not measured";
          } }))],
        rows: kpis.map(([kpi, threshold]) => ({ kpi, threshold: fmtNum(threshold) })),
        caption: reqs ? `requirements v${reqs.version}, target ${reqs.target || "none"}` : "",
      })));

  root.append(card("Recent audit entries",
    table({
      columns: [{ key: "seq", label: "#" }, { label: "When", render: (e) => fmtTime(e.at) }, { key: "actor", label: "Who" },
        { key: "action", label: "Action" }],
      rows: audit.entries, empty: "No audit entries yet.",
    }),
    h("p", {}, h("a", { href: "/audit", "data-link": "" }, "Whole audit trail"))));
}

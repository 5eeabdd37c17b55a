// The Studio shell: who is signed in, the navigation (one link per CRISP-EML phase), client-side routing,
// and rendering the current page module from ./pages/. Each page module exports
// `async function render(root, ctx)`, where ctx = {me, project, can(permission), navigate(url), params}.
import { api, clear, errorBox, h, loading } from "./lib.js";

const PAGES = [
  ["/", "Home", "home"],
  ["/business", "Business & evaluation", "business"],
  ["/data", "Data acquisition", "data"],
  ["/review", "Field data review", "review"],
  ["/impulse", "Impulse design", "impulse"],
  ["/training", "Training", "training"],
  ["/testing", "Model testing", "testing"],
  ["/development", "Development & testing", "development"],
  ["/deployment", "Deployment", "deployment"],
  ["/audit", "Audit & members", "audit"],
];

const state = { me: null, project: null, seq: 0 };

function can(permission) {
  return Boolean(state.me && state.me.permissions.includes(permission));
}

function navigate(url, { replace = false } = {}) {
  if (url === window.location.pathname + window.location.search) return render();
  (replace ? history.replaceState : history.pushState).call(history, {}, "", url);
  return render();
}

function buildNav() {
  const nav = document.getElementById("nav");
  clear(nav, PAGES.map(([path, title]) => h("a", { href: path, "data-link": "" }, title)));
}

function markCurrent() {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === window.location.pathname) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function render() {
  const seq = ++state.seq;
  const path = window.location.pathname;
  const page = PAGES.find(([p]) => p === path) || PAGES[0];
  const root = document.getElementById("page");
  document.getElementById("nav").classList.remove("open");  // a narrow screen's menu closes as the page changes
  document.getElementById("menu-toggle").setAttribute("aria-expanded", "false");
  markCurrent();
  document.title = `${page[1]} · crisp-eml Studio`;
  const box = h("div", { class: "page", "data-page": page[2] });
  clear(root, box);
  box.append(loading());
  const ctx = { me: state.me, project: state.project, can, navigate,
                params: new URLSearchParams(window.location.search), stale: () => seq !== state.seq };
  try {
    const mod = await import(`./pages/${page[2]}.js`);
    if (seq !== state.seq) return;
    clear(box);
    await mod.render(box, ctx);
  } catch (err) {
    if (seq !== state.seq) return;
    console.warn(err);  // eslint-disable-line no-console
    box.append(errorBox(err));
  }
}

async function start() {
  buildNav();
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-link]");
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || a.target) return;
    ev.preventDefault();
    navigate(a.getAttribute("href")).then(() => document.getElementById("page").focus());
  });
  window.addEventListener("popstate", () => render());
  const toggle = document.getElementById("menu-toggle");
  toggle.addEventListener("click", () => {
    const nav = document.getElementById("nav");
    nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(nav.classList.contains("open")));
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("/logout", { method: "POST" });
    window.location.assign("/login");
  });
  const [me, project] = await Promise.all([api("/whoami"), api("/project")]);
  state.me = me;
  state.project = project;
  document.getElementById("project-name").textContent = `project ${project.name}`;
  document.getElementById("me").textContent = `${me.name} · ${me.persona}${me.owner ? " (owner)" : ""}`;
  await render();
}

start().catch((err) => clear(document.getElementById("page"), errorBox(err)));

// The Data acquisition page's upload card: drag-and-drop (or a file input, for the keyboard) through the Edge
// Impulse ingestion API (POST /api/{training|testing|split}/files, multipart field "data", optional x-label),
// one request per file so that each file gets its own result and the progress bar moves per file.
import { ApiError, api, card, clear, field, fmtBytes, h } from "../lib.js";

const ACCEPT = ".json,.cbor,.csv,.wav,.png,.jpg,.jpeg";

function resultRow(file) {
  const state = h("span", { class: "badge queued" }, "waiting");
  const detail = h("span", { class: "muted" }, fmtBytes(file.size));
  const li = h("li", { class: "upload-result" }, h("strong", {}, file.name), " ", state, " ", detail);
  return {
    li,
    set(kind, text, extra) {
      state.className = `badge ${kind}`;
      state.textContent = text;
      clear(detail, extra || "");
    },
  };
}

async function uploadOne(file, category, label) {
  const form = new FormData();
  form.append("data", file, file.name);
  const headers = label ? { "x-label": label } : {};
  const res = await api(`/api/${category}/files`, { method: "POST", form, headers });
  const one = (res.files || [])[0] || { success: res.success, error: res.error };
  return one;
}

// The card; onUploaded() runs after a batch that added at least one sample.
export function uploadCard(ctx, onUploaded) {
  const category = h("select", {},
    h("option", { value: "training" }, "Training"), h("option", { value: "testing" }, "Testing"),
    h("option", { value: "split" }, "Split automatically (training/testing)"));
  const label = h("input", { type: "text", maxlength: 256, placeholder: "from the file name" });
  const input = h("input", { type: "file", multiple: true, accept: ACCEPT });
  const progress = h("progress", { max: 1, value: 0, "aria-label": "upload progress", hidden: true });
  const status = h("p", { role: "status", class: "muted" });
  const results = h("ul", { class: "upload-results", "aria-label": "upload results" });
  let busy = false;

  async function upload(files) {
    if (busy || files.length === 0) return;
    busy = true;
    input.disabled = true;
    const rows = files.map(resultRow);
    clear(results, rows.map((r) => r.li));
    progress.hidden = false;
    progress.max = files.length;
    progress.value = 0;
    status.className = "muted";
    let ok = 0;
    for (let i = 0; i < files.length; i++) {
      status.textContent = `Uploading ${i + 1} of ${files.length}: ${files[i].name}…`;
      rows[i].set("running", "uploading");
      try {
        const one = await uploadOne(files[i], category.value, label.value.trim());
        if (one.success) {
          ok += 1;
          rows[i].set("ok", "uploaded", h("a", { href: `/data?sample=${encodeURIComponent(one.sampleId)}`,
            "data-link": "" }, `sample ${one.sampleId}`));
        } else {
          rows[i].set("bad", "failed", h("span", { class: "error-text" }, one.error || "refused"));
        }
      } catch (err) {
        const why = err instanceof ApiError ? `${err.message} [${err.status}]` : String(err.message || err);
        rows[i].set("bad", "failed", h("span", { class: "error-text" }, why));
      }
      progress.value = i + 1;
    }
    status.textContent = `${ok} of ${files.length} file(s) uploaded${ok < files.length ? `, ${files.length - ok} failed` : ""}.`;
    status.className = ok === files.length ? "okmsg" : "error";
    busy = false;
    input.disabled = false;
    input.value = "";
    if (ok > 0 && !ctx.stale() && onUploaded) await onUploaded();
  }

  input.addEventListener("change", () => upload([...input.files]));
  const zone = h("div", { class: "dropzone", "aria-label": "drop files here to upload them" },
    h("p", {}, "Drop files here to upload them: Edge Impulse JSON or CBOR, CSV, WAV, PNG or JPEG."),
    h("p", { class: "muted" }, "The label comes from the file name (label.anything.csv) unless you type one."));
  for (const kind of ["dragenter", "dragover"]) {
    zone.addEventListener(kind, (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    upload([...(ev.dataTransfer ? ev.dataTransfer.files : [])]);
  });
  return card("Upload samples", zone,
    h("div", { class: "row" }, field("Upload to", category), field("Label for the uploaded files", label),
      field("Files to upload", input)),
    progress, status, results);
}

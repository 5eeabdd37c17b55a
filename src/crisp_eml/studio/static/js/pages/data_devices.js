// The Data acquisition page's "Devices & live capture" card: the project's devices with their online state and
// sensors (GET /devices, refreshed every few seconds while the page is open), and, for members who may ingest
// data, "Record new data": ask a device for a recording (POST /devices/{ref}/captures), follow its live signal
// (GET /captures/{id}/live?after=N about every 300 ms, one plotted line per axis), cancel it, and link to the
// stored sample once the device has sent it.
import { api, badge, card, clear, errorBox, field, fmtNum, fmtTime, h, plot, table } from "../lib.js";

const DEVICES_EVERY_MS = 4000;
const LIVE_EVERY_MS = 300;
const FINAL = new Set(["done", "failed", "cancelled"]);
const CATEGORIES = [["split", "Split automatically (training/testing)"], ["training", "Training"],
  ["testing", "Testing"]];

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function sensorText(s) {
  const axes = (s.axes || []).join(", ");
  const rate = s.frequency_hz ? ` @ ${fmtNum(s.frequency_hz, 1)} Hz` : "";
  return `${s.name}${axes ? ` (${axes})` : ""}${rate}`;
}

function stateBadge(d) {
  if (d.state === "revoked") return badge("revoked", "bad");
  return d.online ? badge("online", "ok") : badge("offline");
}

function devicesTable(devices) {
  return table({
    columns: [
      { key: "name", label: "Device" },
      { label: "State", render: stateBadge },
      { key: "kind", label: "Kind" },
      { label: "Sensors", render: (d) => ((d.sensors || []).length
        ? h("ul", { class: "plain" }, d.sensors.map((s) => h("li", {}, sensorText(s))))
        : h("span", { class: "muted" }, "none reported yet")) },
      { label: "Last seen",
        render: (d) => (d.last_seen_at ? fmtTime(d.last_seen_at) : h("span", { class: "muted" }, "never")) },
    ],
    rows: devices,
  });
}

function noDevices(may) {
  return h("div", { class: "empty" },
    h("p", {}, `No devices yet. Register one (${may ? "below, or " : ""}with `, h("code", {}, "eml devices add NAME"),
      "): its key is shown once. Then, on a Linux board:"),
    h("pre", {}, "eml agent --server URL --key KEY --source cmd:\"python read_sensor.py\""),
    h("p", {}, "or, for a board on this computer's USB serial port:"),
    h("pre", {}, "eml capture serial --server URL --key KEY --port auto"));
}

// Register a device (POST /devices): its key is shown once, to copy into the agent's command line.
function registerForm(onDone) {
  const name = h("input", { type: "text", maxlength: 64, required: true,
    placeholder: "e.g. bench-pi" });
  const kind = h("select", {}, h("option", { value: "linux-agent" }, "Linux board (eml agent)"),
    h("option", { value: "serial-bridge" }, "Serial board on a computer (eml capture serial --server)"));
  const out = h("div", {});
  return h("form", { class: "register-form", "aria-label": "register a device", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const d = await api("/devices", { method: "POST", body: { name: name.value.trim(), kind: kind.value } });
      const secret = h("input", { type: "text", readonly: true, value: d.key, class: "secret", size: 60 });
      clear(out, h("div", { class: "okmsg token-secret", role: "status" },
        h("p", {}, `Device ${d.name} registered. `, h("strong", {}, "Copy its key now: it is shown only once.")),
        field("Device key (shown once)", secret)));
      name.value = "";
      secret.select();
      await onDone();
    } catch (err) {
      clear(out, errorBox(err));
    }
  } },
  h("h3", {}, "Register a device"),
  h("div", { class: "row" }, field("Device name", name), field("Device kind", kind),
    h("button", { type: "submit", class: "secondary" }, "Register")), out);
}

// The live view of one capture: status line, Cancel, a plot growing as chunks arrive, then the stored sample.
function liveView(capture, ctx, on) {
  const title = h("h3", {}, `Recording "${capture.label || "(unlabeled)"}" on ${capture.device}`);
  const status = h("p", { role: "status", class: "capture-status" });
  const count = h("span", { class: "muted", "data-readings": "0" }, "");
  const cancel = h("button", { type: "button", class: "secondary", onclick: async () => {
    cancel.disabled = true;
    try {
      await api(`/captures/${encodeURIComponent(capture.id)}/cancel`, { method: "POST" });
    } catch (err) {
      extra.append(errorBox(err));
      cancel.disabled = false;
    }
  } }, "Cancel the recording");
  const chart = h("div", { class: "plot live-plot", role: "img", "aria-label": "live signal" });
  const extra = h("div", {});
  const el = h("div", { class: "capture-live", "aria-label": "live capture" }, title,
    h("div", { class: "row" }, status, count, cancel), chart, extra);

  const st = { after: -1, axes: null, rate: null, x: [], y: [], drawn: false, rows: 0 };

  function setStatus(c) {
    const secs = (c.length_ms / 1000).toFixed(1);
    const texts = {
      requested: `Requested: waiting for ${c.device} to start (${secs} s of ${c.sensor || "its default sensor"})…`,
      recording: `Recording on ${c.device}: ${fmtNum(st.rows / (c.frequency_hz || 1), 1)} s of ${secs} s…`,
      done: "Done: the sample is stored.",
      failed: `Failed: ${c.error || "the device gave up"}`,
      cancelled: "Cancelled.",
    };
    status.textContent = texts[c.status] || c.status;
    status.className = `capture-status ${c.status === "failed" ? "error" : c.status === "done" ? "okmsg" : ""}`.trim();
    count.textContent = `${st.rows} readings received`;
    count.dataset.readings = String(st.rows);
  }

  async function draw(rows) {
    if (!st.axes || rows.length === 0) return;
    const rate = st.rate || 1;
    const start = st.rows;
    const xs = rows.map((_, i) => ((start + i) / rate) * 1000);
    st.rows += rows.length;
    const cols = st.axes.map((_, j) => rows.map((r) => (Array.isArray(r) ? r[j] : r)));
    if (!st.drawn) {
      st.drawn = true;
      await plot(chart, st.axes.map((name, j) => ({ type: "scatter", mode: "lines", name,
        x: xs.slice(), y: cols[j] })), { height: 300, xaxis: { title: { text: st.rate ? "time (ms)" : "row" },
        ...(st.rate ? { range: [0, capture.length_ms] } : {}) },
        legend: { orientation: "h" } });
    } else {
      await window.Plotly.extendTraces(chart, { x: st.axes.map(() => xs), y: cols }, st.axes.map((_, j) => j));
    }
  }

  // After the end: the link to the stored sample, and the plot redrawn from its values (the whole signal).
  async function finished(c) {
    cancel.remove();
    if (c.status !== "done" || !c.sample_id) return;
    const href = `/data?sample=${encodeURIComponent(c.sample_id)}`;
    extra.append(h("p", {}, "Stored as ", h("a", { href, class: "sample-link", onclick: (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
      ev.preventDefault();
      on.open(c.sample_id);
    } }, `sample ${c.sample_id}`), ` with label ${c.label || "(none)"}.`));
    if (on.stored) on.stored(c);
    try {  // the stored sample is the whole signal (the last chunks may have come after the last poll)
      const data = await api(`/samples/${encodeURIComponent(c.sample_id)}/data`);
      if (ctx.stale()) return;
      st.axes = (data.sensors || []).map((s, j) => s.name || `axis ${j}`);
      if (st.axes.length === 0) st.axes = ["value"];
      st.rate = data.frequency_hz;
      st.rows = 0;
      st.drawn = false;
      await draw(data.values || []);
      count.textContent = `${st.rows} readings stored`;
      count.dataset.readings = String(st.rows);
    } catch (err) {
      extra.append(errorBox(err));
    }
  }

  async function follow() {
    let c = capture;
    let failures = 0;
    setStatus(c);
    while (!ctx.stale() && el.isConnected) {
      try {
        const live = await api(`/captures/${encodeURIComponent(capture.id)}/live`, { query: { after: st.after } });
        failures = 0;
        c = live.capture;
        if (c.axes && !st.axes) {
          st.axes = c.axes;
          st.rate = c.frequency_hz;
        }
        for (const chunk of live.chunks || []) {
          if (chunk.seq <= st.after) continue;
          st.after = chunk.seq;
          await draw(chunk.rows || []);
        }
        setStatus(c);
        if (FINAL.has(c.status)) return finished(c);
      } catch (err) {
        failures += 1;
        clear(extra, errorBox(err));
        if (failures >= 10) return null;
      }
      await sleep(failures ? LIVE_EVERY_MS * 4 : LIVE_EVERY_MS);
    }
    return null;
  }
  return { el, follow };
}

// The card; on.open(sampleId) opens the data page's viewer, on.stored(capture) after a sample was stored.
export function devicesCard(ctx, on = {}) {
  const list = h("div", {}, h("p", { class: "loading" }, "Loading devices…"));
  const may = ctx.can("ingest-data");
  const st = { devices: [], key: "" };

  const device = h("select", { required: true });
  const sensor = h("select", {});
  const label = h("input", { type: "text", maxlength: 256, required: true, placeholder: "e.g. idle" });
  const length = h("input", { type: "number", min: 100, max: 3600000, step: 100, value: "2000", required: true });
  const category = h("select", {}, CATEGORIES.map(([v, t]) => h("option", { value: v }, t)));
  const start = h("button", { type: "submit" }, "Start recording");
  const msg = h("div", { role: "status" });
  const liveBox = h("div", {});

  function fillSensors() {
    const d = st.devices.find((x) => x.id === device.value);
    const keep = sensor.value;
    const sensors = d ? d.sensors || [] : [];
    clear(sensor, sensors.length
      ? sensors.map((s) => h("option", { value: s.name, selected: s.name === keep }, sensorText(s)))
      : h("option", { value: "" }, "the device's default"));
  }

  function fillDevices() {
    const active = st.devices.filter((d) => d.state !== "revoked");
    const keep = device.value;
    clear(device, active.length === 0 ? h("option", { value: "" }, "no device registered")
      : active.map((d) => h("option", { value: d.id, selected: d.id === keep },
        `${d.name}${d.online ? "" : " (offline)"}`)));
    if (!keep) {  // first fill: an online device first
      const online = active.find((d) => d.online);
      if (online) device.value = online.id;
    }
    start.disabled = active.length === 0 || st.busy;
    fillSensors();
  }

  device.addEventListener("change", fillSensors);

  const form = may ? h("form", { class: "record-form", "aria-label": "record new data", onsubmit: async (ev) => {
    ev.preventDefault();
    clear(msg);
    const d = st.devices.find((x) => x.id === device.value);
    if (!d) return clear(msg, errorBox("Choose a device first."));
    if (!label.value.trim()) return clear(msg, errorBox("Type the label of what you are about to record."));
    const body = { label: label.value.trim(), length_ms: Number(length.value), category: category.value };
    if (sensor.value) body.sensor = sensor.value;
    let capture;
    try {
      capture = await api(`/devices/${encodeURIComponent(d.name)}/captures`, { method: "POST", body });
    } catch (err) {
      return clear(msg, errorBox(err));
    }
    st.busy = true;
    start.disabled = true;
    const view = liveView(capture, ctx, on);
    clear(liveBox, view.el);
    try {
      await view.follow();
    } finally {
      st.busy = false;
      fillDevices();
    }
  } },
  h("h3", {}, "Record new data"),
  h("div", { class: "row" }, field("Device", device), field("Sensor", sensor), field("Recording label", label),
    field("Length (ms)", length), field("Add the sample to", category), start)) : null;

  async function loadDevices() {
    let devices;
    try {
      devices = await api("/devices");
    } catch (err) {
      st.key = "";
      if (!ctx.stale()) clear(list, errorBox(err));
      return err.status !== 403 && err.status !== 404;  // a passing failure: try again later
    }
    if (ctx.stale()) return false;
    devices = Array.isArray(devices) ? devices : devices.devices || devices.items || [];
    const key = JSON.stringify(devices.map((d) => [d.id, d.name, d.state, d.online, d.sensors, d.last_seen_at]));
    if (key === st.key) return true;
    st.key = key;
    st.devices = devices;
    clear(list, devices.length ? devicesTable(devices) : noDevices(may));
    if (may) fillDevices();
    return true;
  }

  async function poll() {
    while (!ctx.stale() && await loadDevices()) await sleep(DEVICES_EVERY_MS);
  }

  const el = card("Devices & live capture", list, form, msg, liveBox,
    may ? registerForm(async () => { st.key = ""; await loadDevices(); }) : null);
  el.classList.add("devices-card");
  poll();
  return el;
}

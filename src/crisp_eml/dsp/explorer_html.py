"""Self-contained HTML page for the feature explorer: an SVG scatter of the 2D embedding, coloured by label.

Pure rendering (no I/O, no CDN): points are drawn as SVG circles by a few lines of inline JavaScript;
hovering shows the sample and window, clicking a legend entry hides or shows that label. A table lists the
most discriminative features (ANOVA F and mutual information).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Feature explorer - __TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
#plot{border:1px solid #ccc;background:#fff}
.legend span{cursor:pointer;margin-right:1em;user-select:none}
.legend span.off{opacity:.3}
#tip{position:absolute;pointer-events:none;background:#222;color:#fff;padding:2px 6px;border-radius:3px;
font-size:12px;display:none}
table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #ddd;padding:2px 8px;font-size:13px}
</style></head><body>
<h1>Feature explorer</h1>
<p>__SUMMARY__</p>
<div class="legend" id="legend"></div>
<svg id="plot" width="720" height="540" viewBox="0 0 720 540"></svg>
<div id="tip"></div>
<h2>Feature importance</h2>
<table><tr><th>feature</th><th>ANOVA F</th><th>mutual information</th></tr>__ROWS__</table>
<script>
const D = __DATA__;
const svg = document.getElementById('plot'), tip = document.getElementById('tip');
const W = 720, H = 540, P = 30, NS = 'http://www.w3.org/2000/svg';
const xs = D.points.map(p => p[0]), ys = D.points.map(p => p[1]);
const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
const sx = v => P + (W - 2 * P) * (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5);
const sy = v => H - P - (H - 2 * P) * (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5);
const hidden = new Set(), dots = [];
D.points.forEach((p, i) => {
  const c = document.createElementNS(NS, 'circle');
  c.setAttribute('cx', sx(p[0])); c.setAttribute('cy', sy(p[1])); c.setAttribute('r', 4);
  c.setAttribute('fill', D.colors[D.labels[i]]); c.setAttribute('fill-opacity', 0.75);
  c.addEventListener('mousemove', e => { tip.style.display = 'block'; tip.style.left = (e.pageX + 10) + 'px';
    tip.style.top = (e.pageY + 10) + 'px'; tip.textContent = D.labels[i] + ' | ' + D.names[i]; });
  c.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  svg.appendChild(c); dots.push(c);
});
const lg = document.getElementById('legend');
Object.keys(D.colors).forEach(l => {
  const s = document.createElement('span');
  s.innerHTML = '<b style="color:' + D.colors[l] + '">&#9679;</b> ';
  s.appendChild(document.createTextNode(l || '(unlabeled)'));
  s.onclick = () => { if (hidden.has(l)) hidden.delete(l); else hidden.add(l); s.classList.toggle('off');
    dots.forEach((d, i) => { d.style.display = hidden.has(D.labels[i]) ? 'none' : ''; }); };
  lg.appendChild(s);
});
</script></body></html>
"""


def render_explorer_html(
    embedding: np.ndarray, labels: Sequence[str], names: Sequence[str], *, title: str, summary: str,
    importance: Sequence[dict[str, Any]],
) -> str:
    label_names = sorted(set(labels))
    colors = {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(label_names)}
    data = {"points": [[round(float(a), 5), round(float(b), 5)] for a, b in np.asarray(embedding)[:, :2]],
            "labels": list(labels), "names": list(names), "colors": colors}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    rows = "".join(
        f"<tr><td>{html.escape(str(r['name']))}</td><td>{r['f_score']:.4g}</td>"
        f"<td>{r['mutual_info']:.4g}</td></tr>" for r in importance)
    return (_TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__SUMMARY__", html.escape(summary))
            .replace("__ROWS__", rows).replace("__DATA__", payload))

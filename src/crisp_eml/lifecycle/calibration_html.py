"""Self-contained HTML report of a post-processing calibration (interactive plotly charts, no CDN).

Sections: the chosen setting and its figures against the ceilings, the stream (length, events, labels), the
FAR/h vs FRR trade-off per target label and overall (every setting as a point, the Pareto front as a line, the
chosen point marked), a timeline of a stream excerpt (signal envelope, events, scores, the chosen setting's
detections) and the table of the best settings. ``plotly.min.js`` of the installed ``plotly`` package is
embedded once, so the file opens offline. Pure: returns bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from crisp_eml.core.calibration import pareto

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
        ".ok{color:#080}.bad{color:#b00}.plot{width:100%;height:420px}")


def _plotly_js() -> str:
    from pathlib import Path

    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100.0 * v:.1f}%"


def _figure(div: str, traces: list[dict[str, Any]], layout: dict[str, Any]) -> str:
    data = json.dumps({"data": traces, "layout": layout}).replace("</", "<\\/")
    return (f'<div id="{div}" class="plot"></div><script>(function(){{var f={data};'
            f'Plotly.newPlot("{div}",f.data,f.layout,{{displaylogo:false,responsive:true}});}})();</script>')


def _tradeoff(name: str, points: Sequence[tuple[float, float]], labels: Sequence[str], chosen: int,
              div: str) -> str:
    front = pareto(points)
    traces = [
        {"type": "scatter", "mode": "markers", "name": "settings", "x": [p[0] for p in points],
         "y": [100 * p[1] for p in points], "text": list(labels), "hoverinfo": "text+x+y",
         "marker": {"color": "#9aa", "size": 5}},
        {"type": "scatter", "mode": "lines+markers", "name": "trade-off (Pareto front)",
         "x": [points[i][0] for i in front], "y": [100 * points[i][1] for i in front],
         "text": [labels[i] for i in front], "hoverinfo": "text+x+y", "line": {"color": _COLORS[0]}},
        {"type": "scatter", "mode": "markers", "name": "chosen", "x": [points[chosen][0]],
         "y": [100 * points[chosen][1]], "text": [labels[chosen]], "hoverinfo": "text+x+y",
         "marker": {"color": _COLORS[1], "size": 14, "symbol": "star"}},
    ]
    layout = {"title": {"text": f"{html.escape(name)}: false rejects vs false accepts per hour"},
              "xaxis": {"title": {"text": "false accepts per hour"}, "rangemode": "tozero"},
              "yaxis": {"title": {"text": "false reject rate (%)"}, "rangemode": "tozero"},
              "margin": {"t": 50}}
    return _figure(div, traces, layout)


def _timeline(tl: Mapping[str, Any], labels: Sequence[str], targets: Sequence[str]) -> str:
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": "signal (|x| envelope, axis 0)", "x": tl["envelope_t"],
         "y": tl["envelope"], "yaxis": "y2", "line": {"color": "#bbb", "width": 1}}]
    for k, lb in enumerate(labels):
        if lb in targets:
            traces.append({"type": "scatter", "mode": "lines", "name": f"score {lb}", "x": tl["step_t"],
                           "y": tl["scores"][lb], "line": {"color": _COLORS[k % len(_COLORS)]}})
    for k, lb in enumerate(labels):
        dets = [d["t"] for d in tl["detections"] if d["label"] == lb]
        if dets:
            traces.append({"type": "scatter", "mode": "markers", "name": f"detected {lb}", "x": dets,
                           "y": [1.05] * len(dets), "marker": {"symbol": "triangle-down", "size": 11,
                                                               "color": _COLORS[k % len(_COLORS)]}})
    shapes = [{"type": "rect", "xref": "x", "yref": "paper", "x0": e["start_s"], "x1": e["end_s"], "y0": 0, "y1": 1,
               "fillcolor": _COLORS[labels.index(e["label"]) % len(_COLORS)] if e["label"] in labels else "#999",
               "opacity": 0.15, "line": {"width": 0}} for e in tl["events"]]
    annotations = [{"x": (e["start_s"] + e["end_s"]) / 2, "y": 1.0, "yref": "paper", "text": html.escape(e["label"]),
                    "showarrow": False, "yanchor": "bottom"} for e in tl["events"]]
    layout = {"title": {"text": "stream excerpt: events (shaded), scores per window end, detections"},
              "xaxis": {"title": {"text": "time (s)"}, "range": [tl["t0"], tl["t1"]]},
              "yaxis": {"title": {"text": "score"}, "range": [0, 1.12]},
              "yaxis2": {"overlaying": "y", "side": "right", "showgrid": False, "showticklabels": False},
              "shapes": shapes, "annotations": annotations, "margin": {"t": 60}}
    return _figure("timeline", traces, layout)


def _thresholds(r: Mapping[str, Any]) -> str:
    """One shared threshold, or each label's own."""
    own = r.get("thresholds")
    return " ".join(f"{k}:{v:.2f}" for k, v in own.items()) if own else f"{r['threshold']:.2f}"


def _setting_label(r: Mapping[str, Any]) -> str:
    return f"N={r['average_windows']} thr={_thresholds(r)} S={r['suppression_steps']}"


def render_html(doc: Mapping[str, Any]) -> bytes:
    """The report for one calibration ``doc`` (as :func:`crisp_eml.workspace.calibrate.calibrate` builds it)."""
    grid: list[dict[str, Any]] = list(doc["grid"])
    chosen = doc["chosen"]
    stream, crit = doc["stream"], doc["criteria"]
    labels: list[str] = list(doc["labels"])
    targets: list[str] = list(stream["target_labels"])
    idx = next(i for i, r in enumerate(grid) if all(r[k] == chosen[k] for k in
                                                    ("average_windows", "threshold", "suppression_steps")))
    names = [_setting_label(r) for r in grid]
    plots = [_tradeoff("all target labels", [(r["far_per_hour"], r["frr"] if r["frr"] is not None else 1.0)
                                             for r in grid], names, idx, "tradeoff-all")]
    for j, lb in enumerate(targets):
        pts = [(r["per_label"][lb]["far_per_hour"], r["per_label"][lb]["frr"] if r["per_label"][lb]["frr"]
                is not None else 1.0) for r in grid]
        plots.append(_tradeoff(lb, pts, names, idx, f"tradeoff-{j}"))
    met = chosen["met"]
    verdict = (f'<p class="{"ok" if met else "bad"}"><b>{"Meets" if met else "Does not meet"}</b> FAR &le; '
               f'{crit["max_far_per_hour"]:g}/h ({html.escape(str(crit["max_far_source"]))})'
               + (f', FRR &le; {_pct(crit["max_frr"])} ({html.escape(str(crit["max_frr_source"]))})'
                  if crit.get("max_frr") is not None else "")
               + ("" if met else ": the nearest setting (lowest FAR) is shown") + "</p>")
    per_rows = "".join(
        f"<tr><th>{html.escape(lb)}</th><td>{v['events']}</td><td>{v['rejected']}</td><td>{_pct(v['frr'])}</td>"
        f"<td>{v['false_accepts']}</td><td>{v['far_per_hour']:.2f}</td></tr>" for lb, v in chosen["per_label"].items())
    best = sorted(range(len(grid)), key=lambda i: (grid[i]["far_per_hour"] > crit["max_far_per_hour"] + 1e-12,
                                                   grid[i]["frr"] if grid[i]["frr"] is not None else 1.0,
                                                   grid[i]["far_per_hour"]))[:15]
    top_rows = "".join(
        f"<tr><td>{grid[i]['average_windows']}</td><td>{html.escape(_thresholds(grid[i]))}</td>"
        f"<td>{grid[i]['suppression_steps']}</td><td>{grid[i]['far_per_hour']:.2f}</td><td>{_pct(grid[i]['frr'])}"
        f"</td><td>{'&#9733;' if i == idx else ''}</td></tr>" for i in best)
    pp = chosen["postprocess"]
    counts = ", ".join(f"{html.escape(k)}: {v}" for k, v in stream["events_per_label"].items())
    body = f"""<h1>Post-processing calibration: {html.escape(str(doc['model']))}</h1>
{verdict}
<h2>Chosen setting</h2>
<p>moving average over <b>{pp["average_windows"]}</b> windows,
threshold <b>{html.escape(_thresholds(chosen))}</b> for
{html.escape(', '.join(targets))} (background labels {html.escape(', '.join(stream['background_labels']))} never
fire), suppression <b>{pp['suppression_steps']}</b> steps ({chosen['suppression_ms']:.0f} ms).
False accepts per hour: <b>{chosen['far_per_hour']:.2f}</b>; false reject rate: <b>{_pct(chosen['frr'])}</b>.</p>
<table><tr><th>label</th><th>events</th><th>rejected</th><th>FRR</th><th>false accepts</th><th>FAR/h</th></tr>
{per_rows}</table>
<h2>Stream</h2>
<p>{stream['hours']:.3f} h at {stream['frequency_hz']:g} Hz ({stream['steps']} windows, a result every
{stream['step_ms']:.0f} ms), seed {stream['seed']}; {stream['events']} events ({counts}) from
{stream['target_clips']} testing recordings, at least {stream['min_gap_s']:.1f} s apart, over
{stream['background_clips']} background recordings repeated in random order. Model run: {html.escape(
        str(stream['engine']))}. Model sha256 <code>{html.escape(str(doc['model_sha256']))}</code>.</p>
<h2>Trade-off</h2>
{''.join(plots)}
<h2>Timeline</h2>
{_timeline(doc['timeline'], labels, targets)}
<h2>Best settings</h2>
<table><tr><th>N</th><th>threshold</th><th>suppression steps</th><th>FAR/h</th><th>FRR</th><th>chosen</th></tr>
{top_rows}</table>"""
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Calibration "
            f"{html.escape(str(doc['model']))}</title><style>{_CSS}</style><script>{_plotly_js()}</script>"
            f"</head><body>{body}</body></html>")
    return page.encode("utf-8")

"""Render the project report / model card (HTML and PDF) from the data the report use case gathers.

Written for a business leader and a domain expert first: a verdict at the top, requirements vs what
was achieved in plain units, then data, results (confusion matrix, float vs int8), on-device budget,
lineage, gate history and known limitations. Charts are matplotlib PNGs; the PDF uses reportlab.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import ToolMissingError
from crisp_eml.core.requirements import format_value, split_key

_UNITS = ("ratio", "bytes", "ms", "count", "score")


def _fmt(unit: str, v: Any) -> str:
    if v is None:
        return "-"
    return format_value(unit, v) if unit in _UNITS else str(v)


def verdict(data: dict[str, Any]) -> str:
    gate = data.get("gate")
    if data.get("model") is None:
        return "No model yet: the project has not reached Model Development."
    if gate is None:
        return f"{data['model']['uri']} has not been gated yet."
    if gate["passed"]:
        return f"{data['model']['uri']} meets all {len(gate['rows'])} requirements (gate #{gate['id']})."
    return (f"{data['model']['uri']} does NOT meet {len(gate['failed'])} of {len(gate['rows'])} requirements: "
            f"{', '.join(gate['failed'])}.")


def requirement_rows(data: dict[str, Any]) -> list[list[str]]:
    """requirement, wanted, achieved, result, evidence: from the latest gate, else from requirements alone."""
    gate = data.get("gate")
    if gate:
        out = []
        for r in gate["rows"]:
            op = {"min": ">= ", "max": "<= "}.get(r["direction"], "")
            out.append([r["requirement"], op + _fmt(r["unit"], r["threshold"]), _fmt(r["unit"], r["measured"]),
                        "PASS" if r["passed"] else "FAIL", r["note"] or r["source"]])
        return out
    rows = []
    for key, value in data["requirements"]["kpis"].items():
        kpi, _ = split_key(key)
        rows.append([key, ("<= " if kpi.direction == "max" else ">= ") + _fmt(kpi.unit, value), "-", "not gated", ""])
    return rows


def metric_rows(data: dict[str, Any]) -> list[list[str]]:
    """float32 vs int8 test figures when the run recorded them."""
    f32 = data.get("details", {}).get("float32") or {}
    i8 = data.get("details", {}).get("int8") or {}
    ev = data.get("evidence", {}).get("items", {})

    def show(v: Any, pct: bool) -> str:
        if not isinstance(v, int | float):
            return "-"
        return f"{100 * v:.1f}%" if pct else f"{v:.4f}"

    rows = []
    for key, title in (("accuracy", "accuracy"), ("f1", "macro F1"), ("loss", "loss")):
        a = f32.get(key)
        b = i8.get(key, ev.get(key, {}).get("value") if key != "loss" else None)
        if isinstance(a, int | float) or isinstance(b, int | float):
            rows.append([title, show(a, key != "loss"), show(b, key != "loss")])
    for key, title in (("far", "false-accept rate"), ("frr", "false-reject rate")):
        if key in ev:
            rows.append([title, "-", f"{100 * float(ev[key]['value']):.1f}%"])
    return rows


def device_rows(data: dict[str, Any]) -> list[list[str]]:
    ev = data.get("evidence", {}).get("items", {})
    kpis = data["requirements"]["kpis"]
    rows = []
    for ev_key, kpi_key, unit, title in (("ram_bytes", "max_ram_bytes", "bytes", "RAM"),
                                         ("flash_bytes", "max_flash_bytes", "bytes", "flash"),
                                         ("latency_ms", "max_latency_ms", "ms", "latency")):
        item = ev.get(ev_key)
        budget = kpis.get(kpi_key)
        pct = 100 * float(item["value"]) / float(budget) if item and budget else None
        share = "-" if pct is None else (f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%")
        rows.append([title, _fmt(unit, item["value"]) if item else "no evidence", _fmt(unit, budget), share,
                     item["source"] if item else ""])
    return rows


def confusion_png(data: dict[str, Any]) -> bytes | None:
    i8 = data.get("details", {}).get("int8") or {}
    labels = i8.get("labels") or i8.get("classes")
    cm = i8.get("confusion_matrix") or i8.get("confusion")
    if not (isinstance(labels, list) and isinstance(cm, list) and labels):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * n, 1.0 + 0.8 * n), dpi=110)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), [str(x) for x in labels], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(x) for x in labels], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    top = max((max(r) for r in cm), default=1) or 1
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i][j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i][j] > top / 2 else "black")
    ax.set_title("int8 model on the test set (windows)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def budget_png(data: dict[str, Any]) -> bytes | None:
    rows = [(r[0], r[3]) for r in device_rows(data) if r[3] != "-"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r[0] for r in rows]
    shares = [float(r[1].rstrip("%")) for r in rows]
    fig, ax = plt.subplots(figsize=(5.0, 0.6 + 0.45 * len(rows)), dpi=110)
    colors = ["#2e7d32" if v <= 100 else "#c62828" for v in shares]
    ax.barh(names, shares, color=colors)
    ax.axvline(100, color="black", linewidth=1, linestyle="--")
    ax.set_xlabel("% of the budget set in the requirements")
    ax.set_xlim(0, max(110.0, max(shares) * 1.1))
    ax.invert_yaxis()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


# -- HTML ----------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;
color:#1b1b1b;padding:0 1em;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top;font-size:.93em}th{background:#f3f3f3}
.pass{color:#1b5e20;font-weight:600}.fail{color:#b71c1c;font-weight:600}
.verdict{font-size:1.15em;padding:.7em 1em;border-radius:6px;background:#f5f5f5;border-left:6px solid #999}
.ok{border-left-color:#2e7d32}.bad{border-left-color:#c62828}.muted{color:#666;font-size:.9em}
"""


def _table(head: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        s = html.escape("" if v is None else str(v))
        if s in ("PASS", "FAIL"):
            return f'<td class="{s.lower()}">{s}</td>'
        return f"<td>{s}</td>"

    h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def _img(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def sections(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]], str]]:
    """(title, header, rows, empty-text) for every table section, shared by HTML and PDF."""
    d = data["data"]
    per_class = [[k, v.get("training", 0), v.get("testing", 0)] for k, v in d["per_class"].items()]
    q = d.get("quality_score")
    out: list[tuple[str, list[str], list[list[Any]], str]] = [
        ("Requirements vs achieved", ["requirement", "wanted", "achieved", "result", "evidence"],
         requirement_rows(data), "No requirements set yet."),
        ("Data", ["class", "training samples", "test samples"], per_class, "No samples yet."),
        ("Dataset versions", ["version", "message", "digest", "author", "at"],
         [[v["id"], v["message"], v["digest"], v["author"], v["at"]] for v in d["versions"]],
         "No dataset snapshot yet."),
        ("Test results: float32 vs int8", ["metric", "float32", "int8"], metric_rows(data),
         "No test results recorded for this model."),
        ("On the device", ["resource", "needed", "budget", "share of budget", "evidence"], device_rows(data), ""),
        ("Lineage", ["step", "artifact"], data.get("lineage", []), "No model yet."),
        ("Gate results", ["gate", "at", "by", "requirements", "result", "failed"],
         [[f"#{g['id']}", g["at"].replace("T", " ")[:16], g["actor"], f"v{g['requirements_version']}",
           "PASS" if g["passed"] else "FAIL", ", ".join(g["failed"]) or "-"] for g in data.get("gates", [])]
         + [[f"override #{o['id']}", o["at"].replace("T", " ")[:16], o["actor"], "",
             f"'{o['alias']}' despite gate", o["reason"]]
            for o in data.get("overrides", [])],
         "No gate has been run for this model."),
        ("Lifecycle phases", ["phase", "state", "why"],
         [[p["title"], p["state"], p["why"]] for p in data["phases"]["phases"]], ""),
    ]
    if q is not None:
        out[1] = (f"Data ({d['samples']} samples, {d['seconds']} s, quality score {q:.0f}/100)", *out[1][1:])
    else:
        out[1] = (f"Data ({d['samples']} samples, {d['seconds']} s, quality not checked)", *out[1][1:])
    return out


def render_html(data: dict[str, Any], path: Path) -> Path:
    gate = data.get("gate")
    cls = "ok" if gate and gate["passed"] else "bad" if gate else ""
    reqs = data["requirements"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(data['project'])} - "
             f"model card</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(data['project'])}: project report and model card</h1>",
             f"<p class='muted'>Generated {html.escape(data['generated_at'])} by crisp-eml. Target device: "
             f"<b>{html.escape(str(reqs.get('target') or 'not chosen'))}</b>; requirements version "
             f"{reqs.get('version', 0)}.</p>",
             f"<p class='verdict {cls}'>{html.escape(verdict(data))}</p>"]
    for title, head, rows, empty in sections(data):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(_table(head, rows) if rows else f"<p class='muted'>{html.escape(empty)}</p>")
        if title.startswith("Test results"):
            parts.append(_img(confusion_png(data), "confusion matrix"))
        if title == "On the device":
            parts.append(_img(budget_png(data), "resources against budget"))
    parts.append("<h2>Known limitations</h2>")
    lims = data.get("limitations") or ["None recorded."]
    parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lims) + "</ul>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# -- PDF -----------------------------------------------------------------------------------------------
def render_pdf(data: dict[str, Any], path: Path) -> Path:
    try:
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.lib.units import cm
        from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError as exc:
        raise ToolMissingError("the PDF report needs reportlab: pip install 'crisp-eml[reports]'") from exc

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    story: list[Any] = [Paragraph(f"{html.escape(data['project'])}: project report and model card", styles["Title"])]
    reqs = data["requirements"]
    story.append(Paragraph(f"Generated {html.escape(data['generated_at'])}. Target device: "
                           f"<b>{html.escape(str(reqs.get('target') or 'not chosen'))}</b>; requirements version "
                           f"{reqs.get('version', 0)}.", styles["BodyText"]))
    gate = data.get("gate")
    color = "#2e7d32" if gate and gate["passed"] else "#c62828" if gate else "#555555"
    story.append(Spacer(1, 0.3 * cm))
    story.append(Paragraph(f'<font color="{color}"><b>{html.escape(verdict(data))}</b></font>', styles["Heading3"]))
    width = A4[0] - 3 * cm

    def add_png(png: bytes | None, max_w: float) -> None:
        if not png:
            return
        from reportlab.lib.utils import ImageReader

        w, h = ImageReader(io.BytesIO(png)).getSize()
        scale = min(1.0, max_w / w)
        story.append(Image(io.BytesIO(png), width=w * scale * 0.6, height=h * scale * 0.6))

    for title, head, rows, empty in sections(data):
        story.append(Paragraph(html.escape(title), styles["Heading2"]))
        if not rows:
            story.append(Paragraph(html.escape(empty), small))
            continue
        cells = [[Paragraph(f"<b>{html.escape(h)}</b>", small) for h in head]]
        for r in rows:
            row = []
            for v in r:
                s = html.escape("" if v is None else str(v))
                if s == "PASS":
                    s = '<font color="#1b5e20"><b>PASS</b></font>'
                elif s == "FAIL":
                    s = '<font color="#b71c1c"><b>FAIL</b></font>'
                row.append(Paragraph(s, small))
            cells.append(row)
        t = Table(cells, colWidths=[width / len(head)] * len(head), repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(t)
        if title.startswith("Test results"):
            add_png(confusion_png(data), width)
        if title == "On the device":
            add_png(budget_png(data), width)
    story.append(Paragraph("Known limitations", styles["Heading2"]))
    for line in data.get("limitations") or ["None recorded."]:
        story.append(Paragraph("&bull; " + html.escape(line), styles["BodyText"]))
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=1.5 * cm, rightMargin=1.5 * cm,
                            topMargin=1.5 * cm, bottomMargin=1.5 * cm, title=f"{data['project']} model card",
                            author="crisp-eml")
    doc.build(story)
    return path

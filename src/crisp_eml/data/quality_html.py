"""The self-contained HTML quality report: tables plus matplotlib figures embedded as base64 PNG.

Renders to a string (no files): ``workspace/check.py`` decides where it goes. Figures: class balance
per category, one example signal (or image) per class, and the histogram of sample scores.
matplotlib is imported lazily with the non-interactive Agg backend.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crisp_eml.data.quality import QualityReport


@dataclass(frozen=True)
class Example:
    """One sample's signal shown for its class."""

    label: str
    name: str
    kind: str
    array: np.ndarray
    axes: Sequence[str]
    frequency_hz: float | None


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(b64: str, alt: str) -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/>' \
           f"<figcaption>{html.escape(alt)}</figcaption></figure>"


def _balance_figure(counts: Mapping[str, Mapping[str, int]]) -> str:
    plt = _plt()
    labels = sorted({lbl for per in counts.values() for lbl in per})
    cats = list(counts)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 2), 3))
    width = 0.8 / max(1, len(cats))
    x = np.arange(len(labels))
    for k, cat in enumerate(cats):
        ax.bar(x + k * width, [counts[cat].get(lbl, 0) for lbl in labels], width, label=cat)
    ax.set_xticks(x + width * (len(cats) - 1) / 2, labels, rotation=30, ha="right")
    ax.set_ylabel("samples")
    ax.set_title("Class balance per category")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def _score_figure(scores: Sequence[float]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(scores, bins=np.linspace(0, 100, 21), color="#4a7", edgecolor="black")
    ax.set_xlabel("sample score")
    ax.set_ylabel("samples")
    ax.set_title("Sample score histogram")
    return _png(fig)


def _example_figure(ex: Example) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 2.6))
    if ex.kind == "image":
        a = np.asarray(ex.array)
        ax.imshow(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a, cmap="gray")
        ax.axis("off")
    else:
        a = np.asarray(ex.array, dtype=np.float64)
        a = a.reshape(-1, 1) if a.ndim == 1 else a.reshape(a.shape[0], -1)
        t = np.arange(a.shape[0]) / ex.frequency_hz if ex.frequency_hz else np.arange(a.shape[0])
        step = max(1, a.shape[0] // 4000)  # long audio: plot every n-th point
        for j in range(a.shape[1]):
            name = ex.axes[j] if j < len(ex.axes) else f"axis{j}"
            ax.plot(t[::step], a[::step, j], linewidth=0.8, label=name)
        ax.set_xlabel("s" if ex.frequency_hz else "index")
        if a.shape[1] <= 8:
            ax.legend(fontsize=6, loc="upper right")
    ax.set_title(f"{ex.label}: {ex.name}", fontsize=9)
    return _png(fig)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


CSS = """body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}th{background:#eee}figure{display:inline-block;margin:.5em}
.gold{color:#b8860b}.silver{color:#708090}.bronze{color:#8c5a2b}"""


def render_html(report: QualityReport, examples: Sequence[Example], *, title: str = "Data quality") -> str:
    """The whole report as one HTML document with every figure inline."""
    d = report.to_dict()
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Dataset score <b>{d['score']}</b> — tier <b class='{report.tier}'>{report.tier}</b>; "
             f"{d['n_samples']} samples in layer <code>{html.escape(report.layer)}</code>; dominant rate "
             f"{report.dominant_rate_hz if report.dominant_rate_hz is not None else 'n/a'} Hz; class ratio "
             f"{d['balance'].get('ratio', 0)}, entropy {d['balance'].get('entropy', 0)}.</p>",
             "<h2>Dataset issues</h2>"]
    if report.dataset_issues:
        parts.append(_table(["code", "severity", "penalty", "message"],
                            [(i.code, i.severity, i.penalty, i.message) for i in report.dataset_issues]))
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Label counts per category</h2>")
    labels = sorted({lbl for per in report.label_counts.values() for lbl in per})
    parts.append(_table(["label", *report.label_counts],
                        [(lbl, *(per.get(lbl, 0) for per in report.label_counts.values())) for lbl in labels]))
    parts.append("<h2>Figures</h2>")
    if report.label_counts:
        parts.append(_img(_balance_figure(report.label_counts), "class balance per category"))
    if report.samples:
        parts.append(_img(_score_figure([s.score for s in report.samples]), "sample score histogram"))
    parts.append("<h2>Per-class signal examples</h2>")
    for ex in examples:
        parts.append(_img(_example_figure(ex), f"example of class {ex.label}"))
    parts.append("<h2>Issue counts</h2>")
    parts.append(_table(["issue", "samples"], list(report.issue_counts.items())) if report.issue_counts
                 else "<p>None.</p>")
    flagged = [s for s in report.samples if s.issues and s.score < 100]
    parts.append(f"<h2>Samples with penalties ({len(flagged)})</h2>")
    parts.append(_table(["name", "label", "category", "score", "issues"],
                        [(s.name, s.label, s.category, round(s.score, 1),
                          "; ".join(i.message for i in s.issues if i.penalty > 0)) for s in flagged]))
    parts.append("</body></html>")
    return "\n".join(parts)

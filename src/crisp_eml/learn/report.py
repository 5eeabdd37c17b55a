"""Self-contained HTML training report of a run (plots embedded as base64 PNGs; no external assets).

Sections: summary, training curves, confusion matrix, per-class table, feature explorer (2D PCA of the
test features colored correct/incorrect), float32 vs int8 comparison. Pure: returns bytes.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def curves_png(history: dict[str, list[float]]) -> str | None:
    if not history.get("loss"):
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, ax in (("loss", axes[0]), ("accuracy" if "accuracy" in history else "mae", axes[1])):
        for k in (key, "val_" + key):
            if k in history:
                ax.plot(range(1, len(history[k]) + 1), history[k], label=k)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    return _png(fig)


def confusion_png(cm: list[list[int]], labels: list[str], title: str) -> str:
    plt = _plt()
    arr = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(labels), 1.0 + 0.6 * len(labels)))
    ax.imshow(arr, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            ax.text(j, i, str(arr[i, j]), ha="center", va="center",
                    color="white" if arr[i, j] > arr.max() / 2 else "black")
    return _png(fig)


def explorer_png(X: np.ndarray, correct: np.ndarray, labels: list[str], y: np.ndarray) -> str | None:
    """2D PCA projection of the (standardized) test features; o = correct, x = incorrect."""
    if len(X) < 3:
        return None
    Z = X.reshape(len(X), -1).astype(np.float64)
    Z = (Z - Z.mean(0)) / np.where(Z.std(0) > 1e-12, Z.std(0), 1.0)
    _, _, vt = np.linalg.svd(Z, full_matrices=False)
    P = Z @ vt[:2].T
    if P.shape[1] < 2:
        P = np.column_stack([P[:, 0], np.zeros(len(P))])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    cmap = plt.get_cmap("tab10")
    for i, lab in enumerate(labels):
        for ok, marker in ((True, "o"), (False, "x")):
            sel = (y == i) & (correct == ok)
            if sel.any():
                ax.scatter(P[sel, 0], P[sel, 1], s=18 if ok else 40, marker=marker, color=cmap(i % 10),
                           label=f"{lab} ({'correct' if ok else 'incorrect'})")
    ax.set_title("Feature explorer (PCA of test features)")
    ax.legend(fontsize=7)
    return _png(fig)


def _table(rows: list[list[Any]], head: list[str]) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "" if v is None else str(v)


def render(run: dict[str, Any], metrics: dict[str, Any], *, X_test: np.ndarray | None = None,
           y_test: np.ndarray | None = None) -> bytes:
    """The report of one run. ``run`` has id/learning type/params; ``metrics`` is the run's metrics JSON."""
    parts = [f"<h1>Training report — run {html.escape(str(run.get('id', '')))}</h1>"]
    parts.append(_table([[k, v] for k, v in (
        ("learning block", run.get("learning_type")), ("seed", run.get("seed")),
        ("dataset version", run.get("dataset_version")), ("impulse", run.get("impulse_hash")),
        ("epochs run", metrics.get("epochs_run")), ("windows", metrics.get("windows")),
        ("overfit warning", metrics.get("overfit_warning") or "none"))], ["", ""]))
    png = curves_png(metrics.get("history", {}))
    if png:
        parts.append(f"<h2>Training curves</h2><img src='{png}'>")
    test = metrics.get("test", {})
    labels = metrics.get("labels", [])
    if "float32" in test or "int8" in test:
        parts.append("<h2>float32 vs int8 (TFLite Micro, testing set)</h2>")
        rows = []
        for v in ("float32", "int8"):
            m = test.get(v, {})
            size = metrics.get("model", {}).get(v, {})
            rows.append([v, m.get("accuracy", m.get("mae")), m.get("balanced_accuracy", m.get("rmse")),
                         m.get("f1"), size.get("bytes"), size.get("arena_bytes")])
        parts.append(_table(rows, ["variant", "accuracy / MAE", "balanced accuracy / RMSE", "macro F1",
                                   "model bytes", "TFLM arena bytes"]))
        if metrics.get("int8_accuracy_drop") is not None:
            parts.append(f"<p>int8 accuracy drop: {100 * metrics['int8_accuracy_drop']:.2f} points</p>")
    for v in ("int8", "float32", "model"):
        m = test.get(v)
        if not m or "confusion_matrix" not in m:
            continue
        cm_labels = m.get("labels", labels)
        parts.append(f"<h2>Confusion matrix ({v})</h2><img src='{confusion_png(m['confusion_matrix'], cm_labels, v)}'>")
        if m.get("per_class"):
            rows = [[k, c["precision"], c["recall"], c["f1"], c["support"]] for k, c in m["per_class"].items()]
            parts.append(_table(rows, ["class", "precision", "recall", "F1", "support"]))
        if m.get("roc_auc") is not None:
            parts.append(f"<p>ROC-AUC: {m['roc_auc']:.4f}, threshold {m.get('threshold')}</p>")
        break
    if X_test is not None and y_test is not None and "int8" in test and "predictions" in test["int8"]:
        correct = np.asarray(test["int8"]["predictions"]) == y_test
        png = explorer_png(X_test, correct, labels, y_test)
        if png:
            parts.append(f"<h2>Feature explorer</h2><img src='{png}'>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}")
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>crisp-eml run {html.escape(str(run.get('id')))}"
           f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")
    return doc.encode()

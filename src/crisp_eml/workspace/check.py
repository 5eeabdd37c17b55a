"""Use case: check a dataset layer's quality (``eml data check``) and write the HTML report.

Loads every enabled sample's blob once, runs the pure checks of ``data/quality.py`` on it, adds the
duplicate, near-duplicate and dataset-wide checks, and returns a :class:`QualityReport` whose ``score``
the lifecycle gates read. The check is read-only apart from one ``dataset.check`` audit entry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from crisp_eml.core.errors import EmlError, InputError
from crisp_eml.core.sample import Sample
from crisp_eml.data import quality as q
from crisp_eml.data.samples import decode_array, list_samples, load_array
from crisp_eml.store.blobs import sha256
from crisp_eml.store.project import Project
from crisp_eml.workspace.snapshot import check_layer, current_items, digest_items

Progress = Callable[[int, int, str], None]


def read_signal(project: Project, sample: Sample) -> tuple[np.ndarray | None, str | None]:
    """The sample's array, or None and the reason it cannot be read (missing, corrupt, undecodable)."""
    try:
        data = project.blobs.get(sample.hash)
    except EmlError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"blob {sample.hash[:12]} cannot be read: {exc}"
    if sha256(data) != sample.hash:
        return None, f"blob {sample.hash[:12]} is corrupt (content does not match its hash)"
    try:
        arr = decode_array(data)
    except Exception as exc:  # noqa: BLE001 - any decode failure makes the sample unreadable
        return None, f"blob {sample.hash[:12]} is not a valid array: {exc}"
    if list(arr.shape) != list(sample.shape):
        return None, f"stored shape {list(arr.shape)} differs from the recorded {list(sample.shape)}"
    return arr, None


def _timestamps(sample: Sample) -> list[float] | None:
    ts = sample.metadata.get("timestamps_ms")
    if isinstance(ts, list) and all(isinstance(t, int | float) for t in ts):
        return [float(t) for t in ts]
    return None


def check_dataset(
    project: Project, *, layer: str = "raw", window_ms: float | None = None, on_progress: Progress | None = None,
    audit: bool = True,
) -> q.QualityReport:
    """Score every enabled sample of ``layer`` and the dataset as a whole."""
    check_layer(layer)
    if window_ms is not None and (not np.isfinite(window_ms) or window_ms <= 0):
        raise InputError(f"must be a positive number of milliseconds, got {window_ms!r}", field="window-ms")
    samples = list_samples(project, layer=layer)
    dominant = q.dominant_rate([s.frequency_hz for s in samples if s.kind != "image"])
    results: list[q.SampleQuality] = []
    vectors: list[np.ndarray | None] = []
    for i, s in enumerate(samples):
        sq = q.SampleQuality(s.id, s.name, s.label, s.category, s.kind)
        arr, why = read_signal(project, s)
        if arr is None:
            sq.issues.append(q.Issue("unreadable", q.ERROR, 100.0, why or "unreadable"))
            vectors.append(None)
        else:
            if s.kind == "image":
                sq.issues.extend(q.image_issues(arr))
            else:
                sq.issues.extend(q.signal_issues(arr, axes=s.axes, frequency_hz=s.frequency_hz, dominant_hz=dominant,
                                                 window_ms=window_ms, timestamps_ms=_timestamps(s), kind=s.kind))
            vectors.append(q.summary_vector(arr, s.kind))
        results.append(sq)
        if on_progress is not None:
            on_progress(i + 1, len(samples), s.name)
    dups = q.duplicate_of([s.hash for s in samples])
    for i, j in dups.items():
        results[i].issues.append(q.Issue("duplicate", q.WARNING, 30.0, f"same content as {samples[j].name}"))
    near = q.near_duplicate_pairs(vectors, [s.kind for s in samples], skip={(j, i) for i, j in dups.items()})
    for i, (j, sim) in near.items():
        if i not in dups:
            results[i].issues.append(q.Issue("near_duplicate", q.WARNING, 15.0,
                                             f"nearly identical to {samples[j].name} (similarity {sim:.3f})"))
    labels = [s.label for s in samples]
    cats = [s.category for s in samples]
    ds_issues = q.dataset_issues(labels, cats, [s.frequency_hz for s in samples], [s.kind for s in samples],
                                 [s.hash for s in samples])
    report = q.QualityReport(
        score=q.dataset_score(results, ds_issues), layer=layer, samples=results, dataset_issues=ds_issues,
        label_counts=q.label_counts(labels, cats), balance=q.balance_of(labels), dominant_rate_hz=dominant,
        window_ms=window_ms,
    )
    if audit:
        with project.session() as sess:
            digest = digest_items(current_items(sess, layer))
            project.record(sess, "dataset.check", {"layer": layer, "digest": digest, "score": round(report.score, 2),
                                                   "tier": report.tier, "samples": len(samples)})
    return report


def pick_examples(project: Project, report: q.QualityReport, per_class: int = 1) -> list[Sample]:
    """The best-scoring readable sample(s) of each class, for the report's example plots."""
    by_id = {s.id: s for s in list_samples(project, layer=report.layer)}
    best: dict[str, list[q.SampleQuality]] = {}
    for sq in sorted(report.samples, key=lambda x: (-x.score, x.name)):
        if any(i.code == "unreadable" for i in sq.issues) or sq.id not in by_id:
            continue
        lst = best.setdefault(sq.label or "(unlabeled)", [])
        if len(lst) < per_class:
            lst.append(sq)
    return [by_id[sq.id] for lbl in sorted(best) for sq in best[lbl]]


def html_target(path: str | Path) -> Path:
    """Validate where the HTML report goes before any work is done (so a bad path writes nothing)."""
    out = Path(path)
    if out.is_dir():
        raise InputError("is a folder; give a file name such as quality.html", source=str(out))
    if not out.parent.is_dir():
        raise InputError(f"its folder {out.parent} does not exist", source=str(out))
    return out


def write_html_report(project: Project, report: q.QualityReport, path: Path | str,
                      examples: Sequence[Sample] | None = None) -> Path:
    """Render the report with figures and write it atomically to ``path``."""
    from crisp_eml.data.quality_html import Example, render_html

    out = html_target(path)
    shown = list(examples) if examples is not None else pick_examples(project, report)
    exs = [Example(s.label or "(unlabeled)", s.name, s.kind, load_array(project, s), s.axes, s.frequency_hz)
           for s in shown]
    text = render_html(report, exs, title=f"Data quality — {project.name} ({report.layer})")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write the report: {exc.strerror or exc}", source=str(out)) from exc
    return out

"""Use case ``calibrate``: choose a model version's post-processing on a long synthetic stream (FAR/h vs FRR).

Steps: build a stream from the testing samples (background recordings with target events at known times,
:mod:`crisp_eml.data.streams`), render the model's C library and run it once over the whole stream through the
ctypes engine (:mod:`crisp_eml.runtime.engine`: the deployed C code, DSP included), score a grid of
post-processing settings on the int8 outputs (:mod:`crisp_eml.core.calibration`), choose one (the ceilings given,
else the requirements' ``max_false_accepts_per_hour`` / ``max_stream_false_reject_rate``, else FAR <= 1/h with the
lowest FRR), write the HTML report, and store the run in ``calibrations`` with a ``model.calibrate`` audit entry.
Deployments ship :func:`chosen_postprocess`; the gate reads the chosen setting's figures as evidence.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.calibration import (
    DEFAULT_MAX_FAR_PER_HOUR,
    Scored,
    Truth,
    choose,
    evaluate_grid,
    per_label_settings,
    settings_grid,
)
from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec, TimeSeriesInput
from crisp_eml.core.personas import Permission
from crisp_eml.core.postprocess import PostprocessConfig, is_background
from crisp_eml.data.streams import Clip, Stream, build_stream, default_gap_rows
from crisp_eml.lifecycle.evidence import latest_calibration
from crisp_eml.store.outputs import check_creatable, make_dirs
from crisp_eml.store.project import Project
from crisp_eml.store.tables.calibration import CalibrationRow
from crisp_eml.workspace.model_resolution import ModelVersionInfo, resolve_in_session

#: (stage, done, total): "stream", "model" (rows through the C library), "grid" (settings scored)
Progress = Callable[[str, int, int], None]
DEFAULT_HOURS = 0.25
FAR_KPI, FRR_KPI = "max_false_accepts_per_hour", "max_stream_false_reject_rate"
CHUNK_ROWS = 1 << 19
#: seconds of stream the report's timeline shows
EXCERPT_S = 60.0


def _impulse(s: Session, info: ModelVersionInfo) -> ImpulseSpec:
    from crisp_eml.store.tables.impulse import ImpulseVersionRow

    row = (s.execute(select(ImpulseVersionRow).where(ImpulseVersionRow.hash == info.impulse_hash)).scalars().first()
           if info.impulse_hash else None)
    if row is None:
        raise InputError(f"{info.uri} has no impulse (DSP): a stream of raw signal cannot be fed to it; calibrate "
                         "a model trained in this project", field="model")
    spec = ImpulseSpec.from_dict(row.spec)
    if not isinstance(spec.input, TimeSeriesInput):
        raise InputError(f"{info.uri} takes images: calibration needs a time-series or audio model", field="model")
    return spec


def _model_bytes(project: Project, info: ModelVersionInfo) -> bytes:
    if info.learning_type.startswith("anomaly"):
        raise InputError(f"{info.uri} is an anomaly model: calibration tunes a classifier's detections",
                         field="model")
    digest = next((v for k, v in info.artifacts.items() if "int8" in k and k.endswith(".tflite")), None)
    if digest is None:
        raise InputError(f"{info.uri} has no int8 .tflite artifact (artifacts: {', '.join(info.artifacts)})",
                         field="model")
    return bytes(project.blobs.get(digest))


def model_library(data: bytes, name: str, labels: Sequence[str], spec: ImpulseSpec, out_dir: Path) -> Path:
    """The model's C library (DSP in C) in ``out_dir``: what ``eml compile`` writes, without test vectors."""
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.model_render import render_model
    from crisp_eml.compiler.render import c_identifier

    _, files = render_model(data, name=c_identifier(name), labels=list(labels),
                            model_sha256=hashlib.sha256(data).hexdigest(), dsp=spec.to_dict(), source=name)
    write_tree(files, out_dir)
    return out_dir


def _columns(spec: ImpulseSpec, sensors: Sequence[str], arr: np.ndarray) -> np.ndarray | None:
    axes = list(spec.input.axes)
    if all(a in sensors for a in axes):
        return arr[:, [list(sensors).index(a) for a in axes]]
    return arr if arr.shape[1] == len(axes) else None


def _clips(project: Project, spec: ImpulseSpec, labels: Sequence[str], background: set[str]
           ) -> tuple[list[Clip], list[Clip], dict[str, Any]]:
    """(targets, background) testing recordings at the impulse's frequency, and what was skipped."""
    from crisp_eml.data.samples import list_samples, load_array

    freq = float(spec.input.frequency_hz)  # type: ignore[union-attr]
    targets: list[Clip] = []
    backs: list[Clip] = []
    skipped: dict[str, int] = {}
    seen: set[str] = set()
    for smp in list_samples(project, category="testing"):
        label = str(smp.label) if smp.label is not None else ""
        seen.add(label)
        if label not in background and label not in labels:
            skipped["label not in the model"] = skipped.get("label not in the model", 0) + 1
            continue
        if smp.frequency_hz is None or abs(float(smp.frequency_hz) - freq) > 1e-6 * freq:
            skipped["other frequency"] = skipped.get("other frequency", 0) + 1
            continue
        arr = _columns(spec, [s.name for s in smp.sensors], np.asarray(load_array(project, smp), dtype=np.float32))
        if arr is None or arr.ndim != 2 or not np.isfinite(arr).all():
            skipped["other axes or non-finite values"] = skipped.get("other axes or non-finite values", 0) + 1
            continue
        (backs if label in background else targets).append(Clip(label, arr))
    if not backs:
        raise InputError(f"no testing recordings of the background labels {sorted(background)} (testing labels: "
                         f"{sorted(seen) or 'none'}); name them with --background a,b", field="background")
    if not targets:
        raise InputError(f"no testing recordings of a target label (model labels {list(labels)}, background "
                         f"{sorted(background)})", field="background")
    return targets, backs, skipped


def _background(labels: Sequence[str], given: Sequence[str] | None) -> set[str]:
    if given:
        wanted = {g.strip() for g in given if g.strip()}
        unknown = sorted(wanted - set(labels))
        if unknown:
            raise InputError(f"{unknown} are not labels of the model ({list(labels)})", field="background")
    else:
        wanted = {lb for lb in labels if is_background(lb)}
        if not wanted:
            raise InputError(f"none of the model's labels {list(labels)} is a background label by name (noise, "
                             "unknown, idle, ...): name them with --background a,b", field="background")
    if wanted >= set(labels):
        raise InputError("every label is a background label: nothing is left to detect", field="background")
    return wanted


def _criteria(s: Session, max_far: float | None, max_frr: float | None) -> dict[str, Any]:
    from crisp_eml.workspace.requirements import current

    kpis = current(s).kpis
    far_src = "command line" if max_far is not None else None
    frr_src = "command line" if max_frr is not None else None
    if max_far is None and FAR_KPI in kpis:
        max_far, far_src = float(kpis[FAR_KPI]), f"requirements ({FAR_KPI})"
    if max_frr is None and FRR_KPI in kpis:
        max_frr, frr_src = float(kpis[FRR_KPI]), f"requirements ({FRR_KPI})"
    if max_far is None:
        max_far, far_src = DEFAULT_MAX_FAR_PER_HOUR, "default"
    return {"max_far_per_hour": max_far, "max_far_source": far_src, "max_frr": max_frr, "max_frr_source": frr_src}


def _check_args(hours: float, max_far: float | None, max_frr: float | None) -> None:
    from crisp_eml.data.streams import MAX_HOURS

    if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise InputError(f"must be more than 0 and at most {MAX_HOURS}, got {hours}", field="hours")
    if max_far is not None and not (math.isfinite(max_far) and max_far >= 0):
        raise InputError(f"must be a number >= 0, got {max_far}", field="max-far-per-hour")
    if max_frr is not None and not (math.isfinite(max_frr) and 0 <= max_frr <= 1):
        raise InputError(f"must be between 0 and 1, got {max_frr}", field="max-frr")


def _run_model(lib: Path, stream: Stream, on_progress: Progress | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """(window end rows, int8 codes, the library's shape) of the whole stream through the C library."""
    from crisp_eml.runtime.engine import Engine

    with Engine(lib) as engine:
        if not engine.shape.dsp_in_c:
            raise InputError("the model's DSP has no C implementation, so it cannot run on a raw stream",
                             field="model")
        tick = (lambda done, total: on_progress("model", done, total)) if on_progress is not None else None
        res = engine.stream(stream.rows, chunk_rows=CHUNK_ROWS, on_chunk=tick)
        return res.end_rows.astype(np.int64), res.codes, engine.shape


def _truth(stream: Stream, labels: Sequence[str], window_rows: int) -> Truth:
    index = {lb: i for i, lb in enumerate(labels)}
    return Truth(np.array([index[e.label] for e in stream.events], dtype=np.int64),
                 np.array([e.start_row for e in stream.events], dtype=np.int64),
                 np.array([e.end_row for e in stream.events], dtype=np.int64), window_rows, stream.hours)


def _timeline(stream: Stream, end_rows: np.ndarray, codes: np.ndarray, det: np.ndarray, labels: Sequence[str],
              scale: float, zero_point: int) -> dict[str, Any]:
    """A stream excerpt for the report: signal envelope, events, per-step scores and the chosen detections."""
    f = stream.frequency_hz
    first = stream.events[0].start_row
    lo = max(0, first - int(stream.gap_rows // 2))
    hi = min(len(stream.rows), lo + int(EXCERPT_S * f))
    seg = stream.rows[lo:hi, 0]
    bins = max(1, min(2000, len(seg)))
    edges = np.linspace(0, len(seg), bins + 1).astype(np.int64)
    env = [float(np.abs(seg[a:b]).max()) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    sel = (end_rows >= lo) & (end_rows <= hi)
    times = (end_rows[sel] / f).tolist()
    probs = (scale * (codes[sel].astype(np.float64) - zero_point))
    return {"t0": lo / f, "t1": hi / f, "envelope_t": ((lo + edges[:-1]) / f).tolist(), "envelope": env,
            "step_t": times, "scores": {lb: probs[:, k].round(4).tolist() for k, lb in enumerate(labels)},
            "events": [e.to_dict(f) for e in stream.events if e.end_row >= lo and e.start_row <= hi],
            "detections": [{"t": float(end_rows[i] / f), "label": labels[int(det[i])]}
                           for i in np.flatnonzero(det >= 0) if lo <= end_rows[i] <= hi]}


def calibrate(project: Project, model: str, *, hours: float = DEFAULT_HOURS,
              background: Sequence[str] | None = None, seed: int = 0, gain_db: float = 0.0,
              max_far_per_hour: float | None = None, max_frr: float | None = None, report: Path | None = None,
              on_progress: Progress | None = None) -> dict[str, Any]:
    """Calibrate ``model``'s post-processing; returns the stored calibration (chosen setting, figures, grid)."""
    from crisp_eml.core.postprocess_grid import detections_fast
    from crisp_eml.lifecycle.calibration_html import render_html
    from crisp_eml.runtime.glue import AUDIO_BLOCKS

    actor = project.require(Permission.TRAIN)
    _check_args(hours, max_far_per_hour, max_frr)
    if report is not None:
        if report.is_dir():
            raise InputError("is a folder; give a file name such as calibration.html", source=str(report),
                             field="report")
        check_creatable(report, field="report")
    with project.read_session() as s:
        info = resolve_in_session(s, model)
        spec = _impulse(s, info)
        criteria = _criteria(s, max_far_per_hour, max_frr)
    data = _model_bytes(project, info)
    labels = list(info.labels)
    if not labels:
        raise InputError(f"{info.uri} has no class labels: calibration tunes a classifier", field="model")
    back = _background(labels, background)
    targets, backs, skipped = _clips(project, spec, labels, back)
    window_rows = spec.input.window_len  # type: ignore[union-attr]
    freq = float(spec.input.frequency_hz)  # type: ignore[union-attr]
    audio = any(b.type in AUDIO_BLOCKS for b in spec.blocks)  # cross-fades (and gains when asked) for sound
    if on_progress is not None:
        on_progress("stream", 0, 1)
    stream = build_stream(targets, backs, frequency_hz=freq, hours=hours, seed=seed,
                          gap_rows=default_gap_rows(window_rows, targets, freq), audio=audio, gain_db=gain_db)
    if on_progress is not None:
        on_progress("stream", 1, 1)
    tmp = Path(tempfile.mkdtemp(prefix="eml-calibrate-"))
    try:
        lib = model_library(data, info.name, labels, spec, tmp / "lib")
        end_rows, codes, shape = _run_model(lib, stream, on_progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    scale, zp = float(shape.output_scale), int(shape.output_zero_point)
    truth = _truth(stream, labels, window_rows)
    grid = settings_grid(shape.slices_per_window)
    pairs = sorted({(st.average_windows, st.suppression_steps) for st in grid})
    grid += per_label_settings(codes, end_rows, truth, labels, sorted(back), scale, zp,
                               criteria["max_far_per_hour"], pairs)
    results: list[Scored] = evaluate_grid(codes, end_rows, truth, labels, sorted(back), scale, zp, grid)
    if on_progress is not None:
        on_progress("grid", len(grid), len(grid))
    idx, met = choose(results, criteria["max_far_per_hour"], criteria["max_frr"])
    best = results[idx]
    cfg = best.setting.config(labels, sorted(back))
    det = detections_fast(codes, cfg, scale, zp)
    desc = {**stream.describe(), "gain_db": gain_db if audio else 0.0, "background_labels": sorted(back),
            "target_labels": [lb for lb in labels if lb not in back], "background_clips": len(backs),
            "target_clips": len(targets), "skipped": skipped, "window_rows": window_rows,
            "slices_per_window": shape.slices_per_window, "step_ms": shape.step_ms, "steps": int(len(codes)),
            "engine": "C library (ctypes)"}
    sha = hashlib.sha256(data).hexdigest()
    chosen = {**best.to_dict(), "postprocess": cfg.to_dict(), "met": met,
              "suppression_ms": best.setting.suppression_steps * shape.step_ms}
    doc = {"model": info.uri, "model_sha256": sha, "labels": labels, "stream": desc, "criteria": criteria,
           "chosen": chosen, "grid": [r.to_dict() for r in results],
           "timeline": _timeline(stream, end_rows, codes, det, labels, scale, zp)}
    html = render_html(doc)
    digest = project.blobs.put(html)
    if report is not None:
        make_dirs(report.parent, field="report")
        tmp_file = report.with_name(report.name + ".tmp")
        try:
            tmp_file.write_bytes(html)
            tmp_file.replace(report)
        except OSError as exc:
            tmp_file.unlink(missing_ok=True)
            raise InputError(f"cannot write the report: {exc.strerror or exc}", source=str(report),
                             field="report") from exc
    with project.session() as s:
        row = CalibrationRow(model_name=info.name, model_version=info.version, model_uri=model, model_sha256=sha,
                             stream=desc, grid=doc["grid"], postprocess=cfg.to_dict(), far_per_hour=best.far_per_hour,
                             frr=best.frr, met=met, criteria=criteria, report_sha256=digest, actor=actor.name)
        s.add(row)
        s.flush()
        project.record(s, "model.calibrate", {"model": info.uri, "model_sha256": sha, "calibration": row.id,
                                              "far_per_hour": best.far_per_hour, "frr": best.frr, "met": met,
                                              "postprocess": cfg.to_dict(), "report": digest,
                                              "hours": stream.hours, "seed": seed}, actor=actor)
        cal_id = row.id
    return {"id": cal_id, "model": info.uri, "model_sha256": sha, "stream": desc, "criteria": criteria,
            "chosen": chosen, "met": met, "report_sha256": digest, "report": str(report) if report else None,
            "grid": doc["grid"]}


def chosen_calibration(project: Project, model_uri: str) -> tuple[PostprocessConfig, int] | None:
    """The post-processing the latest calibration of the model version chose and that calibration's id (None
    when never calibrated)."""
    with project.read_session() as s:
        info = resolve_in_session(s, model_uri)
        row = latest_calibration(s, info.name, info.version)
        return (PostprocessConfig.from_dict(row.postprocess), row.id) if row is not None else None


def chosen_postprocess(project: Project, model_uri: str) -> PostprocessConfig | None:
    """The post-processing the latest calibration of the model version chose (None when never calibrated)."""
    chosen = chosen_calibration(project, model_uri)
    return chosen[0] if chosen is not None else None

"""``eml run``: a model over a long recording or a live stream, window by window or continuously.

The model is a compiled library folder, a ``.tflite`` file or a registered ``models:/name@alias`` (compiled to a
scratch folder, removed afterwards). It runs in the C library itself (:class:`crisp_eml.runtime.engine.Engine`),
so what it prints is what the device computes. Two modes:

- windows (default): consecutive, non-overlapping windows, one result (top label and scores) per window;
- continuous: the stream semantics of the deployments (``.eim``, wasm): a result every slice of a window
  once the first window is full, through the post-processing (moving average, per-label thresholds,
  suppression), which detects events. A registered model uses the setting ``eml calibrate`` chose, else the
  defaults; explicit options override either.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.postprocess import PostprocessConfig, suppression_steps
from crisp_eml.runtime.engine import Engine, StreamResult
from crisp_eml.runtime.glue import ModelShape, default_postprocess, model_shape
from crisp_eml.runtime.stream_input import InputSource

MODELS_URI = "models:/"


@dataclass(frozen=True)
class RunSettings:
    """What the user asked for; ``None`` = the model's calibrated setting, else the defaults."""

    continuous: bool = False
    slices_per_window: int | None = None
    average_windows: int | None = None
    thresholds: tuple[tuple[str, float], ...] = ()
    suppression_ms: float | None = None


@dataclass
class LoadedModel:
    """A model ready to run: its library, shape, calibrated post-processing (if any) and where it came from; the
    engine (a gcc build) is made on first use, so bad input is refused before paying for it."""

    library: Path
    shape: ModelShape
    calibrated: PostprocessConfig | None
    source: str
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(self.library, slices_per_window=self.shape.slices_per_window)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@dataclass
class Batch:
    """The windows one chunk of input completed, and how far into the input that chunk reaches."""

    result: StreamResult
    done: int
    rows: np.ndarray | None = None  # the raw rows of that chunk (what ``--review-server`` uploads windows of)


@dataclass
class RunSummary:
    rows: int = 0
    windows: int = 0
    detections: dict[str, int] = field(default_factory=dict)
    last_end_row: int = 0

    def to_dict(self, shape: ModelShape) -> dict[str, Any]:
        return {"rows": self.rows, "windows": self.windows,
                "seconds": self.rows / shape.frequency_hz if shape.frequency_hz > 0 else None,
                "trailing_rows": self.rows - self.last_end_row, "detections": dict(self.detections)}


def _library_of(model: str, scratch: Path, project_dir: Path | None) -> tuple[Path, PostprocessConfig | None]:
    """The compiled library folder for ``model`` (compiling into ``scratch`` when needed) and its calibrated
    post-processing (registered models only)."""
    from crisp_eml.workspace.compile import compile_model

    path = Path(model)
    if model.startswith(MODELS_URI):
        from crisp_eml.store.project import Project

        project = Project.open(project_dir)
        compile_model(model, scratch / "lib", vectors=0, project=project, record=False)  # a scratch build
        return scratch / "lib", _calibrated(project, model)
    if path.is_dir():
        if not (path / "MANIFEST.json").is_file():
            raise InputError("not a compiled library (no MANIFEST.json)", source=str(path))
        return path, None
    if path.suffix.lower() == ".tflite":
        if not path.is_file():
            raise InputError("no such file", source=str(path))
        compile_model(str(path), scratch / "lib", vectors=0, use_project=False)
        return scratch / "lib", None
    raise InputError("not a compiled library folder, a .tflite file or a models:/name@alias URI", source=model)


def _calibrated(project: Any, uri: str) -> PostprocessConfig | None:
    from crisp_eml.workspace.calibrate import chosen_postprocess

    return chosen_postprocess(project, uri)


@contextlib.contextmanager
def open_model(model: str, settings: RunSettings, project_dir: Path | None = None) -> Iterator[LoadedModel]:
    """Build ``model`` for this run; everything built is removed on exit."""
    scratch = Path(tempfile.mkdtemp(prefix="eml-run-"))
    try:
        lib, calibrated = _library_of(model, scratch, project_dir)
        slices = settings.slices_per_window if settings.continuous else 1
        try:
            shape = model_shape(lib, slices)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not a library compiled by crisp-eml (MANIFEST.json lacks {exc})",
                             source=str(lib)) from exc
        loaded = LoadedModel(lib, shape, calibrated, model)
        try:
            yield loaded
        finally:
            loaded.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def postprocess_for(loaded: LoadedModel, settings: RunSettings) -> PostprocessConfig:
    """The calibrated (else default) post-processing with the user's overrides applied."""
    shape = loaded.shape
    base = loaded.calibrated
    if base is None or len(base.thresholds) != shape.scores:
        base = default_postprocess(shape)
    thresholds = list(base.thresholds)
    labels = list(shape.labels)
    for label, p in settings.thresholds:
        if label not in labels:
            raise InputError(f"unknown label {label!r}; the model's labels: {', '.join(labels) or '(none)'}",
                             field="threshold")
        thresholds[labels.index(label)] = p
    steps = base.suppression_steps
    if settings.suppression_ms is not None:
        if shape.step_ms <= 0:
            raise InputError("the library has no sampling frequency (it takes features), so a suppression time "
                             "cannot be turned into steps", field="suppression_ms")
        steps = suppression_steps(settings.suppression_ms, shape.step_ms)
    return PostprocessConfig(settings.average_windows or base.average_windows, tuple(thresholds), steps,
                             tuple(labels) if len(labels) == len(thresholds) else ())


def run_input(loaded: LoadedModel, source: InputSource, cfg: PostprocessConfig | None, summary: RunSummary
              ) -> Iterator[Batch]:
    """Push every chunk of ``source`` through the model's stream (windows mode: one slice per window, so the
    windows do not overlap); yield what each chunk completed and keep ``summary`` up to date."""
    stream = loaded.engine.open_stream(cfg)
    labels = loaded.shape.labels
    for chunk in source.chunks:
        result = stream.push(chunk.rows) if chunk.rows.shape[0] else StreamResult.concat([], loaded.shape.scores)
        summary.rows += int(chunk.rows.shape[0])
        summary.windows += len(result.end_rows)
        if len(result.end_rows):
            summary.last_end_row = int(result.end_rows[-1])
        if cfg is not None:
            for d in result.detections[result.detections >= 0]:
                name = labels[int(d)] if labels else str(int(d))
                summary.detections[name] = summary.detections.get(name, 0) + 1
        yield Batch(result, chunk.done, chunk.rows)


def window_records(loaded: LoadedModel, batch: Batch, first_index: int, continuous: bool
                   ) -> Iterator[dict[str, Any]]:
    """One JSON-ready record per window of ``batch``: ``t`` (end of the window, seconds; null without a sampling
    frequency), ``window`` (index), ``classification`` (label -> score) and, in windows mode, ``label``; in
    continuous mode ``average`` (moving averages) and ``detection`` (label or null)."""
    shape, r = loaded.shape, batch.result
    labels = list(shape.labels)
    for i in range(len(r.end_rows)):
        end = int(r.end_rows[i])
        rec: dict[str, Any] = {"t": round(end / shape.frequency_hz, 6) if shape.frequency_hz > 0 else None,
                               "window": first_index + i}
        if shape.is_classifier:
            rec["classification"] = {lb: round(float(v), 6) for lb, v in zip(labels, r.scores[i], strict=True)}
            if continuous:
                rec["average"] = {lb: round(float(v), 6) for lb, v in zip(labels, r.averages[i], strict=True)}
                d = int(r.detections[i])
                rec["detection"] = labels[d] if d >= 0 else None
            else:
                rec["label"] = labels[int(np.argmax(r.codes[i]))]
        else:
            rec["anomaly"] = round(float(r.anomaly[i]), 6)
        yield rec

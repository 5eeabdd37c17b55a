"""Choosing a time-series impulse from the data: candidates scored by cross-validation on the training set.

``eml impulse create`` looks at the training recordings (sampling rate, lengths fixed or variable,
channels, classes, recordings per class), builds a small set of candidate impulses and scores each with
the fast proxy learner of :mod:`crisp_eml.learn.proxy_cv` (stratified k-fold grouped by recording), then
keeps the best. Candidates:

- the whole recording as one window (``pad`` when every recording has the same length, ``resample`` when
  lengths vary) and sliding windows sized from the sampling rate (about 2 s) and the recording length;
- blocks ``raw`` (when the window is small enough for an MCU model), ``flatten`` and
  ``spectral-analysis`` (FFT length scaled to the window, no fixed filter); audio gets ``mfcc``/``mfe``.

Within :data:`TIE` of the best score the candidate with fewest features wins (smaller model, less DSP).
Nothing here depends on a particular data set: every number comes from the profile of the data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.impulse import ImpulseSpec, windows_for
from crisp_eml.core.sample import Sample
from crisp_eml.dsp.defaults import default_block_params, new_block, spectral_params
from crisp_eml.dsp.pipeline import apply_impulse, feature_shape, n_features

Progress = Callable[[int, int, str], None]
#: Scores within this of the best count as a tie (then the fewest features win).
TIE = 0.01
#: Largest raw window (rows x axes) offered to the raw block: the model input must fit an MCU.
RAW_MAX_VALUES = 2048
#: Longest recording (rows) offered as one whole window.
WHOLE_MAX_ROWS = 4096
#: Recordings per class used for scoring (an even, deterministic subset beyond this).
SCORE_MAX_PER_CLASS = 60
#: Length spread (longest / shortest) up to which recordings count as fixed-length.
FIXED_SPREAD = 1.0


@dataclass(frozen=True)
class DataProfile:
    """What the candidates are derived from (training recordings at the common rate)."""

    kind: str
    frequency_hz: float
    axes: list[str]
    lengths: list[int]
    per_class: dict[str, int]

    @property
    def fixed_length(self) -> bool:
        return bool(self.lengths) and max(self.lengths) <= FIXED_SPREAD * min(self.lengths)

    @property
    def median_length(self) -> int:
        return int(sorted(self.lengths)[len(self.lengths) // 2]) if self.lengths else 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "frequency_hz": self.frequency_hz, "axes": list(self.axes),
                "recordings": len(self.lengths), "fixed_length": self.fixed_length,
                "length_rows": {"min": min(self.lengths, default=0), "median": self.median_length,
                                "max": max(self.lengths, default=0)},
                "classes": len(self.per_class), "per_class": dict(self.per_class)}


@dataclass
class Candidate:
    name: str
    spec: ImpulseSpec
    why: str
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        inp = self.spec.input.to_dict()
        return {"name": self.name, "score": None if self.score is None else round(self.score, 4),
                "length_mode": inp.get("length_mode", "window"), "window_size_ms": inp.get("window_size_ms"),
                "window_increase_ms": inp.get("window_increase_ms"),
                "blocks": [b.type for b in self.spec.blocks], "n_features": n_features(self.spec), "why": self.why}


def profile(samples: list[Sample], frequency_hz: float, axes: list[str], kind: str) -> DataProfile:
    """The profile of ``samples`` (lengths converted to rows at ``frequency_hz``)."""
    same = [s for s in samples if s.kind == kind]
    lengths = [max(1, int(round(s.length * frequency_hz / s.frequency_hz))) if s.frequency_hz else s.length
               for s in same]
    per_class = dict(sorted(Counter(s.label or "" for s in same).items()))
    return DataProfile(kind=kind, frequency_hz=frequency_hz, axes=list(axes), lengths=lengths, per_class=per_class)


def _spec(p: DataProfile, rows: int, blocks: list[tuple[str, dict[str, Any]]], *, mode: str = "window",
          inc_rows: int | None = None, size_ms: float | None = None, inc_ms: float | None = None) -> ImpulseSpec:
    f = p.frequency_hz
    size = size_ms if size_ms is not None else rows / f * 1000.0
    inc = inc_ms if inc_ms is not None else (inc_rows or rows) / f * 1000.0
    inp: dict[str, Any] = {"type": "time-series", "window_size_ms": size, "window_increase_ms": inc,
                           "frequency_hz": f, "pad_zeros": True, "axes": list(p.axes)}
    if mode != "window":
        inp["length_mode"] = mode
    audio = p.kind == "audio"
    return ImpulseSpec.from_dict({"input": inp, "blocks": [new_block(t, prm, audio=audio) for t, prm in blocks]})


def _ts_blocks(rows: int, n_axes: int) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if rows * n_axes <= RAW_MAX_VALUES:
        out.append(("raw", {}))
    if rows >= 2:
        out.append(("flatten", {}))
    if rows >= 4:
        out.append(("spectral-analysis", spectral_params(rows)))
    return out


def sliding_rows(p: DataProfile) -> list[int]:
    """Sliding-window lengths (rows): about 2 s of signal and half a typical recording, each clipped to
    8 .. half the median recording; none when recordings are shorter than 16 rows."""
    half = p.median_length // 2
    if half < 8:
        return []
    two_s = int(round(2.0 * p.frequency_hz))
    return sorted({min(max(two_s, 8), half), half})


def candidates(p: DataProfile, *, window_size_ms: float | None = None, window_increase_ms: float | None = None,
               blocks: list[str] | None = None) -> list[Candidate]:
    """Candidate impulses for the profile; ``window_size_ms`` / ``blocks`` (user choices) restrict them."""
    out: list[Candidate] = []
    f, na = p.frequency_hz, len(p.axes)

    def pick(rows: int, defaults: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
        if blocks:
            return [[(b, default_block_params(b, rows, f)) for b in blocks]]
        return [[d] for d in defaults]

    if p.kind == "audio":
        rows = int(round((window_size_ms or min(1000.0, p.median_length / f * 1000.0)) * f / 1000.0))
        inc = int(round((window_increase_ms or rows / f * 500.0) * f / 1000.0))
        for bl in pick(rows, [(b, default_block_params(b, rows, f)) for b in ("mfcc", "mfe")]):
            out.append(Candidate(f"{'+'.join(b for b, _ in bl)} sliding {rows / f:g} s", _spec(
                p, rows, bl, inc_rows=max(1, inc)), "audio: spectral frames of the sound"))
        return out
    if window_size_ms is not None:
        rows = max(1, int(round(window_size_ms * f / 1000.0)))
        inc_ms = window_increase_ms or window_size_ms / 4.0
        for bl in pick(rows, _ts_blocks(rows, na)):
            out.append(Candidate(f"{'+'.join(b for b, _ in bl)} window {rows} rows", _spec(
                p, rows, bl, size_ms=window_size_ms, inc_ms=inc_ms), "window size given on the command line"))
        return out
    lmax, lmed = max(p.lengths), p.median_length
    if lmax <= WHOLE_MAX_ROWS and window_increase_ms is None:  # a step given: sliding windows only
        mode = "pad" if p.fixed_length else "resample"
        whole = lmax if p.fixed_length else lmed
        why = ("every recording has the same length: one window per recording" if p.fixed_length
               else "recordings differ in length: each resampled to the median length, one window per recording")
        for bl in pick(whole, _ts_blocks(whole, na)):
            out.append(Candidate(f"{'+'.join(b for b, _ in bl)} whole recording ({mode} {whole} rows)",
                                 _spec(p, whole, bl, mode=mode), why))
        if not blocks and whole * na > RAW_MAX_VALUES:
            rows = max(8, RAW_MAX_VALUES // na)
            out.append(Candidate(f"raw whole recording (resample {rows} rows)", _spec(p, rows, [("raw", {})],
                                 mode="resample"), "whole recording resampled down so the raw input fits an MCU"))
    for rows in sliding_rows(p):
        inc = max(1, rows // 4)
        for bl in pick(rows, _ts_blocks(rows, na)):
            out.append(Candidate(f"{'+'.join(b for b, _ in bl)} sliding {rows} rows", _spec(
                p, rows, bl, inc_rows=inc, inc_ms=window_increase_ms),
                                 f"sliding windows of {rows} rows ({rows / f:g} s), a vote per recording"))
    return out


def _subset(samples: list[Sample]) -> list[Sample]:
    by: dict[str, list[Sample]] = {}
    for s in samples:
        by.setdefault(s.label or "", []).append(s)
    keep: list[Sample] = []
    for group in by.values():
        if len(group) > SCORE_MAX_PER_CLASS:
            idx = np.linspace(0, len(group) - 1, SCORE_MAX_PER_CLASS).round().astype(int)
            group = [group[i] for i in sorted(set(idx.tolist()))]
        keep += group
    return keep


def score(cands: list[Candidate], samples: list[Sample], load: Callable[[Sample], np.ndarray], *,
          on_progress: Progress | None = None) -> int:
    """Score every candidate in place (proxy CV on ``samples``); returns the fold count (0: not scored)."""
    from crisp_eml.learn.proxy_cv import cv_score, n_folds

    used = _subset(samples)
    labels = [s.label or "" for s in used]
    k = n_folds(labels)
    if k == 0 or len(cands) < 2:
        return 0
    signals = [load(s) for s in used]
    repeats = 2 if len(used) <= 200 else 1
    for i, c in enumerate(cands):
        feats = [apply_impulse(c.spec, windows_for(c.spec, x, s.frequency_hz, s.axes))
                 for s, x in zip(used, signals, strict=True)]
        c.score = cv_score(feats, labels, repeats=repeats)
        if on_progress:
            on_progress(i + 1, len(cands), c.name)
    return k


def best(cands: list[Candidate]) -> Candidate:
    """The best-scoring candidate; within :data:`TIE` of it, the one with the fewest features."""
    scored = [c for c in cands if c.score is not None]
    if not scored:
        return cands[0]
    top = max(c.score or 0.0 for c in scored)
    near = [c for c in scored if (c.score or 0.0) >= top - TIE]
    return min(near, key=lambda c: (n_features(c.spec), cands.index(c)))


def keeps_layers(spec: ImpulseSpec, previous: ImpulseSpec | None) -> bool:
    """True when :func:`learning_for` keeps the previous impulse's layers (so there is no learner to choose)."""
    old = previous.learning if previous is not None else None
    if old is None:
        return False
    if old.get("type", "nn-classifier") not in ("nn-classifier", "nn-regressor"):
        return True
    assert previous is not None
    return (old.get("params") or {}).get("layers") is not None and feature_shape(previous) == feature_shape(spec)


def learner_candidates(spec: ImpulseSpec) -> dict[str, list[dict[str, Any]]]:
    """The learners worth comparing for ``spec``: dense and a small conv1d for ``[time, axes]`` windows (the
    order is the tie-break: dense needs fewer operations per window); none for other feature shapes."""
    from crisp_eml.learn.blocks import default_layers, infer_input_kind, kind_from_blocks

    shape = feature_shape(spec)
    kind = infer_input_kind(shape, kind_from_blocks([b.type for b in spec.blocks]))
    if kind != "raw-motion" or len(shape) != 2:
        return {}
    return {"dense": default_layers("spectral", shape), "conv1d": default_layers("raw-motion", shape)}


#: A chosen learner: (name, layer list, cross-validated score of every candidate learner).
Learner = tuple[str, list[dict[str, Any]], dict[str, float]]


def choose_learner(spec: ImpulseSpec, samples: list[Sample], load: Callable[[Sample], np.ndarray], *,
                   on_progress: Progress | None = None) -> Learner | None:
    """(name, layers, scores) of the best learner by short cross-validated training on ``samples``; None when
    there is nothing to choose (flat features) or cross-validation is impossible. Within :data:`TIE` of the
    best, the first of :func:`learner_candidates` wins."""
    from crisp_eml.learn.learner_cv import learner_scores
    from crisp_eml.learn.proxy_cv import n_folds

    cands = learner_candidates(spec)
    used = _subset(samples)
    labels = [s.label or "" for s in used]
    if len(cands) < 2 or n_folds(labels) < 2:
        return None
    windows = [apply_impulse(spec, windows_for(spec, load(s), s.frequency_hz, s.axes)).reshape(
        -1, *feature_shape(spec)) for s in used]
    scores = learner_scores(windows, labels, cands, on_progress=on_progress)
    top = max(scores.values())
    name = next(n for n in cands if scores[n] >= top - TIE)
    return name, cands[name], scores


def learning_for(spec: ImpulseSpec, previous: ImpulseSpec | None,
                 chosen: Learner | None = None) -> tuple[dict[str, Any], str]:
    """The learning block for ``spec``: the ``chosen`` learner's layers (see :func:`choose_learner`), else dense
    layers for flat features and a small conv1d for ``[time, axes]``.

    The previous impulse's learning block is kept (type and parameters); its layers are replaced only when
    they were chosen for a different feature shape. Returns (block, reason).
    """
    from crisp_eml.learn.blocks import default_layers, infer_input_kind, kind_from_blocks

    shape = feature_shape(spec)
    kind = infer_input_kind(shape, kind_from_blocks([b.type for b in spec.blocks]))
    layers = default_layers(kind, shape)
    what = {"spectral": "dense layers", "raw-motion": "a small conv1d"}.get(kind, f"{kind} layers")
    what = f"{what} for {list(shape)} features"
    if chosen is not None:
        name, layers, scores = chosen
        listed = ", ".join(f"{n} {v:.3f}" for n, v in scores.items())
        what = (f"{name} layers for {list(shape)} features: best cross-validated balanced accuracy of short "
                f"trainings ({listed})")
    old = previous.learning if previous is not None else None
    if old is None:
        return {"type": "nn-classifier", "params": {"layers": layers}}, f"learning block: {what}"
    block = {"type": old.get("type", "nn-classifier"), "params": dict(old.get("params") or {})}
    if block["type"] not in ("nn-classifier", "nn-regressor"):
        return block, f"learning block kept ({block['type']})"
    assert previous is not None
    if block["params"].get("layers") is not None and feature_shape(previous) == shape:
        return block, "learning block kept (same feature shape)"
    block["params"]["layers"] = layers
    block["params"].pop("input_kind", None)
    return block, f"learning block kept, layers chosen for the new feature shape: {what}"

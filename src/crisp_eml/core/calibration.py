"""Calibration arithmetic: false accepts per hour and false rejects of post-processing settings on a stream.

Given a stream's per-step output codes, the row each step's window ends on, and the ground-truth events, a
setting's detections are scored like this (keyword-spotting practice):

- a detection of label ``k`` is a true accept when its window end lies within an event of ``k``, from the
  event's start to its end plus one window length (the last window that still overlaps it); otherwise it is a
  false accept of ``k``;
- an event is rejected when no detection of its label hits it;
- FAR per hour = false accepts / stream hours (per label and summed); FRR = rejected / events (per label, and
  pooled over all events).

A grid of settings (moving-average windows x threshold x suppression steps; one threshold shared by every
target label, background labels never fire) is scored. Labels differ (one keyword is confused with background
speech more than another), so for every (windows, suppression) pair :func:`per_label_settings` also tunes one
threshold per label: each label alone over a fine threshold grid, the lowest threshold whose false accepts fit
the label's share of the false accepts the FAR ceiling allows on this stream (every way of sharing them is
tried). Every such combination is then scored exactly like the shared ones (all labels together, with
suppression across labels). One setting is chosen: the lowest FRR among those within a
FAR ceiling (and an FRR ceiling when given). Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.postprocess import NEVER, PostprocessConfig, need_sums
from crisp_eml.core.postprocess_grid import candidates, code_sums, suppress

AVERAGE_WINDOWS = (1, 2, 3, 4, 6, 8)
THRESHOLDS = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 .. 0.95
SUPPRESSION_WINDOWS = (0.5, 1.0, 1.5)
#: the finer grid a single label's threshold is tuned on
LABEL_THRESHOLDS = tuple(round(0.30 + 0.01 * i, 2) for i in range(70))  # 0.30 .. 0.99
#: most ways of sharing the false-accept budget among labels that are tried per (windows, suppression) pair
MAX_ALLOCATIONS = 64
#: the requirement used when neither the command line nor the requirements give one
DEFAULT_MAX_FAR_PER_HOUR = 1.0


@dataclass(frozen=True)
class Truth:
    """Ground truth of a stream in rows: per event its label index, first row and end row (exclusive)."""

    labels: np.ndarray  # int [events]
    starts: np.ndarray  # int64 [events]
    ends: np.ndarray  # int64 [events]
    window_rows: int
    hours: float


@dataclass(frozen=True)
class Setting:
    """A post-processing setting: ``threshold`` for every target label, unless ``per_label`` names its own
    (then ``threshold`` is their highest, for display)."""

    average_windows: int
    threshold: float
    suppression_steps: int
    per_label: tuple[tuple[str, float], ...] = ()

    def config(self, labels: Sequence[str], background: Sequence[str]) -> PostprocessConfig:
        own = dict(self.per_label)
        thr = tuple(NEVER if lb in background else float(own.get(lb, self.threshold)) for lb in labels)
        return PostprocessConfig(self.average_windows, thr, self.suppression_steps, tuple(labels))


@dataclass
class Scored:
    setting: Setting
    far_per_hour: float
    frr: float | None  # None when the stream has no event
    per_label: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"average_windows": self.setting.average_windows, "threshold": self.setting.threshold,
                "thresholds": dict(self.setting.per_label) or None,
                "suppression_steps": self.setting.suppression_steps, "far_per_hour": self.far_per_hour,
                "frr": self.frr, "per_label": self.per_label}


def score(det: np.ndarray, end_rows: np.ndarray, truth: Truth, labels: Sequence[str],
          targets: Sequence[str]) -> tuple[float, float | None, dict[str, dict[str, Any]]]:
    """(FAR per hour, pooled FRR, per target label figures) of per-step detections ``det`` (label or -1)."""
    steps = np.flatnonzero(det >= 0)
    det_lab, det_row = det[steps], np.asarray(end_rows, dtype=np.int64)[steps]
    per: dict[str, dict[str, Any]] = {}
    fa_total, rej_total, ev_total = 0, 0, 0
    for k, name in enumerate(labels):
        if name not in targets:
            continue
        ev = np.flatnonzero(truth.labels == k)
        starts, his = truth.starts[ev], truth.ends[ev] + truth.window_rows
        rows = det_row[det_lab == k]
        j = np.searchsorted(starts, rows, side="right") - 1
        hit = (j >= 0) & (rows <= his[np.maximum(j, 0)]) if len(starts) else np.zeros(len(rows), dtype=bool)
        fa = int((~hit).sum())
        rejected = len(ev) - len(np.unique(j[hit]))
        fa_total, rej_total, ev_total = fa_total + fa, rej_total + rejected, ev_total + len(ev)
        per[name] = {"false_accepts": fa, "far_per_hour": fa / truth.hours, "events": int(len(ev)),
                     "rejected": int(rejected), "frr": rejected / len(ev) if len(ev) else None,
                     "true_accepts": int(hit.sum())}
    return fa_total / truth.hours, (rej_total / ev_total if ev_total else None), per


def settings_grid(slices_per_window: int, average_windows: Sequence[int] = AVERAGE_WINDOWS,
                  thresholds: Sequence[float] = THRESHOLDS,
                  suppression_windows: Sequence[float] = SUPPRESSION_WINDOWS) -> list[Setting]:
    supp = sorted({max(0, int(round(w * slices_per_window))) for w in suppression_windows})
    return [Setting(n, float(t), s) for n in average_windows for t in thresholds for s in supp]


def evaluate_grid(codes: np.ndarray, end_rows: np.ndarray, truth: Truth, labels: Sequence[str],
                  background: Sequence[str], scale: float, zero_point: int, grid: Sequence[Setting]) -> list[Scored]:
    """Score every setting of ``grid`` on one stream's codes (the moving sums are computed once per N)."""
    targets = [lb for lb in labels if lb not in background]
    out: list[Scored] = []
    sums_by_n: dict[int, np.ndarray] = {}
    cand_by: dict[tuple[int, float, tuple[tuple[str, float], ...]], np.ndarray] = {}
    for st in grid:
        if st.average_windows not in sums_by_n:
            sums_by_n = {st.average_windows: code_sums(codes, st.average_windows, zero_point)}
        key = (st.average_windows, st.threshold, st.per_label)
        if key not in cand_by:
            need = need_sums(st.config(labels, background), scale, zero_point)
            cand_by = {key: candidates(sums_by_n[st.average_windows], np.asarray(need, dtype=np.int64))}
        det = suppress(cand_by[key], st.suppression_steps)
        far, frr, per = score(det, end_rows, truth, labels, targets)
        out.append(Scored(st, far, frr, per))
    return out


def _allocations(budget: int, parts: int, cap: int = MAX_ALLOCATIONS) -> list[tuple[int, ...]]:
    """Ways to share at most ``budget`` false accepts among ``parts`` labels (all of them while there are at most
    ``cap``; else only the even share, rounded down)."""
    out: list[tuple[int, ...]] = []

    def walk(prefix: tuple[int, ...], left: int) -> None:
        if len(out) > cap:
            return
        if len(prefix) == parts:
            out.append(prefix)
            return
        for k in range(left + 1):
            walk((*prefix, k), left - k)

    walk((), budget)
    return out if len(out) <= cap else [(budget // parts,) * parts]


def per_label_settings(codes: np.ndarray, end_rows: np.ndarray, truth: Truth, labels: Sequence[str],
                       background: Sequence[str], scale: float, zero_point: int, max_far_per_hour: float,
                       pairs: Sequence[tuple[int, int]], thresholds: Sequence[float] = LABEL_THRESHOLDS
                       ) -> list[Setting]:
    """Settings with one threshold per target label, for each (average windows, suppression steps) pair.

    The ceiling allows ``floor(max_far_per_hour * hours)`` false accepts on this stream. For every way of sharing
    them among the target labels, each label gets the lowest threshold on ``thresholds`` whose false accepts,
    with that label alone firing, stay within its share (the highest threshold when none does)."""
    targets = [lb for lb in labels if lb not in background]
    if not targets:
        return []
    budget = int(np.floor(max_far_per_hour * truth.hours + 1e-9))
    shares = _allocations(budget, len(targets))
    out: list[Setting] = []
    seen: set[Setting] = set()
    for n, supp in pairs:
        sums = code_sums(codes, n, zero_point)
        # lowest threshold per label for each number of false accepts it may make (0..budget)
        lowest: list[list[float]] = []
        for name in targets:
            k = labels.index(name)
            fa_at: list[int] = []
            for t in thresholds:
                cfg = PostprocessConfig(n, tuple(float(t) if j == k else NEVER for j in range(len(labels))), supp)
                need = np.asarray(need_sums(cfg, scale, zero_point), dtype=np.int64)
                det = suppress(candidates(sums, need), supp)
                fa_at.append(score(det, end_rows, truth, labels, [name])[2][name]["false_accepts"])
            lowest.append([next((float(t) for t, fa in zip(thresholds, fa_at, strict=True) if fa <= allowed),
                                float(thresholds[-1])) for allowed in range(budget + 1)])
        for share in shares:
            chosen = tuple((name, lowest[i][share[i]]) for i, name in enumerate(targets))
            st = Setting(n, max(t for _, t in chosen), supp, chosen)
            if st not in seen:
                seen.add(st)
                out.append(st)
    return out


def choose(results: Sequence[Scored], max_far_per_hour: float, max_frr: float | None = None) -> tuple[int, bool]:
    """Index of the chosen setting and whether it meets the ceilings.

    Among settings with FAR/h <= ``max_far_per_hour`` (and FRR <= ``max_frr`` when given): the lowest FRR, then
    the lowest FAR, then the fewest averaged windows (less delay), the highest threshold, the shortest
    suppression. When none meets them: the lowest FAR, then the lowest FRR (the nearest miss; the caller says so).
    """
    if not results:
        raise ValueError("no settings to choose from")

    def frr(r: Scored) -> float:
        return 1.0 if r.frr is None else r.frr

    def key(i: int) -> tuple[float, ...]:
        r = results[i]
        return (frr(r), r.far_per_hour, r.setting.average_windows, -r.setting.threshold, r.setting.suppression_steps)

    ok = [i for i, r in enumerate(results)
          if r.far_per_hour <= max_far_per_hour + 1e-12 and (max_frr is None or frr(r) <= max_frr + 1e-12)]
    if ok:
        return min(ok, key=key), True
    nearest = min(range(len(results)), key=lambda i: (results[i].far_per_hour, *key(i)))
    return nearest, False


def pareto(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (FAR, FRR) points no other point beats on both, ordered by FAR (the trade-off curve)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    out: list[int] = []
    best = float("inf")
    for i in order:
        if points[i][1] < best:
            out.append(i)
            best = points[i][1]
    return out

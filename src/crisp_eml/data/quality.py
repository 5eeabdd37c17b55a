"""Data quality checks (bronze -> silver -> gold): pure functions over arrays and sample metadata.

Each per-sample check returns named :class:`Issue` objects carrying a penalty; a sample's score is
100 minus its penalties (never below 0). Dataset checks (class balance, label coverage per category,
rate mismatch, train/test leaks) add their own issues, and the dataset score is the mean sample score
minus those penalties. No files or databases here: ``workspace/check.py`` loads the signals and calls in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.humanize import distinct_durations, distinct_pair, plain_number

ERROR, WARNING, INFO = "error", "warning", "info"
NEAR_DUP_CORRELATION = 0.99  # signals less correlated than this are never near-duplicates
NEAR_DUP_CERTAIN = 0.9999  # ... and this correlated always are, whatever the rest of the data set looks like
NEAR_DUP_RELATIVE = 0.25  # else: closer than this fraction of the data set's median nearest-neighbour distance
NEAR_DUP_MIN_GROUP = 10  # signals needed to measure that spread; smaller groups use NEAR_DUP_CORRELATION alone
NEAR_DUP_HAMMING = 3  # average-hash bit distance at or below which two images are near-duplicates
SUMMARY_POINTS = 64
IRREGULAR_SPREAD = 0.1  # sample intervals varying more than this around their median are irregular
GOLD, SILVER = 90.0, 70.0


@dataclass(frozen=True)
class Issue:
    """One named finding. ``penalty`` is subtracted from the score it belongs to."""

    code: str
    severity: str  # error | warning | info
    penalty: float
    message: str
    axis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "severity": self.severity, "penalty": round(self.penalty, 2),
                             "message": self.message}
        if self.axis is not None:
            d["axis"] = self.axis
        return d


def score_of(issues: Sequence[Issue]) -> float:
    return max(0.0, min(100.0, 100.0 - sum(i.penalty for i in issues)))


@dataclass
class SampleQuality:
    id: str
    name: str
    label: str | None
    category: str
    kind: str
    issues: list[Issue] = field(default_factory=list)

    @property
    def score(self) -> float:
        return score_of(self.issues)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label, "category": self.category,
                "kind": self.kind, "score": round(self.score, 2), "issues": [i.to_dict() for i in self.issues]}


def tier_of(score: float, issues: Sequence[Issue]) -> str:
    """gold: score >= 90 and no dataset error; silver: score >= 70; bronze otherwise."""
    if score >= GOLD and not any(i.severity == ERROR for i in issues):
        return "gold"
    return "silver" if score >= SILVER else "bronze"


@dataclass
class QualityReport:
    """Result of checking one layer of a project's dataset."""

    score: float
    layer: str
    samples: list[SampleQuality]
    dataset_issues: list[Issue]
    label_counts: dict[str, dict[str, int]]  # category -> label -> count
    balance: dict[str, float]  # ratio (largest/smallest class), entropy (0..1, 1 = perfectly balanced)
    dominant_rate_hz: float | None = None
    window_ms: float | None = None

    @property
    def tier(self) -> str:
        return tier_of(self.score, self.dataset_issues)

    @property
    def issue_counts(self) -> dict[str, int]:
        c: Counter[str] = Counter(i.code for s in self.samples for i in s.issues)
        return dict(sorted(c.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 2), "tier": self.tier, "layer": self.layer,
            "n_samples": len(self.samples), "dominant_rate_hz": self.dominant_rate_hz,
            "window_ms": self.window_ms, "label_counts": self.label_counts,
            "balance": {k: round(v, 4) for k, v in self.balance.items()},
            "issue_counts": self.issue_counts,
            "dataset_issues": [i.to_dict() for i in self.dataset_issues],
            "samples": [s.to_dict() for s in self.samples],
        }


# -- per-sample checks -------------------------------------------------------------------------------

def _as_2d(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    return a.reshape(-1, 1) if a.ndim == 1 else a.reshape(a.shape[0], -1)


def _longest_run(mask: np.ndarray) -> int:
    best = cur = 0
    for v in mask.tolist():
        cur = cur + 1 if v else 0
        best = max(best, cur)
    return best


def leading_repeats(arr: np.ndarray) -> int:
    """How many leading rows equal the row after them (a logger repeating its first reading)."""
    a = _as_2d(arr)
    k = 0
    while k + 1 < a.shape[0] and np.array_equal(a[k], a[k + 1], equal_nan=True):
        k += 1
    return k


def _axis_names(axes: Sequence[str], n: int) -> list[str]:
    return [axes[j] if j < len(axes) else f"axis{j}" for j in range(n)]


def signal_issues(
    arr: np.ndarray, *, axes: Sequence[str] = (), frequency_hz: float | None = None,
    dominant_hz: float | None = None, window_ms: float | None = None,
    timestamps_ms: Sequence[float] | None = None, kind: str = "timeseries",
) -> list[Issue]:
    """Checks for one time series or audio signal ``[length, axes]``."""
    a = _as_2d(np.asarray(arr, dtype=np.float64))
    n, n_axes = a.shape
    if n == 0 or n_axes == 0:
        return [Issue("empty", ERROR, 100, "the signal has no values")]
    issues: list[Issue] = []
    finite = np.isfinite(a)
    bad = int((~finite).sum())
    if bad:
        frac = bad / a.size
        issues.append(Issue("nan", ERROR, min(60.0, 20.0 + 80.0 * frac),
                            f"{bad} missing/NaN values ({frac:.1%} of the signal)"))
    names = _axis_names(axes, n_axes)
    flat_pen = 0.0
    for j, name in enumerate(names):
        x = a[finite[:, j], j]
        if x.size < 2:
            continue
        lo, hi = float(x.min()), float(x.max())
        if hi - lo <= 1e-9 * max(1.0, abs(hi)):
            pen = 15.0 if flat_pen < 45.0 else 0.0
            flat_pen += pen
            issues.append(Issue("flat_line", WARNING, pen, f"axis '{name}' is constant ({lo:g})", axis=name))
            continue
        col = a[:, j]
        clipped, longest = 0, 0
        for ext in (lo, hi):
            at = col == ext
            if int(at.sum()) < 3:
                continue
            run = _longest_run(at)
            if run >= 3:
                clipped += int(at.sum())
                longest = max(longest, run)
        if longest >= 3 and clipped >= max(3, 0.01 * n):
            frac = clipped / n
            issues.append(Issue("clipping", WARNING, 10.0 + min(20.0, 100.0 * frac),
                                f"axis '{name}' sits at its min/max for {clipped} samples ({frac:.1%}, "
                                f"longest run {longest}): saturated sensor?", axis=name))
    lead = leading_repeats(a)
    if lead:
        issues.append(Issue("leading_repeat", INFO, 0.0, f"the first {lead} row(s) repeat the next one"))
    issues.extend(rate_issues(n, frequency_hz=frequency_hz, dominant_hz=dominant_hz, window_ms=window_ms,
                              timestamps_ms=timestamps_ms, kind=kind))
    return issues


def rate_issues(
    length: int, *, frequency_hz: float | None, dominant_hz: float | None, window_ms: float | None,
    timestamps_ms: Sequence[float] | None = None, kind: str = "timeseries",
) -> list[Issue]:
    """Missing, wrong, irregular or mismatched sample rate, and too short for the window."""
    issues: list[Issue] = []
    if not frequency_hz or frequency_hz <= 0 or not math.isfinite(frequency_hz):
        issues.append(Issue("missing_rate", WARNING, 20.0, f"the {kind} sample has no sample rate"))
        return issues
    if dominant_hz and abs(frequency_hz - dominant_hz) > 0.01 * dominant_hz:
        issues.append(Issue("rate_mismatch", WARNING, 15.0, f"sampled at {plain_number(frequency_hz)} Hz, the "
                                                            f"dataset mostly at {plain_number(dominant_hz)} Hz"))
    if timestamps_ms is not None and len(timestamps_ms) >= 3:
        ts = np.asarray(timestamps_ms, dtype=np.float64)
        d = np.diff(ts)
        if np.any(d <= 0) or not np.all(np.isfinite(d)):
            issues.append(Issue("irregular_rate", ERROR, 25.0, "timestamps do not increase strictly"))
        else:
            med = float(np.median(d))
            spread = float(np.max(np.abs(d - med))) / med
            if spread > IRREGULAR_SPREAD:
                shown, limit = distinct_pair(spread, IRREGULAR_SPREAD, 0, percent=True)
                issues.append(Issue("irregular_rate", WARNING, 15.0,
                                    f"sample intervals vary by up to {shown} around {plain_number(med)} ms "
                                    f"(more than {limit})"))
            declared = 1000.0 / frequency_hz
            if abs(med - declared) > 0.01 * declared:
                issues.append(Issue("wrong_rate", WARNING, 15.0, f"timestamps say {plain_number(1000.0 / med)} Hz, "
                                                                 f"the sample says {plain_number(frequency_hz)} Hz"))
    if window_ms:
        duration = length * 1000.0 / frequency_hz
        if duration < window_ms:
            long, window = distinct_durations(duration, window_ms)
            issues.append(Issue("too_short", ERROR, 40.0, f"{long} long, shorter than the {window} window"))
    return issues


def image_issues(arr: np.ndarray) -> list[Issue]:
    """Checks for one image ``[h, w, c]`` (uint8)."""
    a = np.asarray(arr)
    if a.size == 0:
        return [Issue("empty", ERROR, 100, "the image has no pixels")]
    issues: list[Issue] = []
    if int(a.max()) == int(a.min()):
        issues.append(Issue("flat_line", WARNING, 30.0, f"every pixel has the same value ({int(a.min())})"))
        return issues
    sat = float(np.mean((a == 0) | (a == 255)))
    if sat > 0.5:
        issues.append(Issue("clipping", WARNING, 15.0, f"{sat:.0%} of pixel values are 0 or 255 (saturated)"))
    return issues


# -- duplicates ----------------------------------------------------------------------------------------

def summary_vector(arr: np.ndarray, kind: str) -> np.ndarray | None:
    """A unit vector summarizing a signal, for near-duplicate search; None when it carries no shape.

    Time series: per-axis means over 64 equal bins; audio: per-axis RMS envelope over 64 bins;
    both centered per axis. Images: the 64-bit average hash (as 0/1 floats, not normalized).
    """
    if kind == "image":
        return average_hash(arr)
    a = _as_2d(np.nan_to_num(np.asarray(arr, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    if a.shape[0] == 0:
        return None
    n, m = a.shape[0], min(SUMMARY_POINTS, a.shape[0])
    sizes = np.full(m, n // m)
    sizes[: n % m] += 1  # the same bins as numpy.array_split
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if kind == "audio":
        v = np.sqrt(np.add.reduceat(a * a, starts, axis=0) / sizes[:, None])
    else:
        v = np.add.reduceat(a, starts, axis=0) / sizes[:, None]
    if v.shape[0] < SUMMARY_POINTS:  # pad short signals so vectors of one axis count compare
        v = np.vstack([v, np.repeat(v[-1:], SUMMARY_POINTS - v.shape[0], axis=0)])
    v = v - v.mean(axis=0, keepdims=True)
    flat = v.ravel()
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 1e-12 else None


def average_hash(arr: np.ndarray) -> np.ndarray:
    """8x8 average hash of an image: block means of the gray image, thresholded at their mean."""
    a = np.asarray(arr, dtype=np.float64)
    gray = a.mean(axis=2) if a.ndim == 3 else a
    rows = np.array_split(np.arange(gray.shape[0]), min(8, gray.shape[0]))
    cols = np.array_split(np.arange(gray.shape[1]), min(8, gray.shape[1]))
    small = np.array([[gray[np.ix_(r, c)].mean() for c in cols] for r in rows])
    bits = (small > small.mean()).astype(np.float64).ravel()
    return np.pad(bits, (0, 64 - bits.size)) if bits.size < 64 else bits


def duplicate_of(hashes: Sequence[str]) -> dict[int, int]:
    """For each index whose hash appeared earlier, the index of its first occurrence."""
    first: dict[str, int] = {}
    out: dict[int, int] = {}
    for i, h in enumerate(hashes):
        if h in first:
            out[i] = first[h]
        else:
            first[h] = i
    return out


def near_duplicate_pairs(
    vectors: Sequence[np.ndarray | None], kinds: Sequence[str], *, skip: set[tuple[int, int]] | None = None,
    chunk: int = 512,
) -> dict[int, tuple[int, float]]:
    """For each index that nearly duplicates an earlier one: (that earlier index, similarity 0..1).

    Signals compare by correlation of their summary vectors (same length and kind only). A correlation of
    0.99 alone is not enough: the days of a z-normalised power-demand set or the beats of an ECG set all
    correlate that well. So, in a group of at least ``NEAR_DUP_MIN_GROUP`` signals, a pair must also be much
    closer than the data set's own spread: within ``NEAR_DUP_RELATIVE`` of the median distance from a signal
    to its nearest neighbour (correlations of ``NEAR_DUP_CERTAIN`` and above always count). Images compare by
    average-hash distance. Pairs in ``skip`` (exact duplicates) are ignored. Work is chunked matrix products,
    so 10,000 samples stay fast and within memory.
    """
    skip = skip or set()
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (v, k) in enumerate(zip(vectors, kinds, strict=True)):
        if v is not None:
            groups.setdefault((k, v.size), []).append(i)
    out: dict[int, tuple[int, float]] = {}
    for (kind, _size), idx in groups.items():
        if len(idx) < 2:
            continue
        m = np.stack([vectors[i] for i in idx]).astype(np.float32)  # type: ignore[misc]
        threshold = NEAR_DUP_CORRELATION
        if kind != "image" and len(idx) >= NEAR_DUP_MIN_GROUP:
            threshold = _relative_threshold(m, idx, skip, chunk)
        for start in range(0, len(idx), chunk):
            block = m[start:start + chunk]
            sim: np.ndarray
            if kind == "image":
                dist = block @ (1 - m).T + (1 - block) @ m.T  # Hamming distance between bit vectors
                hit = dist <= NEAR_DUP_HAMMING
                sim = 1.0 - dist / 64.0
            else:
                sim = block @ m.T
                hit = sim >= threshold
            for r in range(block.shape[0]):
                i = idx[start + r]
                if i in out:
                    continue
                for c in np.flatnonzero(hit[r]).tolist():
                    j = idx[c]
                    if j >= i:
                        break
                    if (j, i) not in skip:
                        out[i] = (j, float(sim[r, c]))
                        break
    return out


def _relative_threshold(m: np.ndarray, idx: Sequence[int], skip: set[tuple[int, int]], chunk: int) -> float:
    """The correlation a pair of the unit vectors ``m`` needs to count as near-duplicates in this group: the
    distance ``sqrt(2 (1 - corr))`` within ``NEAR_DUP_RELATIVE`` of the median nearest-neighbour distance,
    clamped to [NEAR_DUP_CORRELATION, NEAR_DUP_CERTAIN]. Exact duplicates (``skip``) are not neighbours."""
    pos = {g: k for k, g in enumerate(idx)}
    nearest = np.empty(len(idx), dtype=np.float64)
    for start in range(0, len(idx), chunk):
        sim = m[start:start + chunk] @ m.T
        rows = np.arange(sim.shape[0])
        sim[rows, start + rows] = -np.inf
        for j, i in skip:
            for a, b in ((j, i), (i, j)):
                if a in pos and b in pos and start <= pos[a] < start + sim.shape[0]:
                    sim[pos[a] - start, pos[b]] = -np.inf
        nearest[start:start + sim.shape[0]] = sim.max(axis=1)
    dist = np.sqrt(np.maximum(0.0, 2.0 * (1.0 - nearest)))
    close = NEAR_DUP_RELATIVE * float(np.median(dist))
    return float(min(NEAR_DUP_CERTAIN, max(NEAR_DUP_CORRELATION, 1.0 - close * close / 2.0)))


# -- dataset checks -------------------------------------------------------------------------------------

def dominant_rate(rates: Sequence[float | None]) -> float | None:
    """The most common sample rate (ties: the higher rate), or None when no sample has one."""
    c = Counter(round(float(r), 6) for r in rates if r)
    if not c:
        return None
    best = max(c.values())
    return max(r for r, n in c.items() if n == best)


def label_counts(labels: Sequence[str | None], categories: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for lbl, cat in zip(labels, categories, strict=True):
        d = out.setdefault(cat, {})
        key = lbl if lbl is not None else "(unlabeled)"
        d[key] = d.get(key, 0) + 1
    return {c: dict(sorted(v.items())) for c, v in sorted(out.items())}


def balance_of(labels: Sequence[str | None]) -> dict[str, float]:
    """Largest/smallest class ratio and normalized entropy (1.0 = perfectly balanced)."""
    c = Counter(lbl for lbl in labels if lbl is not None)
    if not c:
        return {"ratio": 0.0, "entropy": 0.0, "classes": 0}
    counts = np.array(list(c.values()), dtype=np.float64)
    p = counts / counts.sum()
    ent = float(-(p * np.log(p)).sum() / math.log(len(p))) if len(p) > 1 else 0.0
    return {"ratio": float(counts.max() / counts.min()), "entropy": ent, "classes": float(len(p))}


def dataset_issues(
    labels: Sequence[str | None], categories: Sequence[str], rates: Sequence[float | None],
    kinds: Sequence[str], hashes: Sequence[str],
) -> list[Issue]:
    """Issues of the dataset as a whole (each with its own penalty on the dataset score)."""
    issues: list[Issue] = []
    if not labels:
        return [Issue("empty_dataset", ERROR, 100.0, "the dataset has no samples")]
    bal = balance_of(labels)
    if bal["classes"] < 2:
        issues.append(Issue("single_class", ERROR, 30.0, f"{int(bal['classes'])} labeled class(es); need 2+"))
    elif bal["ratio"] > 10:
        issues.append(Issue("class_imbalance", WARNING, 20.0,
                            f"largest class is {bal['ratio']:.1f}x the smallest (entropy {bal['entropy']:.2f})"))
    elif bal["ratio"] > 3:
        issues.append(Issue("class_imbalance", WARNING, 10.0,
                            f"largest class is {bal['ratio']:.1f}x the smallest (entropy {bal['entropy']:.2f})"))
    unlabeled = sum(1 for lbl in labels if lbl is None)
    if unlabeled:
        issues.append(Issue("unlabeled", WARNING, min(20.0, 100.0 * unlabeled / len(labels)),
                            f"{unlabeled} sample(s) have no label"))
    train = {lbl for lbl, c in zip(labels, categories, strict=True) if c == "training" and lbl is not None}
    test = {lbl for lbl, c in zip(labels, categories, strict=True) if c == "testing" and lbl is not None}
    if not test:
        issues.append(Issue("no_testing", WARNING, 10.0, "no samples in the testing category"))
    elif train - test:
        issues.append(Issue("missing_in_testing", WARNING, 10.0,
                            f"labels never tested: {', '.join(sorted(train - test))}"))
    if test - train:
        issues.append(Issue("missing_in_training", ERROR, 15.0,
                            f"labels in testing but never trained: {', '.join(sorted(test - train))}"))
    signal_rates = {round(float(r), 6) for r, k in zip(rates, kinds, strict=True) if k != "image" and r}
    if len(signal_rates) > 1:
        issues.append(Issue("rate_mismatch", WARNING, 10.0,
                            f"{len(signal_rates)} different sample rates: "
                            f"{', '.join(plain_number(r) for r in sorted(signal_rates))} Hz "
                            "(resample with 'eml data clean')"))
    cats_by_hash: dict[str, set[str]] = {}
    for h, c in zip(hashes, categories, strict=True):
        cats_by_hash.setdefault(h, set()).add(c)
    leaks = sum(1 for cs in cats_by_hash.values() if len(cs) > 1)
    if leaks:
        issues.append(Issue("train_test_leak", ERROR, 20.0,
                            f"{leaks} identical signal(s) appear in both training and testing"))
    return issues


def dataset_score(samples: Sequence[SampleQuality], issues: Sequence[Issue]) -> float:
    if not samples:
        return 0.0
    mean = float(np.mean([s.score for s in samples]))
    return max(0.0, mean - sum(i.penalty for i in issues))

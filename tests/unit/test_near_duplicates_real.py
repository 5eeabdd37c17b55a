"""Near-duplicate search on the real data sets in ../shared/datasets: genuine recordings are not flagged, even
when z-normalised (italy-power-demand: every day correlates > 0.99 with another), while injected near-copies
(small noise, gain and offset) still are, each pointing at its original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from crisp_eml.data import quality as q

DATASETS = ("italy-power-demand", "basic-motions", "wiimote-gestures")


def _load(name: str) -> list[np.ndarray]:
    root = SHARED / "datasets" / name
    assert root.is_dir(), f"test data missing: {root}"
    files = sorted(Path(root).glob("*/*.csv"))
    return [np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2)[:, 1:].astype(np.float32) for f in files]


@pytest.mark.parametrize("name", DATASETS)
def test_real_recordings_are_not_near_duplicates_but_injected_copies_are(name: str) -> None:
    arrays = _load(name)
    vecs = [q.summary_vector(a, "timeseries") for a in arrays]
    kinds = ["timeseries"] * len(arrays)
    assert q.near_duplicate_pairs(vecs, kinds) == {}
    if name == "italy-power-demand":  # what fooled the old absolute rule
        m = np.stack([v for v in vecs if v is not None])
        sim = m @ m.T
        np.fill_diagonal(sim, -1)
        assert (sim.max(axis=1) >= q.NEAR_DUP_CORRELATION).mean() > 0.5
    rng = np.random.default_rng(7)
    originals = rng.choice(len(arrays), size=3, replace=False).tolist()
    copies = []
    for k, i in enumerate(originals):
        a = arrays[i]
        sd = a.std(axis=0, keepdims=True)
        copy = a + 0.01 * sd * rng.standard_normal(a.shape).astype(np.float32) if k < 2 else a * 1.2 + 0.5
        copies.append(copy.astype(np.float32))
    found = q.near_duplicate_pairs(vecs + [q.summary_vector(c, "timeseries") for c in copies],
                                   kinds + ["timeseries"] * len(copies))
    n = len(arrays)
    assert set(found) == {n, n + 1, n + 2}, found
    for k, i in enumerate(originals):
        j, sim = found[n + k]
        assert j == i and sim >= q.NEAR_DUP_CORRELATION, (name, k, i, j, sim)


def test_small_groups_keep_the_plain_correlation_rule() -> None:
    """Too few signals to measure the data set's spread: correlation >= 0.99 alone decides, as before."""
    t = np.linspace(0, 6, 120)
    base = np.stack([np.sin(t), np.cos(2 * t)], axis=1).astype(np.float32)
    close = base + 0.05 * np.sin(7 * t)[:, None].astype(np.float32)
    other = np.stack([np.sin(3 * t), t], axis=1).astype(np.float32)
    vecs = [q.summary_vector(a, "timeseries") for a in (base, other, close)]
    assert set(q.near_duplicate_pairs(vecs, ["timeseries"] * 3)) == {2}

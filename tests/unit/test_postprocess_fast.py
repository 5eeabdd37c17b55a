"""The vectorised post-processing used by calibration gives exactly the detections of the stepwise twin.

:func:`crisp_eml.core.postprocess_grid.detections_fast` (moving sums by cumulative sums, argmax over margins,
suppression over detections only) against :func:`crisp_eml.core.postprocess.detections` on random code streams
(dense and sparse, any zero point and scale, per-label thresholds including "never"), on a stream shaped like a
real model's (one label high for a while) and through the grid evaluator of :mod:`crisp_eml.core.calibration`.
"""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.calibration import Truth, evaluate_grid, score, settings_grid
from crisp_eml.core.postprocess import NEVER, PostprocessConfig, detections
from crisp_eml.core.postprocess_grid import code_sums, detections_fast


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, PostprocessConfig, float, int]:
    labels = int(rng.integers(1, 6))
    steps = int(rng.integers(1, 400))
    codes = rng.integers(-128, 128, (steps, labels))
    if rng.random() < 0.5:  # mostly "nothing", as a real stream
        codes = np.where(rng.random((steps, labels)) < 0.8, -128, codes)
    thresholds = [NEVER if rng.random() < 0.2 else float(rng.uniform(0.0, 1.1)) for _ in range(labels)]
    cfg = PostprocessConfig(int(rng.integers(1, 12)), tuple(thresholds), int(rng.integers(0, 9)))
    return codes.astype(np.int8), cfg, float(rng.uniform(1e-3, 0.02)), int(rng.integers(-130, 131))


@pytest.mark.parametrize("seed", range(8))
def test_fast_equals_stepwise_on_random_streams(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(60):
        codes, cfg, scale, zp = _random_case(rng)
        want = detections(codes, cfg, scale, zp)
        got = detections_fast(codes, cfg, scale, zp)
        assert got.dtype == want.dtype and np.array_equal(got, want), (cfg, scale, zp)


def test_fast_equals_stepwise_on_a_model_like_stream() -> None:
    """Softmax-like int8 outputs (scale 1/256, zero point -128): long runs of one label, ties between labels."""
    rng = np.random.default_rng(7)
    steps, labels = 3000, 4
    codes = np.full((steps, labels), -128, dtype=np.int16)
    codes[:, 1] = 127  # background label high most of the time
    for start in rng.integers(0, steps - 20, 80):
        k = int(rng.choice([0, 3]))
        n = int(rng.integers(2, 12))
        codes[start:start + n, 1] = -128
        codes[start:start + n, k] = rng.integers(0, 128, n)
        if rng.random() < 0.3:  # an exact tie between the two target labels
            codes[start:start + n, 3 - k] = codes[start:start + n, k]
    codes8 = codes.astype(np.int8)
    counts = set()
    for n in (1, 2, 3, 4, 6, 8):
        for thr in (0.3, 0.5, 0.7, 0.95):
            for s in (0, 2, 4, 6):
                cfg = PostprocessConfig(n, (thr, NEVER, NEVER, thr), s)
                want = detections(codes8, cfg, 1 / 256, -128)
                assert np.array_equal(detections_fast(codes8, cfg, 1 / 256, -128), want), (n, thr, s)
                counts.add(int((want >= 0).sum()))
    assert len(counts) > 20 and max(counts) > 80  # not vacuous: the settings detect differently, and often


def test_code_sums_start_from_the_clamped_zero_point() -> None:
    codes = np.array([[10], [20], [30]], dtype=np.int8)
    assert code_sums(codes, 3, -200).ravel().tolist() == [10 - 256, 30 - 128, 60]
    assert code_sums(codes, 1, 0).ravel().tolist() == [10, 20, 30]


def test_grid_scores_equal_the_stepwise_detections_scored_one_by_one() -> None:
    rng = np.random.default_rng(3)
    steps, labels = 800, 3
    codes = np.where(rng.random((steps, labels)) < 0.9, -128, rng.integers(-128, 128, (steps, labels))).astype(np.int8)
    end_rows = (np.arange(steps, dtype=np.int64) + 4) * 10
    truth = Truth(np.array([0, 2, 0]), np.array([500, 3000, 6000]), np.array([900, 3500, 6400]), 40, 0.01)
    names = ["yes", "noise", "no"]
    grid = settings_grid(4, average_windows=(1, 3), thresholds=(0.3, 0.6))
    results = evaluate_grid(codes, end_rows, truth, names, ["noise"], 1 / 256, -128, grid)
    assert len(results) == len(grid) == 2 * 2 * 3
    for r in results:
        cfg = r.setting.config(names, ["noise"])
        assert cfg.thresholds[1] == NEVER
        far, frr, per = score(detections(codes, cfg, 1 / 256, -128), end_rows, truth, names, ["yes", "no"])
        assert (r.far_per_hour, r.frr, r.per_label) == (far, frr, per)

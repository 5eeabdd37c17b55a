"""Quality checks: each one fires on a constructed bad sample and stays quiet on a good one."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.data import quality as q


def _good(n: int = 200, axes: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 50.0
    return np.stack([np.sin(2 * np.pi * (1 + k) * t) + 0.1 * rng.standard_normal(n) for k in range(axes)],
                    axis=1).astype(np.float32)


def _codes(issues: list[q.Issue]) -> list[str]:
    return [i.code for i in issues]


def test_good_signal_has_no_penalty() -> None:
    issues = q.signal_issues(_good(), axes=["x", "y", "z"], frequency_hz=50, dominant_hz=50, window_ms=2000)
    assert q.score_of(issues) == 100.0, issues


def test_nan_is_flagged_with_a_share_dependent_penalty() -> None:
    few, many = _good(), _good()
    few[3, 1] = np.nan
    many[:100, :] = np.nan
    i_few = q.signal_issues(few, frequency_hz=50)
    i_many = q.signal_issues(many, frequency_hz=50)
    assert "nan" in _codes(i_few) and "nan" in _codes(i_many)
    assert q.score_of(i_many) < q.score_of(i_few) < 100


def test_flat_line_is_per_axis() -> None:
    a = _good()
    a[:, 2] = 0.25
    issues = q.signal_issues(a, axes=["x", "y", "z"], frequency_hz=50)
    flat = [i for i in issues if i.code == "flat_line"]
    assert [i.axis for i in flat] == ["z"]


def test_clipping_runs_at_the_extremes() -> None:
    a = _good()
    a[:, 0] = np.clip(a[:, 0] * 3, -1.0, 1.0)  # hard saturation at +-1
    issues = q.signal_issues(a, axes=["x", "y", "z"], frequency_hz=50)
    assert [i.axis for i in issues if i.code == "clipping"] == ["x"]


def test_a_single_peak_is_not_clipping() -> None:
    a = _good()
    a[10, 0] = 50.0
    assert "clipping" not in _codes(q.signal_issues(a, frequency_hz=50))


def test_rate_checks() -> None:
    a = _good()
    assert "missing_rate" in _codes(q.signal_issues(a, frequency_hz=None))
    assert "rate_mismatch" in _codes(q.signal_issues(a, frequency_hz=100, dominant_hz=50))
    assert "rate_mismatch" not in _codes(q.signal_issues(a, frequency_hz=50, dominant_hz=50))
    regular = np.arange(200) * 20.0
    assert q.rate_issues(200, frequency_hz=50, dominant_hz=50, window_ms=None, timestamps_ms=list(regular)) == []
    jitter = regular.copy()
    jitter[50:] += 9.0  # one interval of 29 ms among 20 ms ones
    assert "irregular_rate" in _codes(q.rate_issues(200, frequency_hz=50, dominant_hz=None, window_ms=None,
                                                    timestamps_ms=list(jitter)))
    assert "wrong_rate" in _codes(q.rate_issues(200, frequency_hz=100, dominant_hz=None, window_ms=None,
                                                timestamps_ms=list(regular)))
    backwards = regular.copy()
    backwards[5] = 0
    assert "irregular_rate" in _codes(q.rate_issues(200, frequency_hz=50, dominant_hz=None, window_ms=None,
                                                    timestamps_ms=list(backwards)))


def test_too_short_for_the_window() -> None:
    a = _good(n=50)  # 1 s at 50 Hz
    assert "too_short" in _codes(q.signal_issues(a, frequency_hz=50, window_ms=2000))
    assert "too_short" not in _codes(q.signal_issues(a, frequency_hz=50, window_ms=1000))


def test_leading_repeat_is_informational() -> None:
    a = _good()
    a[0] = a[1]
    issues = q.signal_issues(a, frequency_hz=50)
    assert "leading_repeat" in _codes(issues) and q.score_of(issues) == 100
    assert q.leading_repeats(_good()) == 0


def test_images() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(20, 230, size=(32, 32, 3), dtype=np.uint8)
    assert q.image_issues(img) == []
    assert _codes(q.image_issues(np.full((8, 8, 1), 7, np.uint8))) == ["flat_line"]
    sat = img.copy()
    sat[:, :24] = 255
    assert "clipping" in _codes(q.image_issues(sat))


def test_duplicates_and_near_duplicates() -> None:
    base = _good(seed=1)
    other = _good(seed=2)[::-1].copy()
    near = base + 0.01 * np.random.default_rng(3).standard_normal(base.shape).astype(np.float32)
    louder = base * 1.5 + 0.2  # the same recording with a gain and an offset
    arrays = [base, other, near, louder]
    vecs = [q.summary_vector(a, "timeseries") for a in arrays]
    got = q.near_duplicate_pairs(vecs, ["timeseries"] * 4)
    assert set(got) == {2, 3} and got[2][0] == 0 and got[3][0] == 0
    assert q.duplicate_of(["h1", "h2", "h1", "h1"]) == {2: 0, 3: 0}
    skipped = q.near_duplicate_pairs(vecs, ["timeseries"] * 4, skip={(0, 2)})
    assert 2 not in skipped and skipped[3][0] == 0


def test_near_duplicate_images_by_average_hash() -> None:
    rng = np.random.default_rng(4)
    img = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
    brighter = np.clip(img.astype(int) + 5, 0, 255).astype(np.uint8)
    different = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
    vecs = [q.summary_vector(x, "image") for x in (img, different, brighter)]
    assert set(q.near_duplicate_pairs(vecs, ["image"] * 3)) == {2}


def test_dataset_issues() -> None:
    balanced = ["a", "b"] * 10
    cats = ["training"] * 16 + ["testing"] * 4
    hashes = [f"h{i}" for i in range(20)]
    assert q.dataset_issues(balanced, cats, [50.0] * 20, ["timeseries"] * 20, hashes) == []
    imbalanced = ["a"] * 18 + ["b"] * 2
    codes = _codes(q.dataset_issues(imbalanced, cats, [50.0] * 20, ["timeseries"] * 20, hashes))
    assert "class_imbalance" in codes
    no_b_in_test = ["a", "b"] * 8 + ["a"] * 4
    assert "missing_in_testing" in _codes(q.dataset_issues(no_b_in_test, cats, [50.0] * 20, ["timeseries"] * 20,
                                                            hashes))
    rates = [50.0] * 19 + [100.0]
    assert "rate_mismatch" in _codes(q.dataset_issues(balanced, cats, rates, ["timeseries"] * 20, hashes))
    leak = hashes[:19] + ["h0"]
    assert "train_test_leak" in _codes(q.dataset_issues(balanced, cats, [50.0] * 20, ["timeseries"] * 20, leak))
    assert "single_class" in _codes(q.dataset_issues(["a"] * 20, cats, [50.0] * 20, ["timeseries"] * 20, hashes))
    bal = q.balance_of(balanced)
    assert bal["ratio"] == 1.0 and bal["entropy"] == pytest.approx(1.0)


def test_dataset_score_and_tier() -> None:
    good = q.SampleQuality("1", "a", "a", "training", "timeseries")
    bad = q.SampleQuality("2", "b", "b", "training", "timeseries", [q.Issue("nan", q.ERROR, 60, "x")])
    assert q.dataset_score([good, good], []) == 100 and q.tier_of(100, []) == "gold"
    s = q.dataset_score([good, bad], [q.Issue("class_imbalance", q.WARNING, 10, "x")])
    assert s == pytest.approx(60.0) and q.tier_of(s, []) == "bronze"
    assert q.tier_of(95, [q.Issue("train_test_leak", q.ERROR, 0, "x")]) == "silver"

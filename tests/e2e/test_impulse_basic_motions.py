"""'Done means' for impulse design on real data: basic-motions, spectral analysis, 2 s windows, 0.5 s increase.

Samples are added through the sample repository directly (not the ingest CLI) so this test depends only on
the impulse capability. Checks features for every window, cache reuse, and class separation (silhouette).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import BASIC_MOTIONS


def add_basic_motions(project, folders=("training", "testing")) -> int:  # type: ignore[no-untyped-def]
    from crisp_eml.core.sample import Sensor
    from crisp_eml.data.samples import add_sample

    if not BASIC_MOTIONS.is_dir():
        pytest.fail(f"test data missing: {BASIC_MOTIONS}")
    n = 0
    with project.session() as s:
        for cat in folders:
            for f in sorted((BASIC_MOTIONS / cat).glob("*.csv")):
                header = f.read_text().splitlines()[0].split(",")
                data = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
                add_sample(project, s, data[:, 1:].astype(np.float32), name=f"{cat}/{f.name}",
                           label=f.name.split(".")[0], category=cat, kind="timeseries",
                           sensors=[Sensor(h) for h in header[1:]], frequency_hz=10.0, source=str(f),
                           metadata={"file": f.stem})
                n += 1
    return n


def test_basic_motions_spectral_features_separate_labels(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.workspace.explore import explore_features
    from crisp_eml.workspace.features import generate_features_report
    from crisp_eml.workspace.impulse import create_impulse

    n_samples = add_basic_motions(project)
    v = create_impulse(project, window_size_ms=2000, window_increase_ms=500, blocks=["spectral-analysis"])
    assert v.spec.input.axes == ("accX", "accY", "accZ", "gyrX", "gyrY", "gyrZ")
    fs, stats = generate_features_report(project, workers=2)
    # 100 rows at 10 Hz: windows of 20 rows starting every 5 rows -> (100 - 20) / 5 + 1 = 17 per sample
    assert stats.computed == n_samples and stats.cache_hits == 0
    assert fs.X.shape == (17 * n_samples, v.to_dict()["n_features"])
    assert np.isfinite(fs.X).all()
    assert sorted(fs.label_names) == ["badminton", "running", "standing", "walking"]
    assert set(fs.metadata) == {"file"} and fs.metadata["file"].shape == (fs.X.shape[0],)

    fs2, stats2 = generate_features_report(project, workers=1)  # all cached now
    assert stats2.cache_hits == n_samples and stats2.computed == 0
    np.testing.assert_array_equal(fs.X, fs2.X)

    page = tmp_path / "explorer.html"
    res = explore_features(project, html_path=page)
    assert res["windows"] == fs.X.shape[0]
    assert res["silhouette"] > 0, res["silhouette"]
    assert res["silhouette_features"] > 0
    text = page.read_text()
    assert "<svg" in text and "http" not in text.replace("http://www.w3.org/2000/svg", "")
    for label in fs.label_names:
        assert label in text
    actions = [e.action for e in project.audit_entries()]
    assert {"impulse.create", "features.generate", "features.explore"} <= set(actions)

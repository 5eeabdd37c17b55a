"""``check_dataset`` on a project with constructed bad samples, the HTML report, and the clean layer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from data_helpers import add, small_dataset, wave
from sqlalchemy import select

from crisp_eml.core.errors import InputError
from crisp_eml.data.samples import list_samples, load_array
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.check import check_dataset, write_html_report
from crisp_eml.workspace.clean import clean, interpolate_nans, resample
from crisp_eml.workspace.snapshot import snapshot


def _codes(report, name: str) -> set[str]:  # type: ignore[no-untyped-def]
    (s,) = [s for s in report.samples if s.name == name]
    return {i.code for i in s.issues if i.penalty > 0}


def _bad_dataset(project: Project) -> None:
    small_dataset(project)
    with_nan = wave(seed=20)
    with_nan[5:9, 0] = np.nan
    add(project, with_nan, "nan", "a")
    flat = wave(seed=21)
    flat[:, 1] = 0.0
    add(project, flat, "flat", "a")
    clipped = wave(seed=22)
    clipped[:, 2] = np.clip(clipped[:, 2] * 4, -2, 2)
    add(project, clipped, "clipped", "b")
    add(project, wave(seed=23), "fast", "b", frequency_hz=100.0)
    add(project, wave(n=20, seed=24), "short", "a")
    add(project, wave(seed=1), "dup", "a")  # same content as a.00
    near = wave(seed=2) * 1.01 + 0.001
    add(project, near, "near", "b")  # nearly b.01
    gone = add(project, wave(seed=25), "corrupt", "b")
    path = project.blobs.path(gone.hash)
    Path(path).write_bytes(b"not an array")


def test_each_check_fires_on_its_bad_sample_only(project: Project) -> None:
    _bad_dataset(project)
    r = check_dataset(project, window_ms=1000)
    assert _codes(r, "nan") == {"nan"}
    assert _codes(r, "flat") == {"flat_line"}
    assert _codes(r, "clipped") == {"clipping"}
    assert _codes(r, "fast") == {"rate_mismatch"}
    assert _codes(r, "short") == {"too_short"}
    assert _codes(r, "dup") == {"duplicate"}
    assert _codes(r, "near") == {"near_duplicate"}
    assert _codes(r, "corrupt") == {"unreadable"}
    clean_names = [s.name for s in r.samples if s.name[0] in "ab" and s.name[1] == "."]
    assert len(clean_names) == 10 and all(_codes(r, n) == set() for n in clean_names)
    assert {i.code for i in r.dataset_issues} == {"rate_mismatch"}
    assert r.score < 90 and r.tier != "gold"
    d = r.to_dict()
    assert d["n_samples"] == 18 and d["issue_counts"]["unreadable"] == 1
    assert project.audit_entries()[-1].action == "dataset.check"


def test_good_dataset_scores_high(project: Project) -> None:
    small_dataset(project)
    r = check_dataset(project, audit=False)
    assert r.score == 100 and r.tier == "gold" and r.dataset_issues == []
    assert r.label_counts == {"testing": {"a": 1, "b": 1}, "training": {"a": 4, "b": 4}}
    assert not any(a.action == "dataset.check" for a in project.audit_entries())
    with pytest.raises(InputError, match="window-ms"):
        check_dataset(project, window_ms=-5)


def test_html_report_embeds_the_figures(project: Project, tmp_path: Path) -> None:
    small_dataset(project)
    r = check_dataset(project)
    out = write_html_report(project, r, tmp_path / "q.html")
    text = out.read_text()
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(pngs) == 4  # class balance, score histogram, one example per class (a, b)
    assert "example of class a" in text and "example of class b" in text and "class balance per category" in text
    assert "<script" not in text and "http" not in text.split("<body>")[1]
    with pytest.raises(InputError):
        write_html_report(project, r, tmp_path / "missing-dir" / "q.html")


def _raw_state(project: Project) -> list[tuple[str, str, str | None, str, bool]]:
    with project.session() as s:
        return [(r.id, r.hash, r.label, r.category, r.enabled)
                for r in s.execute(select(SampleRow).where(SampleRow.layer == "raw").order_by(SampleRow.id)).scalars()]


def test_clean_layer_leaves_raw_untouched(project: Project) -> None:
    _bad_dataset(project)
    raw_before = _raw_state(project)
    r = clean(project, drop_below=65, repair=True, resample_hz=25, window_ms=1000)
    assert _raw_state(project) == raw_before
    corrupt_hash = [s.hash for s in list_samples(project) if s.name == "corrupt"][0]
    assert all(project.blobs.verify(h) for _, h, *_ in raw_before if h != corrupt_hash)
    dropped = {d["name"] for d in r.dropped}
    assert "corrupt" in dropped and "short" in dropped  # unreadable, and too short for the window (score 60 < 65)
    cleaned = list_samples(project, layer="clean")
    assert len(cleaned) == r.kept == 18 - len(dropped)
    raw_by_id = {s.id: s for s in list_samples(project)}
    assert all(c.parent_id in raw_by_id and c.layer == "clean" and c.frequency_hz == 25 for c in cleaned)
    (nan_clean,) = [c for c in cleaned if c.name == "nan"]
    arr = load_array(project, nan_clean)
    assert np.isfinite(arr).all() and arr.shape == (100, 3)  # 200 rows at 50 Hz -> 100 at 25 Hz
    # a clean-layer check no longer sees the NaNs or the rate mismatch
    rc = check_dataset(project, layer="clean", audit=False)
    assert "nan" not in {i.code for s in rc.samples for i in s.issues}
    assert "rate_mismatch" not in {i.code for i in rc.dataset_issues}
    v = snapshot(project, "clean layer", layer="clean")
    # re-running replaces the layer atomically and, with the same inputs, reproduces the same samples
    r2 = clean(project, drop_below=65, repair=True, resample_hz=25, window_ms=1000)
    assert r2.replaced == len(cleaned) and r2.kept == r.kept
    assert sorted(c.id for c in list_samples(project, layer="clean")) == sorted(c.id for c in cleaned)
    assert snapshot(project, "again", layer="clean").digest == v.digest
    r3 = clean(project)
    assert r3.kept == 17 and len(list_samples(project, layer="clean")) == 17  # only the unreadable one dropped
    assert _raw_state(project) == raw_before
    assert [a.action for a in project.audit_entries()].count("dataset.clean") == 3


def test_clean_transforms() -> None:
    a = np.array([[np.nan, 1.0], [2.0, np.nan], [4.0, 3.0]], dtype=np.float32)
    fixed = interpolate_nans(a)
    assert fixed is not None and fixed.dtype == np.float32
    assert fixed.tolist() == [[2.0, 1.0], [2.0, 2.0], [4.0, 3.0]]
    assert interpolate_nans(np.array([[np.nan], [np.nan]])) is None
    x = np.sin(np.linspace(0, 4 * np.pi, 100)).reshape(-1, 1).astype(np.float32)
    assert resample(x, 100, 50).shape == (50, 1)
    assert resample(x, 10, 62.5).shape == (625, 1)
    assert resample(x, 50, 50) is x


def test_images_are_checked_and_plotted(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    imgs = {f"{lbl}.{k}": rng.integers(0, 255, size=(24, 24, 3), dtype=np.uint8) for lbl in "xy" for k in range(3)}
    imgs["y.dark"] = np.zeros((24, 24, 3), np.uint8)
    imgs["x.copy"] = np.clip(imgs["x.0"].astype(int) + 3, 0, 255).astype(np.uint8)
    for k, (name, img) in enumerate(imgs.items()):
        add(project, img, name, name[0], "testing" if k % 3 == 0 else "training", frequency_hz=None, kind="image")
    r = check_dataset(project, audit=False)
    assert _codes(r, "y.dark") == {"flat_line"} and _codes(r, "x.copy") == {"near_duplicate"}
    assert _codes(r, "x.1") == set() and "rate_mismatch" not in {i.code for i in r.dataset_issues}
    text = write_html_report(project, r, tmp_path / "img.html").read_text()
    assert text.count("data:image/png;base64,") == 4 and "example of class y" in text
    assert clean(project, resample_hz=10).kept == len(imgs)  # images pass through resampling unchanged

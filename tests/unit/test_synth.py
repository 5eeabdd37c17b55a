"""Built-in synthetic data: deterministic, per-subject metadata, learnable motion classes, keyword clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.core.errors import ToolMissingError
from crisp_eml.data.formats import parse_bytes
from crisp_eml.data.synth import MOTION_HZ, MOTION_LABELS, write_keywords, write_motion


def test_motion_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a = write_motion(tmp_path / "a", seed=1, subjects=2, per_subject=2)
    write_motion(tmp_path / "b", seed=1, subjects=2, per_subject=2)
    write_motion(tmp_path / "c", seed=2, subjects=2, per_subject=2)
    assert len(a) == 4 * 2 * 2
    same = [(tmp_path / "a" / f.relative).read_bytes() == (tmp_path / "b" / f.relative).read_bytes() for f in a]
    diff = [(tmp_path / "a" / f.relative).read_bytes() != (tmp_path / "c" / f.relative).read_bytes() for f in a]
    assert all(same) and all(diff)
    p = parse_bytes((tmp_path / "a" / a[0].relative).read_bytes(), a[0].relative)
    assert p.frequency_hz == MOTION_HZ and [s.name for s in p.sensors] == ["accX", "accY", "accZ"]
    assert {s.units for s in p.sensors} == {"m/s2"} and p.metadata["subject"] == a[0].subject
    assert 2.0 * MOTION_HZ - 1 <= p.array.shape[0] <= 4.0 * MOTION_HZ + 1


def _features(x: np.ndarray) -> np.ndarray:
    spec = np.abs(np.fft.rfft(x - x.mean(0), n=256, axis=0))[:40]
    return np.concatenate([x.mean(0), x.std(0), spec.argmax(0), spec.max(0)])


def test_motion_classes_learnable_across_subjects(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    files = write_motion(tmp_path, seed=0, subjects=5, per_subject=6)
    X = np.array([_features(parse_bytes((tmp_path / f.relative).read_bytes(), f.relative).array) for f in files])
    y = np.array([f.label for f in files])
    test = np.array([f.subject in ("s04", "s05") for f in files])  # unseen subjects
    clf = RandomForestClassifier(n_estimators=50, random_state=0).fit(X[~test], y[~test])
    acc = float((clf.predict(X[test]) == y[test]).mean())
    assert acc >= 0.95, acc
    # but not trivially identical: recordings of one class differ
    idle = [f for f in files if f.label == MOTION_LABELS[0]][:2]
    x0, x1 = (parse_bytes((tmp_path / f.relative).read_bytes(), f.relative).array for f in idle)
    assert x0.shape != x1.shape or not np.allclose(x0, x1)


def test_motion_csv_variant(tmp_path: Path) -> None:
    files = write_motion(tmp_path, subjects=1, per_subject=1, fmt="csv")
    assert all(f.relative.endswith(".csv") for f in files)
    assert parse_bytes((tmp_path / files[0].relative).read_bytes(), files[0].relative).frequency_hz == MOTION_HZ


def test_keywords_need_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(ToolMissingError, match="espeak-ng"):
        write_keywords(tmp_path, per_class=1)


def test_keywords_clips(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (Debian package espeak-ng); the keyword dataset needs it")
    files = write_keywords(tmp_path, seed=0, per_class=2)
    assert sorted({f.label for f in files}) == ["no", "noise", "unknown", "yes"] and len(files) == 8
    clips = {f.relative: parse_bytes((tmp_path / f.relative).read_bytes(), f.relative) for f in files}
    for p in clips.values():
        assert p.kind == "audio" and p.frequency_hz == 16000 and p.array.shape == (16000, 1)
        assert p.metadata["wav_bits"] == 16 and 0.01 < float(np.abs(p.array).max()) <= 1.0
    again = write_keywords(tmp_path / "again", seed=0, per_class=2)
    assert all((tmp_path / f.relative).read_bytes() == (tmp_path / "again" / f.relative).read_bytes() for f in again)
    speech = [p for name, p in clips.items() if name.startswith("yes.")]
    noise = [p for name, p in clips.items() if name.startswith("noise.")]
    assert max(float(np.abs(p.array).max()) for p in speech) > max(float(p.array.std()) for p in noise)

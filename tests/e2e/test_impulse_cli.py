"""The ``eml impulse`` and ``eml features`` commands end to end (in-process CLI on a small project)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from cli_helpers import add_sine_samples


def _add_signals(project) -> None:  # type: ignore[no-untyped-def]
    add_sine_samples(project)


def test_impulse_and_features_cli(project, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = project.root
    code, out, err = run_cli(["impulse", "show"], cwd=root)
    assert code == 3 and "eml impulse create" in err  # NotFoundError with a hint

    _add_signals(project)
    code, out, err = run_cli(["impulse", "create", "--quick", "--json"], cwd=root)
    assert code == 0, err
    info = json.loads(out)
    assert info["version"] == 1 and info["spec"]["input"]["window_size_ms"] == 2000.0  # min(2000, 6000 ms)
    assert info["spec"]["input"]["window_increase_ms"] == 500.0
    assert [b["type"] for b in info["spec"]["blocks"]] == ["spectral-analysis"]

    code, out, err = run_cli(["impulse", "set", "blocks.0.params.fft-length=32", "--json"], cwd=root)
    assert code == 0, err
    assert json.loads(out)["spec"]["blocks"][0]["params"]["fft-length"] == 32
    code, out, err = run_cli(["impulse", "set", "blocks.0.params.fft-length=30"], cwd=root)
    assert code == 2 and "blocks.0.params.fft-length" in err and "power of two" in err
    code, out, err = run_cli(["impulse", "set", "blocks.0.params.filter-cutoff=15"], cwd=root)
    assert code == 2 and "Nyquist" in err

    code, out, err = run_cli(["impulse", "autotune", "--json"], cwd=root)
    assert code == 0, err
    tuned = json.loads(out)
    assert tuned["version"] == 3 and "spectral-analysis" in tuned["changes"]

    code, out, err = run_cli(["impulse", "history", "--json"], cwd=root)
    assert [v["version"] for v in json.loads(out)] == [1, 2, 3]

    code, out, err = run_cli(["features", "generate", "--json", "--workers", "1"], cwd=root)
    assert code == 0, err
    gen = json.loads(out)
    assert gen["windows"] == 8 * 9 and gen["computed"] == 8 and gen["cache_hits"] == 0  # (120-40)/10+1 = 9
    code, out, err = run_cli(["features", "generate", "--json"], cwd=root)
    assert json.loads(out)["cache_hits"] == 8

    page = tmp_path / "fe.html"
    code, out, err = run_cli(["features", "explore", "--html", str(page), "--json"], cwd=root)
    assert code == 0, err
    res = json.loads(out)
    assert res["silhouette"] > 0.5 and page.is_file() and res["importance"]
    from crisp_eml.store.tables.impulse import FeatureCacheRow
    from crisp_eml.workspace.gc_blobs import referenced_blobs

    refs = referenced_blobs(project)  # blob gc must keep the cache and the saved embedding
    with project.session() as s:
        cached = {r.blob_hash for r in s.query(FeatureCacheRow)}
    assert len(cached) == 8 and cached <= refs and res["embedding_blob"] in refs

    code, out, err = run_cli(["impulse", "set", "blocks.0.params.do-log=false"], cwd=root)
    assert code == 0, err
    code, out, err = run_cli(["features", "generate", "--json", "--workers", "1"], cwd=root)
    assert json.loads(out)["computed"] == 8  # a changed parameter invalidates the cache

    code, out, err = run_cli(["features", "explore", "--method", "nope"], cwd=root)
    assert code == 2 and "method" in err
    code, out, err = run_cli(["impulse", "show"], cwd=root)
    assert code == 0 and "Impulse v4" in out and "do-log=False" in out


def test_image_and_audio_projects_get_matching_impulses(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.core.sample import Sensor
    from crisp_eml.data.samples import add_sample
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.impulse import create_impulse

    rng = np.random.default_rng(1)
    with project.session() as s:
        for i in range(4):
            img = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
            add_sample(project, s, img, name=f"img{i}", label="ab"[i % 2], category="training", kind="image",
                       sensors=[Sensor("R"), Sensor("G"), Sensor("B")], frequency_hz=None, source="t")
    v = create_impulse(project)
    assert v.spec.to_dict()["input"]["width"] == 20 and v.spec.blocks[0].type == "image"
    fs = generate_features(project, workers=1)
    assert fs.X.shape == (4, 20, 20, 3) and fs.X.min() >= 0.0 and fs.X.max() <= 1.0

    audio = Project.init(tmp_path / "audio", "audio", member="tester")
    with audio.session() as s:
        for i in range(3):
            x = rng.standard_normal((4000, 1)).astype(np.float32)
            add_sample(audio, s, x, name=f"a{i}", label="noise", category="training", kind="audio",
                       sensors=[Sensor("audio")], frequency_hz=8000.0, source="t")
    v = create_impulse(audio)
    assert v.spec.blocks[0].type == "mfcc" and v.spec.to_dict()["input"]["window_size_ms"] == 500.0
    fs = generate_features(audio, workers=1)
    assert fs.X.shape[0] == 3 and fs.X.shape[1:] == fs.feature_shape == (25, 13)

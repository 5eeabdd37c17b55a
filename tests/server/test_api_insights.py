"""The Studio's insight routes over HTTP: processing blocks on offer, the feature explorer's points (read from the
feature cache, never computed by a GET), and a run's latest test results (a test job's results winning over
training's, per-sample rows misclassified first)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from server_helpers import Api, ml_api_for

V1 = "/api/v1"


@pytest.fixture
def ml(tmp_path: Path) -> Iterator[Api]:
    with ml_api_for(tmp_path / "proj") as api:
        yield api


def test_dsp_blocks_lists_every_block_with_its_defaults(ml: Api) -> None:
    from crisp_eml.dsp.registry import BLOCKS

    got = ml.client.get(f"{V1}/dsp/blocks", headers=ml.headers("uma")).json()
    assert [b["type"] for b in got] == sorted(set(BLOCKS) - {"external"})  # external needs a URL: not offered
    flatten = next(b for b in got if b["type"] == "flatten")
    assert flatten["defaults"]["scale-axes"] == 1.0 and flatten["defaults"]["rms"] is True
    spectral = next(b for b in got if b["type"] == "spectral-analysis")
    assert spectral["versions"] == [1, 2, 3, 4, "crisp"] and spectral["latest_version"] == 4
    # each version's own defaults: Edge Impulse's (3 peaks by default) vs the crisp variant's (none)
    assert spectral["defaults_by_version"]["4"]["spectral-peaks-count"] == 3
    assert spectral["defaults_by_version"]["crisp"]["spectral-peaks-count"] == 0


def test_explorer_embeds_the_cached_features_only(ml: Api) -> None:
    from crisp_eml.data.samples import list_samples
    from crisp_eml.workspace.explore import embed, standardize
    from crisp_eml.workspace.features import generate_features

    c, h = ml.client, ml.headers("uma")
    before = c.get(f"{V1}/features/explorer", headers=h).json()
    assert (before["samples"], before["missing"], before["points"]) == (10, 10, [])  # a GET computes nothing
    assert before["reason"] == "generate features first"
    assert c.get(f"{V1}/features", headers=h).json()["generated"] == 0

    fs = generate_features(ml.project)
    got = c.get(f"{V1}/features/explorer", headers=h).json()
    assert (got["missing"], got["generated"], got["windows"]) == (0, 10, fs.X.shape[0])
    assert [p["sample_id"] for p in got["points"]] == list(fs.sample_ids)
    assert [p["label"] for p in got["points"]] == list(fs.labels)
    want = embed(standardize(fs.X), "pca")
    xy = np.array([[p["x"], p["y"]] for p in got["points"]])
    assert np.allclose(xy, want, atol=1e-4)
    assert got["labels"] == ["a", "b"] and got["silhouette"] is not None
    names = {s.id: s.name for s in list_samples(ml.project)}
    assert all(names[p["sample_id"]] == p["name"] for p in got["points"])

    testing = c.get(f"{V1}/features/explorer", params={"category": "testing"}, headers=h).json()
    assert testing["samples"] == 2 and {p["category"] for p in testing["points"]} == {"testing"}
    thin = c.get(f"{V1}/features/explorer", params={"max_points": 5}, headers=h).json()
    assert thin["thinned"] and len(thin["points"]) == 5
    assert len(c.get(f"{V1}/features/explorer", params={"method": "tsne"}, headers=h).json()["points"]) == len(xy)
    for bad in ({"method": "umap"}, {"max_points": 0}, {"layer": "x"}, {"category": "x"}):
        assert c.get(f"{V1}/features/explorer", params=bad, headers=h).status_code == 422

    c.patch(f"{V1}/impulse", json={"assignments": ["blocks.0.params.fft-length=32"]}, headers=ml.headers("dana"))
    stale = c.get(f"{V1}/features/explorer", headers=h).json()
    assert stale["missing"] == 10 and stale["points"] == []


def _finished_test_job(api: Api, result: dict[str, object]) -> str:
    from crisp_eml.jobs import store

    job = store.submit(api.project, "test", {"run": str(result["run"])}, reserve=True)  # no runner takes it
    assert store.finish(api.project, job["id"], "succeeded", result=result)
    return str(job["id"])


def test_test_results_of_a_run_latest_job_wins_misclassified_first(ml: Api) -> None:
    from crisp_eml.workspace.evaluate import test_run
    from crisp_eml.workspace.train import train

    c, h = ml.client, ml.headers("uma")
    none = c.get(f"{V1}/tests/latest", headers=h).json()
    assert none["run"] is None and none["variants"] == {}
    run = str(train(ml.project, learning="anomaly-kmeans", seed=0)["id"])
    trained = c.get(f"{V1}/tests/latest", headers=h).json()
    assert trained["run"] == run and list(trained["variants"]) == ["model"]
    model = trained["variants"]["model"]
    assert model["source"] == "training" and model["job"] is None and "confusion_matrix" in model
    assert len(model["per_sample"]) == 2 and all(p["predicted"] in ("normal", "anomaly") for p in model["per_sample"])
    assert c.get(f"{V1}/runs/{run[:6]}/test", headers=h).json()["run"] == run
    assert c.get(f"{V1}/runs/ffffffffffff/test", headers=h).status_code == 404

    result = test_run(ml.project, run_id=run)
    last = result["per_sample"][-1]
    last["anomaly"] = not last["expected_anomaly"]  # the job found this one wrong
    job = _finished_test_job(ml, result)
    got = c.get(f"{V1}/runs/{run}/test", headers=h).json()["variants"]["model"]
    assert (got["source"], got["job"], got["by"]) == ("test job", job, "alice")
    assert got["per_sample"][0]["sample_id"] == last["sample_id"] and got["per_sample"][0]["correct"] is False
    assert got["misclassified"] == 1 + model["misclassified"]
    assert all(p["correct"] for p in got["per_sample"][got["misclassified"]:])

"""The ML side over HTTP: impulse get/set/edit and its DSP preview, feature status, runs, models and aliases,
each as the personas that may and may not, with clean 4xx errors and audited writes (``via_token``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from server_helpers import Api, ml_api_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from data_helpers import add, wave  # noqa: E402

from crisp_eml.dsp.pipeline import features_from_signal  # noqa: E402
from crisp_eml.workspace.impulse import current_impulse  # noqa: E402

V1 = "/api/v1"


@pytest.fixture
def ml(tmp_path: Path) -> Iterator[Api]:
    with ml_api_for(tmp_path / "proj") as api:
        yield api


def _token_id(api: Api, member: str) -> str:
    return api.tokens[member].split("_")[2]


def _last(api: Api, action: str) -> dict[str, Any]:
    page = api.client.get(f"{V1}/audit", params={"action": action, "newest_first": True, "limit": 1},
                          headers=api.headers("uma")).json()
    return page["entries"][0]  # type: ignore[no-any-return]


def test_impulse_is_read_by_everyone_and_set_only_by_designers(ml: Api) -> None:
    c = ml.client
    got = c.get(f"{V1}/impulse", headers=ml.headers("uma"))
    assert got.status_code == 200
    assert got.json()["spec"] == current_impulse(ml.project).to_dict() and got.json()["version"] == 1
    spec = got.json()["spec"]
    spec["input"]["window_increase_ms"] = 1000.0
    body = {"spec": spec, "message": "slower step"}
    for who in ("bob", "uma", "erin"):
        r = c.put(f"{V1}/impulse", json=body, headers=ml.headers(who))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", who
    assert c.put(f"{V1}/impulse", json=body).status_code == 401
    r = c.put(f"{V1}/impulse", json=body, headers=ml.headers("dana"))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["author"] == "dana" and r.json()["message"] == "slower step"
    assert current_impulse(ml.project).input.window_increase_ms == 1000.0  # type: ignore[union-attr]
    entry = _last(ml, "impulse.set")
    assert entry["actor"] == "dana" and entry["artifacts"]["via_token"] == _token_id(ml, "dana")

    r = c.patch(f"{V1}/impulse", json={"assignments": ["blocks.0.params.fft-length=32"]}, headers=ml.headers("rita"))
    assert r.status_code == 200 and r.json()["spec"]["blocks"][0]["params"]["fft-length"] == 32
    hist = c.get(f"{V1}/impulse/history", headers=ml.headers("uma")).json()
    assert [(h["version"], h["current"]) for h in hist] == [(1, False), (2, False), (3, True)]


def test_bad_impulse_bodies_are_4xx_and_change_nothing(ml: Api) -> None:
    c, h = ml.client, ml.headers("dana")
    spec = current_impulse(ml.project).to_dict()
    bad_axis = {**spec, "blocks": [{**spec["blocks"][0], "axes": ["nope"]}]}
    cases: list[tuple[Any, int, str | None]] = [
        ({"spec": {**spec, "extra": 1}}, 400, "extra"),
        ({"spec": bad_axis}, 400, "blocks.0.axes"),
        ({"spec": {**spec, "input": {**spec["input"], "window_size_ms": -5}}}, 400, "input.window_size_ms"),
        ({"spec": {**spec, "blocks": [{"type": "no-such-block"}]}}, 400, None),
        ({"spec": "not an object"}, 422, "spec"),
        ({}, 422, "spec"),
    ]
    for body, status, field in cases:
        r = c.put(f"{V1}/impulse", json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        err = r.json()["error"]
        assert "Traceback" not in r.text and err["message"]
        if field is not None:
            assert err["field"] == field, (body, err)
    assert c.put(f"{V1}/impulse", content=b"{not json", headers={**h, "content-type": "application/json"}
                 ).status_code == 422
    assert c.patch(f"{V1}/impulse", json={"assignments": ["no-equals-sign"]}, headers=h).status_code == 400
    assert c.patch(f"{V1}/impulse", json={"assignments": []}, headers=h).status_code == 422
    assert [v["version"] for v in c.get(f"{V1}/impulse/history", headers=h).json()] == [1]


def test_no_impulse_yet_is_404(api: Api) -> None:
    for path in ("/impulse", "/features", "/impulse/preview/anything"):
        r = api.client.get(V1 + path, headers=api.headers("uma"))
        assert r.status_code == 404 and "impulse create" in r.json()["error"]["message"], path


def test_preview_matches_the_whole_sample_features_window_by_window(ml: Api) -> None:
    """Cutting only the asked-for windows gives exactly the features of the whole recording, also when the
    recording is resampled to the impulse's rate."""
    spec = current_impulse(ml.project)
    sig = wave(n=1200, seed=7, freq_hz=100.0)
    add(ml.project, sig, "long.100hz", "a", frequency_hz=100.0)
    whole = features_from_signal(spec, sig, 100.0, ["x", "y", "z"])
    assert whole.shape[0] > 12
    seen = []
    offset = 0
    while True:
        r = ml.client.get(f"{V1}/impulse/preview/training/long.100hz", params={"offset": offset, "limit": 5},
                          headers=ml.headers("uma"))
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["windows"] == whole.shape[0] and p["n_features"] == whole.shape[1]
        assert len(p["feature_names"]) == whole.shape[1] and p["blocks"][0]["length"] == whole.shape[1]
        seen += p["features"]
        offset += p["shown"]
        if not p["more_windows"]:
            break
    np.testing.assert_allclose(np.array(seen, dtype=np.float32), whole, rtol=1e-5, atol=1e-5)
    inc = spec.input.window_increase_ms  # type: ignore[union-attr]
    last = ml.client.get(f"{V1}/impulse/preview/long.100hz", params={"offset": 2, "limit": 1},
                         headers=ml.headers("uma")).json()
    assert last["window_starts_ms"] == [pytest.approx(2 * inc)] and last["sample"]["name"] == "long.100hz"


def test_preview_bad_requests(ml: Api) -> None:
    c, h = ml.client, ml.headers("uma")
    assert c.get(f"{V1}/impulse/preview/no-such-sample", headers=h).status_code == 404
    assert c.get(f"{V1}/impulse/preview/a.00", params={"limit": 0}, headers=h).status_code == 422
    assert c.get(f"{V1}/impulse/preview/a.00", params={"limit": 10_000}, headers=h).status_code == 422
    assert c.get(f"{V1}/impulse/preview/a.00", params={"offset": -1}, headers=h).status_code == 422
    far = c.get(f"{V1}/impulse/preview/a.00", params={"offset": 10_000}, headers=h).json()
    assert far["shown"] == 0 and far["features"] == [] and not far["more_windows"]
    add(ml.project, wave(n=200, axes=2, seed=3), "two.axes", "a")
    r = c.get(f"{V1}/impulse/preview/two.axes", headers=h)
    assert r.status_code == 400 and "no axis 'z'" in r.json()["error"]["message"]
    assert c.get(f"{V1}/impulse/preview/a.00").status_code == 401


def test_feature_status_follows_generation_and_impulse_changes(ml: Api) -> None:
    from crisp_eml.workspace.features import generate_features

    c, h = ml.client, ml.headers("uma")
    before = c.get(f"{V1}/features", headers=h).json()
    assert (before["samples"], before["generated"], before["up_to_date"]) == (10, 0, False)
    fs = generate_features(ml.project)
    after = c.get(f"{V1}/features", headers=h).json()
    assert (after["generated"], after["missing"], after["up_to_date"]) == (10, 0, True)
    assert after["windows"] == fs.X.shape[0] and after["categories"]["testing"]["generated"] == 2
    assert after["impulse_hash"] == fs.impulse_hash
    c.patch(f"{V1}/impulse", json={"assignments": ["blocks.0.params.fft-length=32"]}, headers=ml.headers("dana"))
    assert c.get(f"{V1}/features", headers=h).json()["generated"] == 0
    assert c.get(f"{V1}/features", params={"layer": "nope"}, headers=h).status_code == 400


def _train(api: Api) -> str:
    from crisp_eml.workspace.train import train

    return str(train(api.project, learning="anomaly-kmeans", seed=0)["id"])  # a real run in about a second


def test_runs_list_show_compare_and_report(ml: Api) -> None:
    c, h = ml.client, ml.headers("uma")
    first, second = _train(ml), _train(ml)
    listed = c.get(f"{V1}/runs", headers=h).json()
    assert {r["id"] for r in listed} == {first, second}
    assert len(c.get(f"{V1}/runs", params={"limit": 1}, headers=h).json()) == 1
    shown = c.get(f"{V1}/runs/{first[:8]}", headers=h)
    assert shown.status_code == 200 and shown.json()["id"] == first and "report.html" in shown.json()["artifacts"]
    assert c.get(f"{V1}/runs/ffffffffffff", headers=h).status_code == 404
    cmp = c.get(f"{V1}/runs/compare", params=[("run", first), ("run", second)], headers=h).json()
    assert cmp["runs"] == [first, second]
    assert c.get(f"{V1}/runs/compare", params={"run": first}, headers=h).status_code == 422
    rep = c.get(f"{V1}/runs/{first}/report", headers=h)
    assert rep.status_code == 200 and rep.headers["content-type"].startswith("text/html")
    assert "<html" in rep.text.lower() and "sandbox" in rep.headers["content-security-policy"]


def test_register_models_and_move_aliases(ml: Api) -> None:
    c = ml.client
    run = _train(ml)
    body = {"name": "motion", "run": run, "description": "first"}
    assert c.post(f"{V1}/models", json=body, headers=ml.headers("erin")).status_code == 403
    assert c.post(f"{V1}/models", json={**body, "name": "bad name!"}, headers=ml.headers("dana")).status_code == 400
    assert c.post(f"{V1}/models", json={**body, "run": "nosuchrun"}, headers=ml.headers("dana")).status_code == 404
    r = c.post(f"{V1}/models", json=body, headers=ml.headers("dana"))
    assert r.status_code == 201 and r.json()["uri"] == "models:/motion/1" and r.json()["run"] == run
    assert _last(ml, "model.register")["artifacts"]["via_token"] == _token_id(ml, "dana")
    c.post(f"{V1}/models", json={"name": "motion"}, headers=ml.headers("dana"))  # version 2, latest run

    h = ml.headers("uma")
    assert [m["uri"] for m in c.get(f"{V1}/models", headers=h).json()] == ["models:/motion/1", "models:/motion/2"]
    m = c.get(f"{V1}/models/motion", headers=h).json()
    assert (m["latest"], m["aliases"], len(m["versions"])) == (2, {}, 2)
    assert c.get(f"{V1}/models/nope", headers=h).status_code == 404
    assert c.get(f"{V1}/models/motion/versions/1", headers=h).json()["description"] == "first"
    assert c.get(f"{V1}/models/motion/versions/9", headers=h).status_code == 404
    assert c.get(f"{V1}/models/motion/versions/0", headers=h).status_code == 422
    lin = c.get(f"{V1}/models/motion/versions/1/lineage", headers=h).json()
    assert lin["run"]["id"] == run and lin["impulse"]["hash"] == current_impulse(ml.project).hash

    alias = f"{V1}/models/motion/aliases/staging"
    for who in ("dana", "bob", "uma"):
        assert c.put(alias, json={"version": 1}, headers=ml.headers(who)).status_code == 403, who
    for bad in ({"version": 0}, {"version": "one"}, {}):
        assert c.put(alias, json=bad, headers=ml.headers("olga")).status_code == 422, bad
    assert c.put(f"{V1}/models/motion/aliases/9bad", json={"version": 1},
                 headers=ml.headers("olga")).status_code == 400
    assert c.put(alias, json={"version": 7}, headers=ml.headers("olga")).status_code == 404
    r = c.put(alias, json={"version": 1, "note": "try it"}, headers=ml.headers("olga"))
    assert r.status_code == 200 and (r.json()["from_version"], r.json()["to_version"]) == (None, 1)
    r = c.put(alias, json={"version": 2}, headers=ml.headers("olga"))
    assert (r.json()["from_version"], r.json()["to_version"]) == (1, 2)
    assert _last(ml, "model.alias")["artifacts"]["via_token"] == _token_id(ml, "olga")
    assert c.get(alias, headers=h).json()["version"] == 2
    hist = c.get(f"{V1}/models/motion/aliases", headers=h).json()
    assert [(e["actor"], e["from_version"], e["to_version"], e["note"]) for e in hist] == [
        ("olga", None, 1, "try it"), ("olga", 1, 2, None)]
    assert c.get(f"{V1}/models/motion/aliases/production", headers=h).status_code == 404
    refused = c.put(f"{V1}/models/motion/aliases/production", json={"version": 1}, headers=ml.headers("olga"))
    assert refused.status_code == 422 and "never been gated" in refused.json()["error"]["message"]

"""Dataset routes over HTTP: versions (snapshot, list, show, diff, restore), re-splitting, the clean layer and
quality reports, each with the CLI's permissions and audit entries."""

from __future__ import annotations

import pytest
from server_helpers import Api

from crisp_eml.data.samples import get_sample, list_samples
from crisp_eml.workspace.audit import log
from crisp_eml.workspace.check import check_dataset

URL = "/api/v1/datasets"




def test_anonymous_gets_401(api: Api) -> None:
    for method, url in (("GET", f"{URL}/versions"), ("POST", f"{URL}/versions"), ("GET", f"{URL}/versions/1"),
                        ("GET", f"{URL}/versions/1/diff/2"), ("POST", f"{URL}/versions/1/restore"),
                        ("POST", f"{URL}/rebalance"), ("POST", f"{URL}/clean"), ("POST", f"{URL}/quality"),
                        ("GET", f"{URL}/quality/latest")):
        assert api.client.request(method, url).status_code == 401, (method, url)


def test_snapshot_show_diff_restore(api: Api) -> None:
    n = api.ingest_motions()
    assert api.client.get(f"{URL}/versions", headers=api.headers()).json() == []
    r = api.client.post(f"{URL}/versions", json={"message": "first"}, headers=api.headers("dana"))
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["n_samples"] == n and v1["author"] == "dana" and v1["labels"]["walking"] == 20
    assert log(api.project, "dataset.snapshot")[-1]["artifacts"]["via_token"] == api.token_id("dana")

    s = get_sample(api.project, "training/walking.01")
    assert api.client.patch(f"/api/v1/samples/{s.id}", json={"label": "stroll"},
                            headers=api.headers("dana")).status_code == 200
    v2 = api.client.post(f"{URL}/versions", json={"message": "relabel", "layer": "raw"},
                         headers=api.headers("ed")).json()
    listed = api.client.get(f"{URL}/versions", headers=api.headers("uma")).json()
    assert [v["id"] for v in listed] == [v1["id"], v2["id"]]
    assert api.client.get(f"{URL}/versions", params={"layer": "clean"}, headers=api.headers()).json() == []

    shown = api.client.get(f"{URL}/versions/{v1['id']}", headers=api.headers("bob")).json()
    assert shown["digest"] == v1["digest"] and len(shown["items"]) == n
    assert {i["label"] for i in shown["items"] if i["sample_id"] == s.id} == {"walking"}

    d = api.client.get(f"{URL}/versions/{v1['id']}/diff/{v2['id']}", headers=api.headers("uma")).json()
    assert d["relabeled"] == [{"sample_id": s.id, "name": "walking.01", "from": "walking", "to": "stroll"}]
    assert d["added"] == d["removed"] == d["recategorized"] == []

    assert api.client.post(f"{URL}/versions/{v1['id']}/restore", headers=api.headers("bob")).status_code == 403
    assert get_sample(api.project, s.id).label == "stroll"
    r = api.client.post(f"{URL}/versions/{v1['id']}/restore", headers=api.headers("dana"))
    assert r.status_code == 200 and r.json()["relabeled"] == 1
    assert get_sample(api.project, s.id).label == "walking"
    assert log(api.project, "dataset.restore")[-1]["actor"] == "dana"


def test_versions_errors(api: Api) -> None:
    h = api.headers("dana")
    empty = api.client.post(f"{URL}/versions", json={"message": "nothing"}, headers=h)
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "layer"
    api.ingest_motions()
    for member in ("bob", "uma", "pat"):
        assert api.client.post(f"{URL}/versions", json={"message": "m"}, headers=api.headers(member)).status_code == 403
    for body in ({}, {"message": ""}, {"message": "m", "layer": "cooked"}, {"message": "m", "extra": 1}):
        assert api.client.post(f"{URL}/versions", json=body, headers=h).status_code == 422, body
    assert api.client.get(f"{URL}/versions", params={"layer": "cooked"}, headers=h).status_code == 422
    missing = api.client.get(f"{URL}/versions/7", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.client.get(f"{URL}/versions/1/diff/2", headers=h).status_code == 404
    assert api.client.post(f"{URL}/versions/3/restore", headers=h).status_code == 404
    for bad in ("0", "-1", "x", str(2**70)):
        assert api.client.get(f"{URL}/versions/{bad}", headers=h).status_code == 422, bad
    assert api.client.get(f"{URL}/versions", headers=h).json() == []


def test_quality_report_and_latest(api: Api) -> None:
    n = api.ingest_motions()
    h = api.headers("uma")
    r = api.client.get(f"{URL}/quality/latest", headers=h)
    assert r.status_code == 404
    r = api.client.post(f"{URL}/quality", json={}, headers=h)
    assert r.status_code == 200, r.text
    report = r.json()
    want = check_dataset(api.project, audit=False).to_dict()
    assert report == want and report["n_samples"] == n and len(report["samples"]) == n
    latest = api.client.get(f"{URL}/quality/latest", headers=api.headers("bob")).json()
    assert latest["score"] == report["score"] and latest["tier"] == report["tier"]
    assert latest["actor"] == "uma" and latest["current"] is True and latest["samples"] == n
    assert log(api.project, "dataset.check")[-1]["artifacts"]["via_token"] == api.token_id("uma")
    assert api.client.delete("/api/v1/samples/training/walking.02", headers=api.headers("dana")).status_code == 200
    assert api.client.get(f"{URL}/quality/latest", headers=h).json()["current"] is False
    assert api.client.get(f"{URL}/quality/latest", params={"layer": "clean"}, headers=h).status_code == 404
    for body in ({"layer": "cooked"}, {"window_ms": -5}, {"window_ms": "NaN"}):
        assert api.client.post(f"{URL}/quality", json=body, headers=h).status_code == 422, body


def test_rebalance_moves_samples_with_label_data(api: Api) -> None:
    n = api.ingest_motions()
    body = {"test_fraction": 0.5, "stratify": True}
    assert api.client.post(f"{URL}/rebalance", json=body, headers=api.headers("bob")).status_code == 403
    r = api.client.post(f"{URL}/rebalance", json=body, headers=api.headers("ed"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["counts"]["testing"] + out["counts"]["training"] == n
    assert out["counts"] == {c: len(list_samples(api.project, category=c)) for c in ("testing", "training")}
    assert log(api.project, "dataset.rebalance")[-1]["artifacts"]["via_token"] == api.token_id("ed")
    for bad in ({"test_fraction": 1.5}, {"test_fraction": 0}, {"keep_together": ""}, {"layer": "x"}):
        assert api.client.post(f"{URL}/rebalance", json=bad, headers=api.headers("ed")).status_code == 422, bad
    missing = api.client.post(f"{URL}/rebalance", json={"keep_together": "subject"}, headers=api.headers("ed"))
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "keep-together"


def test_clean_layer_is_listed_and_needs_ingest_data(api: Api) -> None:
    n = api.ingest_motions()
    assert api.client.post(f"{URL}/clean", json={}, headers=api.headers("erin")).status_code == 403
    r = api.client.post(f"{URL}/clean", json={"repair": True}, headers=api.headers("dana"))
    assert r.status_code == 200, r.text
    kept = r.json()["kept"]
    assert 0 < kept <= n
    assert log(api.project, "dataset.clean")[-1]["artifacts"]["via_token"] == api.token_id("dana")
    listed = api.client.get("/api/v1/samples", params={"layer": "clean", "limit": 1000}, headers=api.headers()).json()
    assert listed["total"] == kept and {i["layer"] for i in listed["items"]} == {"clean"}
    for rate in (1e-9, 999_999.7):  # nothing left / a filter too big to build: dropped with the reason, no 5xx
        r = api.client.post(f"{URL}/clean", json={"resample_hz": rate}, headers=api.headers("dana"))
        assert r.status_code == 200 and r.json()["kept"] == 0, r.text
        assert "cannot resample" in r.json()["dropped_samples"][0]["reason"]
    for bad in ({"drop_below": 101}, {"resample_hz": 0}, {"repair": "maybe"}):
        assert api.client.post(f"{URL}/clean", json=bad, headers=api.headers("dana")).status_code == 422, bad


@pytest.mark.parametrize("member", ["uma", "bob"])
def test_reads_are_open_to_every_member(api: Api, member: str) -> None:
    api.ingest_motions()
    api.client.post(f"{URL}/versions", json={"message": "v"}, headers=api.headers("dana"))
    h = api.headers(member)
    assert api.client.get(f"{URL}/versions", headers=h).status_code == 200
    assert api.client.get(f"{URL}/versions/1", headers=h).status_code == 200
    assert api.client.get(f"{URL}/versions/1/diff/1", headers=h).json()["added"] == []

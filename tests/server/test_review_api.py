"""The field-data review queue over HTTP: a device uploads flagged windows, members list, label, dismiss and
commit them into a new dataset version; resends are idempotent; other devices' keys and member tokens are
refused on the device route; bad payloads are 4xx naming the field and store nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from server_helpers import Api
from sqlalchemy import func, select

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message
from crisp_eml.data.samples import encode_array
from crisp_eml.store.blobs import sha256
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.store.tables.devices import ReviewItemRow
from crisp_eml.workspace.audit import log

URL = "/api/v1"
AXES = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))


def add_device(project: Project, name: str) -> str:
    """A registered device (``eml devices add NAME``); its key."""
    from crisp_eml.workspace.devices import register_device

    return str(register_device(project, name)["key"])


def window(seed: int, rows: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (rows, 3)).astype(np.float32)


def upload(upload_id: str, seed: int, **extra: Any) -> dict[str, Any]:
    msg = build_message(window(seed), AXES, 50.0, device_name="board-1")
    return {"upload_id": upload_id, "reason": "low-confidence", "model": "models:/gestures/3",
            "predicted": "idle", "confidence": 0.41, "scores": {"idle": 0.41, "wave": 0.39, "tap": 0.2},
            "sample": msg, **extra}


def dev(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def counts(project: Project) -> tuple[int, int, int]:
    with project.read_session() as s:
        items = s.execute(select(func.count()).select_from(ReviewItemRow)).scalar_one()
        samples = s.execute(select(func.count()).select_from(SampleRow)).scalar_one()
    return int(items), int(samples), len(list(project.blobs))


@pytest.fixture
def key(api: Api) -> str:
    return add_device(api.project, "board-1")


def test_device_submits_member_labels_and_commits_a_version(api: Api, key: str) -> None:
    r = api.client.post(f"{URL}/device/review", json=upload("w-1", 1), headers=dev(key))
    assert r.status_code == 200, r.text
    item = r.json()
    assert item["device"] == "board-1" and item["status"] == "pending" and item["upload_id"] == "w-1"
    assert (item["kind"], item["length"], item["frequency_hz"]) == ("timeseries", 50, 50.0)
    assert item["predicted"] == "idle" and item["confidence"] == pytest.approx(0.41)
    assert [s["name"] for s in item["sensors"]] == ["accX", "accY", "accZ"]
    second = api.client.post(f"{URL}/device/review", json=upload("w-2", 2, reason="anomaly", anomaly_score=3.5),
                             headers=dev(key)).json()
    assert log(api.project, "review.submit")[-1]["artifacts"]["via_token"] == key.split("_")[2]

    listed = api.client.get(f"{URL}/review", headers=api.headers("ed")).json()
    assert [i["id"] for i in listed["items"]] == [item["id"], second["id"]] and listed["total"] == 2
    page = api.client.get(f"{URL}/review", params={"limit": 1}, headers=api.headers("ed")).json()
    assert [i["id"] for i in page["items"]] == [item["id"]] and page["next_page_token"]
    rest = api.client.get(f"{URL}/review", params={"limit": 1, "page_token": page["next_page_token"]},
                          headers=api.headers("ed")).json()
    assert [i["id"] for i in rest["items"]] == [second["id"]] and rest["next_page_token"] is None
    data = api.client.get(f"{URL}/review/{item['id']}/data", headers=api.headers("uma")).json()
    assert np.array_equal(np.asarray(data["values"], dtype=np.float32), window(1)) and data["shape"] == [50, 3]
    assert api.client.get(f"{URL}/review/{item['id']}", headers=api.headers()).json()["metadata"][
        "device_name"] == "board-1"

    # an end user may read but not label; a domain expert labels
    r = api.client.post(f"{URL}/review/label", json={"ids": [item["id"]], "label": "wave"}, headers=api.headers("uma"))
    assert r.status_code == 403
    r = api.client.post(f"{URL}/review/label", json={"ids": [item["id"]], "label": "wave", "category": "training"},
                        headers=api.headers("ed"))
    assert r.status_code == 200, r.text
    labelled = r.json()
    sid = labelled["samples"][0]
    s = api.client.get(f"{URL}/samples/{sid}", headers=api.headers()).json()
    assert (s["label"], s["category"], s["source"]) == ("wave", "training", "field:board-1/w-1")
    assert s["metadata"]["reason"] == "low-confidence" and s["metadata"]["predicted"] == "idle"
    assert s["metadata"]["review_item"] == item["id"] and s["metadata"]["model"] == "models:/gestures/3"
    assert s["hash"] == sha256(encode_array(window(1)))  # the window's canonical blob, as ingest stores it
    assert labelled["items"][0]["status"] == "labelled" and labelled["items"][0]["reviewed_by"] == "ed"
    assert api.client.post(f"{URL}/review/dismiss", json={"ids": [second["id"]]},
                           headers=api.headers("ed")).json()["dismissed"] == 1
    assert api.client.get(f"{URL}/review", headers=api.headers()).json()["items"] == []

    r = api.client.post(f"{URL}/review/commit", json={"message": "field data, week 1"}, headers=api.headers("ed"))
    assert r.status_code == 201, r.text
    commit = r.json()
    assert commit["items"] == [item["id"]] and commit["samples"] == [sid]
    version = api.client.get(f"{URL}/datasets/versions/{commit['version']['id']}", headers=api.headers()).json()
    assert version["message"] == "field data, week 1"
    assert [(i["sample_id"], i["label"]) for i in version["items"]] == [(sid, "wave")]
    shown = api.client.get(f"{URL}/review/{item['id']}", headers=api.headers()).json()
    assert shown["version_id"] == commit["version"]["id"] and shown["sample_id"] == sid
    assert log(api.project, "review.commit")[-1]["actor"] == "ed"
    # nothing left to commit: a clear 400
    r = api.client.post(f"{URL}/review/commit", json={"message": "again"}, headers=api.headers("ed"))
    assert r.status_code == 400 and "nothing to commit" in r.json()["error"]["message"]


def test_resend_is_idempotent_and_devices_are_kept_apart(api: Api, key: str) -> None:
    first = api.client.post(f"{URL}/device/review", json=upload("w-1", 1), headers=dev(key)).json()
    before = counts(api.project)
    again = api.client.post(f"{URL}/device/review", json=upload("w-1", 1), headers=dev(key))
    assert again.status_code == 200 and again.json() == first
    assert counts(api.project) == before
    assert len(log(api.project, "review.submit")) == 1
    # another device may use the same upload id: its own item
    other = add_device(api.project, "board-2")
    theirs = api.client.post(f"{URL}/device/review", json=upload("w-1", 7), headers=dev(other)).json()
    assert theirs["id"] != first["id"] and theirs["device"] == "board-2"


def test_device_route_refuses_member_tokens_and_bad_keys(api: Api, key: str) -> None:
    for headers in (api.headers(), {"x-api-key": api.ingest_key}, dev(key[:-3] + "abc"), {}):
        r = api.client.post(f"{URL}/device/review", json=upload("w-1", 1), headers=headers)
        assert r.status_code == 401, (headers, r.text)
    # a device key opens no member route
    for method, url in (("GET", "/review"), ("POST", "/review/commit"), ("GET", "/samples")):
        assert api.client.request(method, f"{URL}{url}", headers=dev(key), json={"message": "x"}).status_code == 401
    from crisp_eml.workspace.devices import revoke_device

    revoke_device(api.project, "board-1")  # a revoked device is refused
    assert api.client.post(f"{URL}/device/review", json=upload("w-9", 9), headers=dev(key)).status_code == 401
    assert counts(api.project)[0] == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"sample": {"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64}}, "sample.payload"),
    ({"sample": "not an object"}, "sample"),
    ({"sample": {**build_message(window(1), AXES, 50.0), "payload": {
        **build_message(window(1), AXES, 50.0)["payload"], "values": [[1, 2]]}}}, "sample.payload.values"),
    ({"sample": {**build_message(window(1), AXES, 50.0), "payload": {
        **build_message(window(1), AXES, 50.0)["payload"], "interval_ms": -5}}}, "sample.payload.interval_ms"),
    ({"reason": "bored"}, "reason"),
    ({"confidence": 1.5}, "confidence"),
    ({"upload_id": ""}, "upload_id"),
    ({"upload_id": "x" * 65}, "upload_id"),
    ({"scores": {"idle": "high"}}, "scores.idle"),
    ({"metadata": {"k": [1, 2]}}, "metadata.k"),
])
def test_bad_payload_is_refused_naming_the_field_and_stores_nothing(
        api: Api, key: str, change: dict[str, Any], field: str) -> None:
    before = counts(api.project)
    r = api.client.post(f"{URL}/device/review", json={**upload("w-1", 1), **change}, headers=dev(key))
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["field"] == field, r.json()
    assert counts(api.project) == before
    assert log(api.project, "review.submit") == []


def test_label_refuses_a_duplicate_of_an_existing_sample(api: Api, key: str) -> None:
    a = api.client.post(f"{URL}/device/review", json=upload("w-1", 1), headers=dev(key)).json()
    b = api.client.post(f"{URL}/device/review", json=upload("w-2", 1), headers=dev(key)).json()  # same window
    assert api.client.post(f"{URL}/review/label", json={"ids": [a["id"]], "label": "wave"},
                           headers=api.headers()).status_code == 200
    before = counts(api.project)
    r = api.client.post(f"{URL}/review/label", json={"ids": [b["id"]], "label": "idle"}, headers=api.headers())
    assert r.status_code == 409
    assert "already sample" in r.json()["error"]["message"] and b["id"] in r.json()["error"]["message"]
    assert counts(api.project) == before
    assert api.client.get(f"{URL}/review/{b['id']}", headers=api.headers()).json()["status"] == "pending"
    # labelling an item twice, or dismissing a labelled one, is refused too
    for url, body in (("/review/label", {"ids": [a["id"]], "label": "x"}), ("/review/dismiss", {"ids": [a["id"]]})):
        assert api.client.post(f"{URL}{url}", json=body, headers=api.headers()).status_code == 409
    # unknown ids: 404, nothing changed
    r = api.client.post(f"{URL}/review/label", json={"ids": [b["id"], "nope"], "label": "x"}, headers=api.headers())
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    assert counts(api.project) == before

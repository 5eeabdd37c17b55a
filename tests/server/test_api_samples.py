"""Sample routes over HTTP: paging and filters agree with the CLI's listing, one sample's metadata and values,
labelling, moving and deleting with the persona matrix enforced and audited with the token."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from server_helpers import Api

from crisp_eml.data.samples import get_sample, list_samples, load_array
from crisp_eml.workspace.audit import log
from crisp_eml.workspace.ingest import ingest_paths

URL = "/api/v1/samples"




def test_anonymous_gets_401(api: Api) -> None:
    for method, url in (("GET", URL), ("GET", f"{URL}/x"), ("GET", f"{URL}/x/data"), ("PATCH", f"{URL}/x"),
                        ("DELETE", f"{URL}/x"), ("POST", f"{URL}/label")):
        r = api.client.request(method, url)
        assert r.status_code == 401, (method, url)
        assert r.json()["error"]["code"] == "unauthorized"


def test_pages_cover_the_listing_in_the_cli_order(api: Api) -> None:
    n = api.ingest_motions()
    expected = [s.id for s in list_samples(api.project)]
    got: list[str] = []
    for offset in range(0, n, 30):
        body = api.client.get(URL, params={"limit": 30, "offset": offset}, headers=api.headers("uma")).json()
        assert body["total"] == n and body["limit"] == 30 and body["offset"] == offset
        got += [i["id"] for i in body["items"]]
    assert got == expected
    past = api.client.get(URL, params={"offset": n + 5}, headers=api.headers()).json()
    assert past["items"] == [] and past["total"] == n
    default = api.client.get(URL, headers=api.headers()).json()
    assert default["limit"] == 100 and len(default["items"]) == n


def test_filters_match_the_cli_listing(api: Api) -> None:
    api.ingest_motions()
    h = api.headers("bob")
    for params, cli in (({"label": "walking"}, {"label": "walking"}),
                        ({"category": "testing"}, {"category": "testing"}),
                        ({"label": "running", "category": "training"}, {"label": "running", "category": "training"})):
        body = api.client.get(URL, params={**params, "limit": 7}, headers=h).json()
        want = [s.id for s in list_samples(api.project, **cli)]  # type: ignore[arg-type]
        assert body["total"] == len(want) and [i["id"] for i in body["items"]] == want[:7]
        assert all(i["label"] == params.get("label", i["label"]) for i in body["items"])
    assert api.client.get(URL, params={"kind": "image"}, headers=h).json()["total"] == 0
    assert api.client.get(URL, params={"kind": "timeseries"}, headers=h).json()["total"] == 80
    assert api.client.get(URL, params={"label": "nope"}, headers=h).json()["total"] == 0
    assert api.client.get(URL, params={"layer": "clean"}, headers=h).json()["total"] == 0
    found = api.client.get(URL, params={"search": "MINTON.0"}, headers=h).json()  # substring, any case
    assert found["total"] == 18 and {i["label"] for i in found["items"]} == {"badminton"}
    assert api.client.get(URL, params={"search": "%"}, headers=h).json()["total"] == 0  # LIKE wildcard is literal


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": -1}, {"limit": 1001}, {"offset": -1},
                                    {"limit": "ten"}, {"category": "validation"}, {"layer": "cooked"},
                                    {"kind": "video"}, {"label": "a\x00b"}])
def test_bad_query_values_get_422(api: Api, params: dict[str, object]) -> None:
    r = api.client.get(URL, params=params, headers=api.headers())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == next(iter(params))


def test_one_sample_by_id_name_or_category_name(api: Api) -> None:
    api.ingest_motions()
    h = api.headers("uma")
    s = get_sample(api.project, "testing/walking.03")
    assert api.client.get(f"{URL}/{s.id}", headers=h).json()["name"] == "walking.03"
    by_path = api.client.get(f"{URL}/testing/walking.03", headers=h).json()
    encoded = api.client.get(f"{URL}/testing%2Fwalking.03", headers=h).json()
    assert by_path["id"] == encoded["id"] == s.id and by_path["category"] == "testing"
    assert by_path["source_hash"] == s.source_hash and by_path["shape"] == [100, 6]
    ambiguous = api.client.get(f"{URL}/walking.03", headers=h)  # in training and testing
    assert ambiguous.status_code == 400 and "testing/walking.03" in ambiguous.json()["error"]["message"]
    for missing in ("nope", "testing/nope", "nope/data"):
        r = api.client.get(f"{URL}/{missing}", headers=h)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", missing


def test_values_as_json_and_as_csv(api: Api) -> None:
    api.ingest_motions()
    s = get_sample(api.project, "training/running.02")
    arr = load_array(api.project, s)
    body = api.client.get(f"{URL}/{s.id}/data", headers=api.headers("uma")).json()
    assert [x["name"] for x in body["sensors"]] == ["accX", "accY", "accZ", "gyrX", "gyrY", "gyrZ"]
    assert body["frequency_hz"] == 10.0 and body["shape"] == [100, 6]
    assert np.array_equal(np.asarray(body["values"], dtype=np.float32), arr)
    r = api.client.get(f"{URL}/training/running.02/data", params={"format": "csv"}, headers=api.headers())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["timestamp", "accX", "accY", "accZ", "gyrX", "gyrY", "gyrZ"]
    assert [float(t) for t in (rows[1][0], rows[2][0])] == [0.0, 100.0]
    assert np.array_equal(np.asarray(rows[1:], dtype=np.float64)[:, 1:].astype(np.float32), arr)
    png = api.client.get(f"{URL}/{s.id}/data", params={"format": "png"}, headers=api.headers())
    assert png.status_code == 400 and png.json()["error"]["field"] == "format"
    assert api.client.get(f"{URL}/{s.id}/data", params={"format": "xls"}, headers=api.headers()).status_code == 422
    assert api.client.get(f"{URL}/nope/data", headers=api.headers()).status_code == 404


def test_missing_values_come_back_as_null(api: Api, tmp_path: Path) -> None:
    f = tmp_path / "gap.csv"
    f.write_text("timestamp,x,y\n0,1.5,2\n10,nan,3\n20,4,nan\n30,5,6\n")
    report = ingest_paths(api.project, [f], label="gap", category="training")
    assert not report.failures
    r = api.client.get(f"{URL}/{report.samples[0].id}/data", headers=api.headers())
    assert r.status_code == 200, r.text
    assert r.json()["values"] == [[1.5, 2.0], [None, 3.0], [4.0, None], [5.0, 6.0]]


def test_label_change_is_audited_with_the_token(api: Api) -> None:
    api.ingest_motions()
    s = get_sample(api.project, "testing/standing.05")
    r = api.client.patch(f"{URL}/testing/standing.05", json={"label": "idle"}, headers=api.headers("dana"))
    assert r.status_code == 200, r.text
    assert r.json()["changes"][0]["label"] == {"old": "standing", "new": "idle"}
    assert r.json()["sample"]["label"] == "idle"
    assert get_sample(api.project, s.id).label == "idle"
    entry = log(api.project, "sample.label")[-1]
    assert entry["actor"] == "dana" and entry["artifacts"]["via_token"] == api.token_id("dana")
    assert entry["artifacts"]["samples"][0]["sample"] == s.id
    again = api.client.patch(f"{URL}/{s.id}", json={"label": "idle"}, headers=api.headers("dana")).json()
    assert again["changed"] == 0 and again["unchanged"] == [s.id] and again["sample"]["id"] == s.id


def test_move_category_and_bulk_label(api: Api) -> None:
    api.ingest_motions()
    s = get_sample(api.project, "testing/running.01")
    r = api.client.patch(f"{URL}/{s.id}", json={"category": "training"}, headers=api.headers("ed"))
    assert r.status_code == 200 and r.json()["sample"]["category"] == "training"
    assert get_sample(api.project, s.id).category == "training"
    ids = [get_sample(api.project, f"training/walking.0{i}").id for i in (1, 2, 3)]
    r = api.client.post(f"{URL}/label", json={"samples": ids, "label": "stroll", "category": "testing"},
                        headers=api.headers("rita"))
    assert r.status_code == 200 and r.json()["changed"] == 3
    assert {(x.label, x.category) for x in (get_sample(api.project, i) for i in ids)} == {("stroll", "testing")}
    bad = api.client.post(f"{URL}/label", json={"samples": [ids[0], "nope"], "label": "z"}, headers=api.headers())
    assert bad.status_code == 404 and get_sample(api.project, ids[0]).label == "stroll"  # all or nothing


@pytest.mark.parametrize("body", [{}, {"label": "   "}])
def test_nothing_to_change_is_400(api: Api, body: dict[str, str]) -> None:
    api.ingest_motions()
    r = api.client.patch(f"{URL}/training/running.01", json=body, headers=api.headers("dana"))
    assert r.status_code == 400 and r.json()["error"]["field"] == "label"


@pytest.mark.parametrize("body", [{"category": "validation"}, {"label": ""}, {"label": "x" * 300},
                                  {"label": "a\nb"}, {"label": "ok", "colour": "red"}, {"label": 3}])
def test_bad_label_bodies_get_422(api: Api, body: dict[str, object]) -> None:
    api.ingest_motions()
    r = api.client.patch(f"{URL}/training/running.01", json=body, headers=api.headers("dana"))
    assert r.status_code == 422, r.text
    assert get_sample(api.project, "training/running.01").label == "running"


@pytest.mark.parametrize("member", ["bob", "uma", "erin", "olga"])
def test_members_without_label_data_get_403(api: Api, member: str) -> None:
    api.ingest_motions()
    for r in (api.client.patch(f"{URL}/training/running.01", json={"label": "x"}, headers=api.headers(member)),
              api.client.post(f"{URL}/label", json={"samples": ["training/running.01"], "category": "testing"},
                              headers=api.headers(member))):
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    s = get_sample(api.project, "training/running.01")
    assert (s.label, s.category) == ("running", "training")
    assert log(api.project, "sample.label") == []


def test_delete_needs_ingest_data_and_is_audited(api: Api) -> None:
    n = api.ingest_motions()
    s = get_sample(api.project, "testing/badminton.07")
    for member in ("bob", "uma", "pat"):
        r = api.client.delete(f"{URL}/{s.id}", headers=api.headers(member))
        assert r.status_code == 403, member
    assert len(list_samples(api.project)) == n
    r = api.client.delete(f"{URL}/testing/badminton.07", headers=api.headers("ed"))
    assert r.status_code == 200 and r.json() == {"removed": s.id, "name": s.name, "hash": s.hash}
    assert api.client.get(f"{URL}/{s.id}", headers=api.headers()).status_code == 404
    assert api.client.delete(f"{URL}/{s.id}", headers=api.headers("ed")).status_code == 404
    assert api.client.get(URL, headers=api.headers()).json()["total"] == n - 1
    entry = log(api.project, "sample.remove")[-1]
    assert entry["actor"] == "ed" and entry["artifacts"]["via_token"] == api.token_id("ed")


def test_listing_sees_every_change_whoever_makes_it(api: Api) -> None:
    """Pages are cached per process while the audit head is unchanged: a relabel over HTTP, and one made by
    another process's project (as the CLI would), both show on the next listing."""
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.label import label_samples

    api.ingest_motions()
    first = api.client.get(URL, params={"limit": 5}, headers=api.headers()).json()["items"][0]
    again = api.client.get(URL, params={"limit": 5}, headers=api.headers()).json()["items"][0]
    assert again == first
    r = api.client.patch(f"{URL}/{first['id']}", json={"label": "over-http"}, headers=api.headers("dana"))
    assert r.status_code == 200, r.text
    assert api.client.get(URL, params={"limit": 5}, headers=api.headers()).json()["items"][0]["label"] == "over-http"
    other = Project.open(api.root).acting_as("alice")  # its own engine, as another process would have
    label_samples(other, [first["id"]], "from-elsewhere")
    other.engine.dispose()
    items = api.client.get(URL, params={"limit": 5}, headers=api.headers()).json()["items"]
    assert items[0]["label"] == "from-elsewhere"

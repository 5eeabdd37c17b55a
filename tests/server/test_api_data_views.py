"""The data set views of the Studio's Data acquisition page over HTTP: per-label train/test counts that agree
with the sample listing, after a relabel and a move too, for any member; bad input refused."""

from __future__ import annotations

from collections import Counter

from server_helpers import Api

from crisp_eml.data.samples import list_samples

URL = "/api/v1/data/summary"


def test_summary_counts_each_label_per_category(api: Api) -> None:
    empty = api.client.get(URL, headers=api.headers("uma")).json()
    assert empty == {"layer": "raw", "total": 0, "categories": {"training": 0, "testing": 0}, "kinds": {},
                     "labels": []}
    n = api.ingest_motions()
    some = [s.id for s in list_samples(api.project, label="walking", category="training")][:2]
    moved = api.client.post("/api/v1/samples/label", json={"samples": some, "category": "testing"},
                            headers=api.headers("dana"))
    assert moved.status_code == 200, moved.text
    relabeled = api.client.patch(f"/api/v1/samples/{some[0]}", json={"label": "jogging"}, headers=api.headers("dana"))
    assert relabeled.status_code == 200, relabeled.text
    body = api.client.get(URL, headers=api.headers("bob")).json()
    want = Counter((s.label or "", s.category) for s in list_samples(api.project))
    got = {(row["label"], c): row[c] for row in body["labels"] for c in ("training", "testing") if row[c]}
    assert got == dict(want)
    assert [row["label"] for row in body["labels"]] == sorted({label for label, _ in want})
    assert body["total"] == n and body["kinds"] == {"timeseries": n}
    per_category = {c: sum(v for (_, cat), v in want.items() if cat == c) for c in ("training", "testing")}
    assert body["categories"] == per_category
    assert {"label": "jogging", "training": 0, "testing": 1} in body["labels"]
    assert api.client.get(URL, params={"layer": "clean"}, headers=api.headers()).json()["total"] == 0


def test_summary_refuses_bad_input_and_strangers(api: Api) -> None:
    assert api.client.get(URL).status_code == 401
    assert api.client.get(URL, params={"layer": "nope"}, headers=api.headers()).status_code == 422

"""The Edge Impulse compatible ingestion routes and the members' upload route, over plain HTTP.

Every header, each category, the raw-body route per content type, HMAC-signed files, and the bad input the
issue lists (malformed multipart, wrong content types, oversized files, path tricks, wrong keys, members
without the permission): each gets a clean 4xx in the right shape and leaves no row, blob or audit entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from server_helpers import Api, api_for
from sqlalchemy import func, select

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.data.formats.image import write_png
from crisp_eml.data.formats.wav import write_wav
from crisp_eml.data.samples import list_samples
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.credentials import hmac_key

S3 = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))


def signal(seed: int, n: int = 50) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


def csv(seed: int) -> bytes:
    return write_csv(signal(seed), S3, 50.0)


def ei_json(seed: int, key: str | None = None, cbor: bool = False) -> bytes:
    return encode(build_message(signal(seed), S3, 50.0, device_name="dev-1"), cbor=cbor, hmac_key=key)


def key(api: Api, **extra: str) -> dict[str, str]:
    return {"x-api-key": api.ingest_key, **extra}


def state(api: Api) -> tuple[int, int, int]:
    """(sample rows, blobs, audit entries): what a refused request must leave unchanged."""
    with api.project.read_session() as s:
        rows = s.execute(select(func.count()).select_from(SampleRow)).scalar_one()
        audit = s.execute(select(func.count()).select_from(AuditRow)).scalar_one()
    return rows, sum(1 for f in api.project.blobs.files() if f.digest), audit


def samples(api: Api) -> dict[str, Any]:
    return {s.name: s for s in list_samples(api.project)}


def files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("data", (name, data, "application/octet-stream")) for name, data in items]


def test_files_route_ingests_with_labels_from_names_and_ei_shape(api: Api) -> None:
    r = api.client.post("/api/training/files", headers=key(api),
                        files=files(("idle.01.csv", csv(1)), ("wave.x.json", ei_json(2)), ("bad.txt", b"hello")))
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    ok, ok2, bad = body["files"]
    assert ok["success"] and ok["fileName"] == "idle.01.csv" and isinstance(ok["sampleId"], str)
    assert ok2["success"] and ok2["fileName"] == "wave.x.json"
    assert bad == {"success": False, "fileName": "bad.txt", "error": bad["error"]} and ".txt" in bad["error"]
    got = samples(api)
    assert (got["idle.01"].label, got["idle.01"].category) == ("idle", "training")
    assert got["wave.x"].label == "wave" and got["wave.x"].device_name == "dev-1"
    assert got["idle.01"].source == "upload:idle.01.csv" and got["idle.01"].id == ok["sampleId"]
    audit = [e for e in api.project.audit_entries() if e.action == "sample.ingest"]
    assert len(audit) == 2 and all(e.artifacts.get("via_token") for e in audit)


@pytest.mark.parametrize(("category", "stored"), [("training", "training"), ("testing", "testing"),
                                                  ("anomaly", "testing")])
def test_each_category(api: Api, category: str, stored: str) -> None:
    r = api.client.post(f"/api/{category}/files", headers=key(api), files=files(("a.1.csv", csv(3))))
    assert r.status_code == 200 and r.json()["files"][0]["success"]
    s = samples(api)["a.1"]
    assert s.category == stored
    assert (s.metadata.get("ei_category") == "anomaly") == (category == "anomaly")


def test_split_assigns_by_content(api: Api) -> None:
    r = api.client.post("/api/split/files", headers=key(api), files=files(*[(f"s.{i}.csv", csv(i)) for i in range(30)]))
    assert r.status_code == 200 and all(f["success"] for f in r.json()["files"])
    assert {s.category for s in samples(api).values()} == {"training", "testing"}


def test_headers_label_no_label_metadata_source_date_id(api: Api) -> None:
    h = key(api, **{"x-label": "walking", "x-metadata": json.dumps({"subject": "p1", "n": 3}),
                    "x-upload-source": "EDGE_IMPULSE_PYTHON_SDK", "x-add-date-id": "1"})
    r = api.client.post("/api/training/files", headers=h, files=files(("idle.csv", csv(4))))
    assert r.status_code == 200, r.text
    name = r.json()["files"][0]["fileName"]
    assert name.startswith("idle.") and name.endswith(".csv") and name != "idle.csv"
    (s,) = samples(api).values()
    assert s.label == "walking" and s.name == name[:-4]
    assert s.metadata == {"subject": "p1", "n": 3, "upload_source": "EDGE_IMPULSE_PYTHON_SDK"}
    r = api.client.post("/api/training/files", headers=key(api, **{"x-no-label": "1"}),
                        files=files(("idle.2.csv", csv(5))))
    assert r.status_code == 200 and samples(api)["idle.2"].label is None


def test_duplicates_kept_unless_disallowed(api: Api) -> None:
    data = csv(6)
    for name in ("d.1.csv", "d.2.csv"):
        assert api.client.post("/api/training/files", headers=key(api), files=files((name, data))).json()["files"][0][
            "success"]
    before = state(api)
    r = api.client.post("/api/training/files", headers=key(api, **{"x-disallow-duplicates": "1"}),
                        files=files(("d.3.csv", data), ("fresh.csv", csv(7))))
    dup, fresh = r.json()["files"]
    assert r.status_code == 200 and not dup["success"] and "duplicate" in dup["error"] and fresh["success"]
    assert state(api)[0] == before[0] + 1
    assert len(samples(api)) == 3


def test_raw_body_route_by_content_type(api: Api) -> None:
    wav = write_wav((np.sin(np.arange(800) / 5.0) * 0.5).astype(np.float32).reshape(-1, 1), 8000)
    png = write_png(np.zeros((8, 8, 3), dtype=np.uint8))
    cases = [("application/json", ei_json(8), "j.1.json"), ("application/cbor", ei_json(9, cbor=True), "c.1.cbor"),
             ("text/csv", csv(10), "v.1"), ("audio/wav", wav, "yes.1.wav"), ("image/png", png, "img.1.png")]
    for ctype, body, name in cases:
        r = api.client.post("/api/testing/data", content=body,
                            headers=key(api, **{"content-type": ctype, "x-file-name": name}))
        assert r.status_code == 200, (ctype, r.text)
        assert r.json()["files"][0]["success"]
    got = {s.label: s for s in samples(api).values()}
    assert {k: got[k].kind for k in ("j", "c", "v", "yes", "img")} == {
        "j": "timeseries", "c": "timeseries", "v": "timeseries", "yes": "audio", "img": "image"}
    assert all(s.category == "testing" for s in got.values())
    # no x-file-name: a generated, date-id'd name and no label unless x-label
    r = api.client.post("/api/training/data", content=ei_json(11),
                        headers=key(api, **{"content-type": "application/json"}))
    assert r.status_code == 200
    new = [s for s in samples(api).values() if s.category == "training"]
    assert len(new) == 1 and new[0].label is None and new[0].name.startswith("sample.")


def test_raw_body_failure_is_the_request_failure(api: Api) -> None:
    before = state(api)
    r = api.client.post("/api/training/data", content=b'{"not": "acquisition"}',
                        headers=key(api, **{"content-type": "application/json", "x-file-name": "x.json"}))
    assert r.status_code == 400 and r.json()["success"] is False and "protected" in r.json()["error"]
    for ctype in ("text/plain", "application/xml", ""):
        r = api.client.post("/api/training/data", content=csv(12), headers=key(api, **{"content-type": ctype}))
        assert r.status_code == 415 and r.json()["success"] is False
    r = api.client.post("/api/training/data", content=b"", headers=key(api, **{"content-type": "text/csv"}))
    assert r.status_code == 400
    r = api.client.post("/api/split/data", content=csv(12), headers=key(api, **{"content-type": "text/csv"}))
    assert r.status_code == 404
    body = csv(13)
    h = key(api, **{"content-type": "text/csv", "x-file-name": "a.csv", "x-disallow-duplicates": "1"})
    assert api.client.post("/api/training/data", content=body, headers=h).status_code == 200
    mid = state(api)
    assert mid[0] == before[0] + 1
    r = api.client.post("/api/training/data", content=body, headers=h)
    assert r.status_code == 409 and "duplicate" in r.json()["error"]
    assert state(api) == mid


def test_hmac_signed_files_checked_with_the_project_key(api: Api) -> None:
    secret = hmac_key(api.project)
    assert secret
    good, forged, unsigned = ei_json(14, key=secret), ei_json(15, key="not-the-key"), ei_json(16)
    before = state(api)
    r = api.client.post("/api/training/files", headers=key(api),
                        files=files(("g.1.json", good), ("f.1.json", forged), ("u.1.json", unsigned)))
    g, f, u = r.json()["files"]
    assert g["success"] and u["success"]
    assert not f["success"] and "HMAC signature does not match" in f["error"]
    assert state(api)[0] == before[0] + 2
    assert samples(api)["g.1"].metadata["signature"] == "verified"
    r = api.client.post("/api/training/data", content=forged,
                        headers=key(api, **{"content-type": "application/json", "x-file-name": "f.2.json"}))
    assert r.status_code == 400 and "HMAC" in r.json()["error"]


def test_bad_headers_are_400_and_write_nothing(api: Api) -> None:
    before = state(api)
    bad = [{"x-metadata": "{not json"}, {"x-metadata": "[1, 2]"}, {"x-metadata": '{"a": {"nested": 1}}'},
           {"x-disallow-duplicates": "maybe"}, {"x-add-date-id": "2"}, {"x-label": "a", "x-no-label": "1"},
           {"x-label": "x" * 300}]
    for h in bad:
        r = api.client.post("/api/training/files", headers=key(api, **h), files=files(("a.1.csv", csv(17))))
        assert r.status_code == 400, (h, r.text)
        assert r.json()["success"] is False and r.json()["error"]
    assert state(api) == before


def test_unknown_category_and_wrong_content_type(api: Api) -> None:
    before = state(api)
    r = api.client.post("/api/validation/files", headers=key(api), files=files(("a.1.csv", csv(18))))
    assert r.status_code == 404 and r.json()["success"] is False
    r = api.client.post("/api/training/files", headers=key(api, **{"content-type": "application/json"}), content=b"{}")
    assert r.status_code == 415
    r = api.client.post("/api/training/files", headers=key(api), data={"label": "x"})
    assert r.status_code in (400, 415)
    r = api.client.post("/api/training/files", headers=key(api), files=[("other", ("a.csv", csv(18), "text/csv"))])
    assert r.status_code == 400 and "'data'" in r.json()["error"]
    assert state(api) == before


def test_malformed_multipart_is_400(api: Api) -> None:
    before = state(api)
    good = b"--XyZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"a.1.csv\"\r\n\r\n" + csv(19)
    bodies = [good,  # no closing boundary: cut short
              good + b"\r\n--XyZ--\r\n".replace(b"XyZ", b"Other"),
              b"garbage without any boundary",
              b"--XyZ\r\nContent-Type: text/csv\r\n\r\nabc\r\n--XyZ--\r\n"]  # no Content-Disposition
    for body in bodies:
        r = api.client.post("/api/training/files", content=body,
                            headers=key(api, **{"content-type": "multipart/form-data; boundary=XyZ"}))
        assert r.status_code == 400, (body[:40], r.text)
        assert r.json()["success"] is False and "multipart" in r.json()["error"]
    r = api.client.post("/api/training/files", content=good,
                        headers=key(api, **{"content-type": "multipart/form-data"}))
    assert r.status_code == 400 and "boundary" in r.json()["error"]
    assert state(api) == before


def test_oversized_file_is_413_for_the_request(tmp_path: Path) -> None:
    with api_for(tmp_path / "p", max_file_bytes=4000) as api:
        small, big = csv(20), write_csv(signal(21, n=400), S3, 50.0)
        assert len(small) < 4000 < len(big)
        r = api.client.post("/api/training/files", headers=key(api), files=files(("s.1.csv", small), ("b.1.csv", big)))
        assert r.status_code == 413 and r.json()["success"] is False and "b.1.csv" in r.json()["error"]
        r = api.client.post("/api/training/data", content=big,
                            headers=key(api, **{"content-type": "text/csv", "x-file-name": "b.csv"}))
        assert r.status_code == 413
        r = api.client.post("/api/v1/samples", headers=api.headers(), files=[("files", ("b.1.csv", big, "text/csv"))])
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        assert state(api)[:2] == (0, 0)
    with api_for(tmp_path / "q", max_files=2) as api:
        r = api.client.post("/api/training/files", headers=key(api),
                            files=files(*[(f"m.{i}.csv", csv(30 + i)) for i in range(3)]))
        assert r.status_code == 413 and "more than 2 files" in r.json()["error"]
        assert state(api)[:2] == (0, 0)


@pytest.mark.parametrize("name", ["../../../etc/evil.1.csv", "/abs/evil.1.csv", "..\\..\\evil.1.csv",
                                  "C:\\temp\\evil.1.csv"])
def test_path_tricks_in_names_keep_only_the_base_name(api: Api, tmp_path: Path, name: str) -> None:
    r = api.client.post("/api/training/files", headers=key(api), files=files((name, csv(22))))
    assert r.status_code == 200 and r.json()["files"][0] == {**r.json()["files"][0], "fileName": "evil.1.csv",
                                                             "success": True}
    r = api.client.post("/api/training/data", content=csv(23),
                        headers=key(api, **{"content-type": "text/csv", "x-file-name": name.replace("1", "2")}))
    assert r.status_code == 200 and r.json()["files"][0]["fileName"] == "evil.2.csv"
    assert {s.source for s in samples(api).values()} == {"upload:evil.1.csv", "upload:evil.2.csv"}
    assert not list(tmp_path.rglob("evil*")) and not Path("/etc/evil.1.csv").exists()


def multipart(*parts: tuple[bytes, bytes]) -> bytes:
    """A multipart body built by hand (HTTP clients escape NUL and newlines in file names)."""
    out = b"".join(b'--XyZ\r\nContent-Disposition: form-data; name="data"; filename="' + name + b'"\r\n\r\n' + data
                   + b"\r\n" for name, data in parts)
    return out + b"--XyZ--\r\n"


@pytest.mark.parametrize("name", [b"a\x00b.csv", b"../", b"..", b"a\x07b.csv", b" ", b"dir/\x00/x.csv"])
def test_bad_names_are_400_and_write_nothing(api: Api, name: bytes) -> None:
    before = state(api)
    r = api.client.post("/api/training/files", content=multipart((b"ok.1.csv", csv(24)), (name, csv(25))),
                        headers=key(api, **{"content-type": "multipart/form-data; boundary=XyZ"}))
    assert r.status_code == 400 and r.json()["success"] is False, r.text
    assert "file name" in r.json()["error"]
    assert state(api) == before
    ok = api.client.post("/api/training/files", content=multipart((b"ok.1.csv", csv(24))),
                         headers=key(api, **{"content-type": "multipart/form-data; boundary=XyZ"}))
    assert ok.status_code == 200 and ok.json()["files"][0]["success"]  # the hand-built body itself is fine


def test_nul_in_x_file_name_is_400(api: Api) -> None:
    before = state(api)
    r = api.client.post("/api/training/data", content=csv(26),
                        headers=key(api, **{"content-type": "text/csv", "x-file-name": "../x%00.csv"}))
    assert r.status_code == 200  # %00 is not a NUL: a plain (if odd) name
    mid = state(api)
    assert mid[0] == before[0] + 1
    r = api.client.post("/api/training/data", content=csv(27),
                        headers=key(api, **{"content-type": "text/csv", "x-file-name": "..\\"}))
    assert r.status_code == 400 and "x-file-name" in r.json()["error"]
    assert state(api) == mid


def test_credentials(api: Api) -> None:
    before = state(api)
    for headers in ({}, {"x-api-key": "eml_i_nope_nope"}, {"x-api-key": api.ingest_key + "x"}):
        r = api.client.post("/api/training/files", headers=headers, files=files(("a.1.csv", csv(28))))
        assert r.status_code == 401 and r.json()["success"] is False
    r = api.client.post("/api/training/files", headers={"x-api-key": api.tokens["bob"]},
                        files=files(("a.1.csv", csv(28))))
    assert r.status_code == 403 and "may not ingest" in r.json()["error"]
    r = api.client.post("/api/training/data", content=csv(28),
                        headers={"x-api-key": api.tokens["bob"], "content-type": "text/csv"})
    assert r.status_code == 403
    assert state(api) == before
    r = api.client.post("/api/training/files", headers={"x-api-key": api.tokens["dana"]},
                        files=files(("a.1.csv", csv(28))))
    assert r.status_code == 200 and r.json()["files"][0]["success"]
    assert [e.actor for e in api.project.audit_entries() if e.action == "sample.ingest"] == ["dana"]


def test_ingestion_key_reads_nothing_and_cannot_use_member_upload(api: Api) -> None:
    for method, path in (("get", "/api/v1/samples"), ("post", "/api/v1/samples"), ("get", "/api/v1/project")):
        for headers in ({"x-api-key": api.ingest_key}, {"Authorization": f"Bearer {api.ingest_key}"}):
            r = getattr(api.client, method)(path, headers=headers)
            assert r.status_code in (401, 403), (path, r.status_code)


def test_member_upload_route(api: Api) -> None:
    r = api.client.post("/api/v1/samples", headers=api.headers("dana"),
                        files=[("files", ("walk.1.csv", csv(40), "text/csv")), ("files", ("run.1.csv", csv(41), "x")),
                               ("files", ("junk.csv", b"not,a\ncsv", "text/csv"))],
                        data={"category": "testing", "metadata": '{"subject": "p2"}'})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ingested"] == 2 and body["failed"] == 1 and body["failures"][0]["file_name"] == "junk.csv"
    got = samples(api)
    assert (got["walk.1"].label, got["walk.1"].category, got["walk.1"].metadata) == ("walk", "testing",
                                                                                     {"subject": "p2"})
    r = api.client.post("/api/v1/samples", headers=api.headers("dana"),
                        files=[("files", ("walk.2.csv", csv(40), "text/csv"))])
    assert r.json()["failed"] == 1 and "duplicate" in r.json()["failures"][0]["reason"]  # as eml ingest
    r = api.client.post("/api/v1/samples", headers=api.headers("dana"),
                        files=[("files", ("walk.2.csv", csv(40), "text/csv"))], data={"allow_duplicates": "true",
                                                                                     "label": "w"})
    assert r.json()["ingested"] == 1 and samples(api)["walk.2"].label == "w"
    before = state(api)
    for data in ({"category": "nope"}, {"metadata": "[]"}, {"unknown": "x"}, {"allow_duplicates": "perhaps"}):
        r = api.client.post("/api/v1/samples", headers=api.headers("dana"),
                            files=[("files", ("z.1.csv", csv(42), "text/csv"))], data=data)
        assert r.status_code == 400 and r.json()["error"]["message"], data
    r = api.client.post("/api/v1/samples", headers=api.headers("bob"), files=[("files", ("z.1.csv", csv(42), "t"))])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert state(api) == before

"""The CRISP-EML backbone over HTTP: requirements, gates, members, the audit trail (paged, verified) and the stored
results of compile/deploy (bundle download checked against its sha256), as the personas that may and may not."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Api, api_for
from sqlalchemy import update

from conftest import MLPERF_TINY
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.workspace.audit import log

V1 = "/api/v1"
KWS = MLPERF_TINY / "kws_ref_model.tflite"


def _token_id(api: Api, member: str) -> str:
    return api.tokens[member].split("_")[2]


@pytest.fixture
def kws(tmp_path: Path) -> Iterator[Api]:
    """A real int8 model registered as models:/kws/1 (imported, no training) and compiled to ``lib``."""
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.import_model import import_model

    with api_for(tmp_path / "proj") as api:
        import_model(api.project, KWS, "kws", task="regression")
        compile_model("models:/kws/1", api.root / "lib", vectors=0, project=api.project)
        yield api


def test_requirements_set_by_business_and_domain_not_by_others(api: Api) -> None:
    c = api.client
    assert c.get(f"{V1}/requirements", headers=api.headers("uma")).json()["version"] == 0
    body = {"changes": {"target": "cortex-m4", "min_accuracy": 0.9, "max_ram": "64k", "max_flash": 65536},
            "message": "pilot"}
    for who in ("uma", "dana", "erin", "olga"):
        r = c.put(f"{V1}/requirements", json=body, headers=api.headers(who))
        assert r.status_code == 403 and "set requirements" in r.json()["error"]["message"], who
    assert c.put(f"{V1}/requirements", json=body).status_code == 401
    r = c.put(f"{V1}/requirements", json=body, headers=api.headers("bob"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["version"] == 1 and got["target"] == "cortex-m4f-80mhz" and got["author"] == "bob"
    assert got["kpis"]["max_ram_bytes"] == 65536 and got["kpis"]["max_flash_bytes"] == 65536
    assert got["kpis"]["min_accuracy"] == pytest.approx(0.9)
    entry = log(api.project, "requirements.set")[-1]
    assert entry["actor"] == "bob" and entry["artifacts"]["via_token"] == _token_id(api, "bob")
    assert entry["note"] == "pilot"
    r = c.put(f"{V1}/requirements", json={"changes": {"max_flash": None}}, headers=api.headers("ed"))
    assert r.status_code == 200 and "max_flash_bytes" not in r.json()["kpis"] and r.json()["version"] == 2
    assert c.get(f"{V1}/requirements", headers=api.headers("uma")).json()["version"] == 2
    assert [v["version"] for v in c.get(f"{V1}/requirements/history", headers=api.headers("uma")).json()] == [1, 2]


@pytest.mark.parametrize(("body", "status"), [
    ({"changes": {"min_accuracy": "high"}}, 400),
    ({"changes": {"no_such_kpi": 1}}, 400),
    ({"changes": {"target": "no-such-mcu"}}, 400),
    ({"changes": {"min_accuracy": 7}}, 400),
    ({"changes": {}}, 422),
    ({"changes": {"min_accuracy": [1]}}, 422),
    ({"changes": {"max_ram": True}}, 422),
    ({"changes": "min_accuracy=0.9"}, 422),
    ({}, 422),
])
def test_bad_requirements_are_4xx_and_store_nothing(api: Api, body: dict[str, Any], status: int) -> None:
    r = api.client.put(f"{V1}/requirements", json=body, headers=api.headers("bob"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"] and "Traceback" not in r.text
    assert api.client.get(f"{V1}/requirements", headers=api.headers("bob")).json()["version"] == 0


def test_gate_evaluated_by_approvers_then_read_back(kws: Api) -> None:
    c = kws.client
    c.put(f"{V1}/requirements", json={"changes": {"target": "cortex-m4", "max_ram": "64k"}},
          headers=kws.headers("bob"))
    body = {"model": "models:/kws/1"}
    for who in ("dana", "uma", "pat"):
        assert c.post(f"{V1}/gates", json=body, headers=kws.headers(who)).status_code == 403, who
    r = c.post(f"{V1}/gates", json=body, headers=kws.headers("bob"))
    assert r.status_code == 201, r.text
    passed = r.json()
    assert passed["passed"] and passed["actor"] == "bob" and passed["target"] == "cortex-m4f-80mhz"
    ram = next(row for row in passed["rows"] if row["requirement"] == "max_ram_bytes")
    assert 8 * 1024 < ram["measured"] <= 64 * 1024 and "MANIFEST.json" in ram["source"]  # the library's own figure
    entry = log(kws.project, "gate.evaluate")[-1]
    assert entry["artifacts"]["via_token"] == _token_id(kws, "bob") and entry["artifacts"]["gate"] == passed["id"]

    c.put(f"{V1}/requirements", json={"changes": {"max_ram": "8k"}}, headers=kws.headers("bob"))
    failed = c.post(f"{V1}/gates", json=body, headers=kws.headers("erin"))
    assert failed.status_code == 201 and not failed.json()["passed"] and failed.json()["failed"] == ["max_ram_bytes"]

    h = kws.headers("uma")
    assert [g["passed"] for g in c.get(f"{V1}/gates", headers=h).json()] == [True, False]
    assert len(c.get(f"{V1}/gates", params={"model": "models:/kws/1"}, headers=h).json()) == 2
    one = c.get(f"{V1}/gates/{passed['id']}", headers=h)
    assert one.status_code == 200 and one.json() == passed
    assert c.get(f"{V1}/gates/999", headers=h).status_code == 404
    assert c.get(f"{V1}/gates/0", headers=h).status_code == 422
    for bad, status in (({"model": "models:/nope/1"}, 404), ({"model": "not a uri!"}, 400),
                        ({"model": "models:/kws/1", "target": "no-such-mcu"}, 400), ({}, 422)):
        assert c.post(f"{V1}/gates", json=bad, headers=kws.headers("bob")).status_code == status, bad


def test_members_managed_by_the_owner_only(api: Api) -> None:
    c = api.client
    names = {m["name"] for m in c.get(f"{V1}/members", headers=api.headers("uma")).json()}
    assert {"alice", "bob", "uma", "pat"} <= names
    body = {"name": "zoe", "persona": "domain-expert"}
    for who in ("pat", "olga", "uma"):
        assert c.post(f"{V1}/members", json=body, headers=api.headers(who)).status_code == 403, who
        assert c.delete(f"{V1}/members/uma", headers=api.headers(who)).status_code == 403, who
    r = c.post(f"{V1}/members", json=body, headers=api.headers("alice"))
    assert r.status_code == 201 and r.json()["persona"] == "domain-expert" and "label-data" in r.json()["permissions"]
    assert log(api.project, "member.add")[-1]["artifacts"]["via_token"] == _token_id(api, "alice")
    assert c.post(f"{V1}/members", json=body, headers=api.headers("alice")).status_code == 409
    for bad in ({"name": "x", "persona": "wizard"}, {"name": "a b", "persona": "end-user"}):
        assert c.post(f"{V1}/members", json=bad, headers=api.headers()).status_code == 400, bad
    assert c.post(f"{V1}/members", json={"name": "y"}, headers=api.headers()).status_code == 422
    assert c.delete(f"{V1}/members/zoe", headers=api.headers()).json() == {"removed": "zoe"}
    assert c.delete(f"{V1}/members/zoe", headers=api.headers()).status_code == 404
    assert c.delete(f"{V1}/members/alice", headers=api.headers()).status_code == 409  # the only owner
    c.delete(f"{V1}/members/uma", headers=api.headers())
    assert c.get(f"{V1}/members", headers=api.headers("uma")).status_code in (401, 403)  # no longer a member


def test_audit_pages_cover_the_whole_trail(api: Api) -> None:
    c, h = api.client, api.headers("uma")
    for i in range(3):
        c.put(f"{V1}/requirements", json={"changes": {"min_accuracy": 0.5 + i / 10}}, headers=api.headers("bob"))
    everything = log(api.project)
    pages, offset = [], 0
    while True:
        p = c.get(f"{V1}/audit", params={"offset": offset, "limit": 4}, headers=h).json()
        assert p["total"] == len(everything) and len(p["entries"]) <= 4
        if not p["entries"]:
            break
        pages += p["entries"]
        offset += len(p["entries"])
    assert [e["seq"] for e in pages] == [e["seq"] for e in everything]
    newest = c.get(f"{V1}/audit", params={"newest_first": True, "limit": 2, "action": "requirements"},
                   headers=h).json()
    assert newest["total"] == 3 and [e["artifacts"]["version"] for e in newest["entries"]] == [3, 2]
    assert all(e["actor"] == "bob" for e in
               c.get(f"{V1}/audit", params={"actor": "bob"}, headers=h).json()["entries"])
    assert c.get(f"{V1}/audit", params={"action": "%"}, headers=h).json()["total"] == 0  # no wildcards
    for bad in ({"limit": 0}, {"limit": 5000}, {"offset": -1}, {"newest_first": "maybe"}):
        assert c.get(f"{V1}/audit", params=bad, headers=h).status_code == 422, bad


def test_audit_verify_reports_a_tampered_entry(api: Api) -> None:
    c, h = api.client, api.headers("uma")
    ok = c.get(f"{V1}/audit/verify", headers=h)
    assert ok.status_code == 200 and ok.json()["ok"] and ok.json()["entries"] == len(log(api.project))
    assert c.get(f"{V1}/audit/verify", params={"key": "/etc/passwd"}, headers=h).status_code == 422
    other = c.get(f"{V1}/audit/verify", params={"key": "ab" * 32}, headers=h)  # not the key that signed
    assert other.status_code == 200 and not other.json()["ok"], other.json()
    with api.project.session() as s:
        s.execute(update(AuditRow).where(AuditRow.seq == 2).values(actor="mallory"))
    broken = c.get(f"{V1}/audit/verify", headers=h).json()
    assert not broken["ok"] and broken["problems"][0]["seq"] == 2


def test_compile_and_bundle_results_and_the_bundle_download(kws: Api) -> None:
    from crisp_eml.workspace.deploy import deploy
    from crisp_eml.workspace.gate import run_gate
    from crisp_eml.workspace.requirements import set_requirements

    c, h = kws.client, kws.headers("uma")
    compiles = c.get(f"{V1}/compiles", headers=h).json()
    assert compiles["total"] == 1
    lib = compiles["results"][0]
    assert lib["model"] == "models:/kws/1" and lib["library"] == "kws" and lib["actor"] == "alice"
    assert c.get(f"{V1}/compiles/{lib['id']}", headers=h).json() == lib
    assert c.get(f"{V1}/bundles/{lib['id']}", headers=h).status_code == 404  # a compile is not a bundle
    assert c.get(f"{V1}/compiles", params={"model": "models:/other/1"}, headers=h).json()["total"] == 0
    assert c.get(f"{V1}/bundles", headers=h).json() == {"total": 0, "offset": 0, "limit": 100, "results": []}

    set_requirements(kws.project, ["target=cortex-m4", "max_ram=64k"])
    run_gate(kws.project, "models:/kws/1")
    out = kws.root / "out" / "kws-m4.zip"
    dep = deploy(kws.project, "models:/kws/1", "cortex-m4", out)
    listed = c.get(f"{V1}/bundles", headers=h).json()["results"]
    assert [b["id"] for b in listed] == [dep.audit_seq] and listed[0]["bundle_sha256"] == dep.bundle_sha256
    got = c.get(f"{V1}/bundles/{dep.audit_seq}/download", headers=h)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert got.headers["content-disposition"] == 'attachment; filename="kws-m4.zip"'
    assert hashlib.sha256(got.content).hexdigest() == dep.bundle_sha256 and got.content == out.read_bytes()
    assert "MANIFEST.json" in zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert c.get(f"{V1}/bundles/{dep.audit_seq}/download").status_code == 401
    assert c.get(f"{V1}/bundles/{lib['id']}/download", headers=h).status_code == 404

    out.write_bytes(got.content[:-1] + bytes([got.content[-1] ^ 1]))  # edited after the deploy: never served
    changed = c.get(f"{V1}/bundles/{dep.audit_seq}/download", headers=h)
    assert changed.status_code == 409 and "sha256" in changed.json()["error"]["message"]
    out.unlink()
    assert c.get(f"{V1}/bundles/{dep.audit_seq}/download", headers=h).status_code == 404


def test_verify_profile_and_report_listings_are_pages_of_their_own_kind(kws: Api) -> None:
    c, h = kws.client, kws.headers("uma")
    for path in ("verifications", "profiles", "reports"):
        r = c.get(f"{V1}/{path}", headers=h)
        assert r.status_code == 200 and r.json()["total"] == 0, path
        assert c.get(f"{V1}/{path}/1", headers=h).status_code == 404, path
        assert c.get(f"{V1}/{path}", params={"limit": 0}, headers=h).status_code == 422, path
    with kws.project.session() as s:  # the entry 'eml verify' writes inside a project
        seq = kws.project.record(s, "compiler.verify", {"library": "kws", "ok": True, "checks": {"host": True}}).seq
    got = c.get(f"{V1}/verifications", headers=h).json()["results"]
    assert [(v["id"], v["library"], v["ok"]) for v in got] == [(seq, "kws", True)]
    assert c.get(f"{V1}/verifications/{seq}", headers=h).json()["checks"] == {"host": True}


def test_deploy_over_http_needs_the_permission_and_a_passing_gate(kws: Api) -> None:
    c = kws.client
    body = {"model": "models:/kws/1", "target": "cortex-m4"}
    refused = c.post(f"{V1}/bundles", json=body, headers=kws.headers("olga"))
    assert refused.status_code == 422 and "never been gated" in refused.json()["error"]["message"]
    c.put(f"{V1}/requirements", json={"changes": {"target": "cortex-m4", "max_ram": "64k"}},
          headers=kws.headers("bob"))
    assert c.post(f"{V1}/gates", json={"model": "models:/kws/1"}, headers=kws.headers("bob")).json()["passed"]
    for who in ("dana", "erin", "bob", "uma"):
        assert c.post(f"{V1}/bundles", json=body, headers=kws.headers(who)).status_code == 403, who
    for bad, status in (({"model": "models:/kws/9", "target": "cortex-m4"}, 404),
                        ({"model": "models:/kws/1", "target": "no-such-mcu"}, 400),
                        ({"model": "models:/kws/1", "target": "../../x"}, 400), ({"model": "models:/kws/1"}, 422)):
        assert c.post(f"{V1}/bundles", json=bad, headers=kws.headers("olga")).status_code == status, bad
    r = c.post(f"{V1}/bundles", json=body, headers=kws.headers("olga"))
    assert r.status_code == 201, r.text
    made = r.json()
    path = Path(made["bundle"])
    assert path.parent == kws.root / ".eml" / "bundles" and path.name.startswith("kws-1-cortex-m4f-80mhz-")
    entry = log(kws.project, "model.deploy")[-1]
    assert entry["seq"] == made["id"] and entry["artifacts"]["via_token"] == _token_id(kws, "olga")
    got = c.get(f"{V1}/bundles/{made['id']}/download", headers=kws.headers("uma"))
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == made["bundle_sha256"]
    assert got.headers["content-disposition"] == f'attachment; filename="{path.name}"'
    again = c.post(f"{V1}/bundles", json=body, headers=kws.headers("olga")).json()
    assert again["bundle"] != made["bundle"] and path.is_file()  # a new file; the first one is kept

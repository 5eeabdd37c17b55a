"""The target catalog and comparison, and member API tokens, over HTTP: who may do what, what is shown once, and
what the comparison reads (saved profiles of the same int8 model, per target, newest first)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Api, api_for

from conftest import MLPERF_TINY
from crisp_eml.targets.catalog import TARGETS
from crisp_eml.workspace.audit import log

V1 = "/api/v1"
AD01 = MLPERF_TINY / "ad01_int8.tflite"


@pytest.fixture
def ad01(tmp_path: Path) -> Iterator[Api]:
    """A real int8 model registered as models:/ad01/1 (imported, no training)."""
    from crisp_eml.workspace.import_model import import_model

    with api_for(tmp_path / "proj") as api:
        import_model(api.project, AD01, "ad01", task="regression")
        yield api


def test_targets_is_the_catalog(api: Api) -> None:
    r = api.client.get(f"{V1}/targets", headers=api.headers("uma"))
    assert r.status_code == 200, r.text
    got = {t["id"]: t for t in r.json()}
    assert list(got) == list(TARGETS)
    assert got["cortex-m4f-80mhz"]["ram_bytes"] == 128 * 1024 and got["cortex-m4f-80mhz"]["clock_hz"] == 80_000_000


def test_compare_without_models_has_no_model_and_no_profiles(api: Api) -> None:
    r = api.client.get(f"{V1}/targets/compare", headers=api.headers("bob"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["model"] is None and [t["target"]["id"] for t in got["targets"]] == list(TARGETS)
    assert all(t["profile"] is None for t in got["targets"])
    assert api.client.get(f"{V1}/targets/compare", params={"model": "models:/nope/1"},
                          headers=api.headers("bob")).status_code == 404
    assert api.client.get(f"{V1}/targets/compare", params={"model": "not a uri!"},
                          headers=api.headers("bob")).status_code == 400


def test_compare_shows_the_latest_real_profile_per_target(ad01: Api) -> None:
    """A real profile (cross build + QEMU) of models:/ad01/1 on the Cortex-M4F, saved by the profile use case,
    is what the comparison shows for that target and only for it; the requirements' limits come along."""
    from crisp_eml.workspace.profile import profile
    from crisp_eml.workspace.requirements import set_requirements

    set_requirements(ad01.project, ["max_ram=64k", "max_flash_bytes=1000", "min_accuracy=0.5"])
    c, bob = ad01.client, ad01.headers("bob")
    before = c.get(f"{V1}/targets/compare", headers=bob).json()
    assert before["model"] == "models:/ad01/1" and all(t["profile"] is None for t in before["targets"])
    measured = profile("models:/ad01/1", "cortex-m4", project=ad01.project)
    saved = log(ad01.project, "compiler.profile")[-1]
    got = c.get(f"{V1}/targets/compare", params={"model": "models:/ad01/1"}, headers=bob).json()
    assert got["limits"] == {"max_ram_bytes": 65536, "max_flash_bytes": 1000}
    rows = {t["target"]["id"]: t for t in got["targets"]}
    m4 = rows["cortex-m4f-80mhz"]["profile"]
    assert m4 is not None and m4["id"] == saved["seq"]
    assert m4["ram_bytes"] == measured["ram_bytes"] and m4["flash_bytes"] == measured["flash_bytes"]
    assert m4["latency_ms"] == pytest.approx(measured["latency_ms"])
    assert m4["fits"] == {"ram": measured["ram_bytes"] <= 128 * 1024, "flash": measured["flash_bytes"] <= 1024 * 1024}
    assert all(t["profile"] is None for tid, t in rows.items() if tid != "cortex-m4f-80mhz")


def test_compare_takes_the_newest_profile_of_the_same_model_only(ad01: Api) -> None:
    """Profile entries of another model (other sha256) never count; of two on a target the newest wins."""
    from crisp_eml.workspace.import_model import import_model

    p = ad01.project
    import_model(p, MLPERF_TINY / "kws_ref_model.tflite", "kws", task="regression")
    from crisp_eml.lifecycle.evidence import model_sha256, resolve

    with p.read_session() as s:
        sha, c_sha = model_sha256(s, resolve(s, "models:/ad01/1")), model_sha256(s, resolve(s, "models:/kws/1"))
    assert sha and c_sha
    assert sha != c_sha
    with p.session() as s:  # entries shaped as the profile use case saves them
        p.record(s, "compiler.profile", {"target": "cortex-m7-216mhz", "model_sha256": sha, "ram_bytes": 1000,
                                         "flash_bytes": 2000, "latency_ms": 1.5, "library": "ad01",
                                         "source": "models:/ad01@production"})
        p.record(s, "compiler.profile", {"target": "cortex-m7-216mhz", "model_sha256": sha, "ram_bytes": 1100,
                                         "flash_bytes": 2100, "latency_ms": 1.25, "library": "ad01",
                                         "source": "models:/ad01/1"})
        p.record(s, "compiler.profile", {"target": "rp2040-133mhz", "model_sha256": c_sha, "ram_bytes": 9,
                                         "flash_bytes": 9, "latency_ms": 9.0, "library": "kws",
                                         "source": "models:/kws/1"})
    got = ad01.client.get(f"{V1}/targets/compare", params={"model": "models:/ad01/1"},
                          headers=ad01.headers("uma")).json()
    rows = {t["target"]["id"]: t["profile"] for t in got["targets"]}
    assert rows["cortex-m7-216mhz"]["ram_bytes"] == 1100 and rows["cortex-m7-216mhz"]["latency_ms"] == 1.25
    assert rows["rp2040-133mhz"] is None
    # without ?model= the newest version is the current model (no production alias yet): kws, imported last
    assert ad01.client.get(f"{V1}/targets/compare", headers=ad01.headers("uma")).json()["model"] == "models:/kws/1"
    from crisp_eml.workspace.registry import set_alias

    set_alias(p, "ad01", "production", 1, override_reason="test: no gate needed here")
    cur = ad01.client.get(f"{V1}/targets/compare", headers=ad01.headers("uma")).json()
    assert cur["model"] == "models:/ad01/1" and cur["aliases"] == ["production"]


def test_a_member_lists_creates_and_revokes_their_own_tokens(api: Api) -> None:
    c, bob = api.client, api.headers("bob")
    mine = c.get(f"{V1}/tokens", headers=bob).json()
    assert [t["member"] for t in mine] == ["bob"] and "token" not in mine[0] and "digest" not in mine[0]
    r = c.post(f"{V1}/tokens", json={"note": "dashboard", "scopes": ["set-requirements"], "expires_days": 7},
               headers=bob)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["member"] == "bob" and made["token"].startswith(f"eml_t_{made['id']}_")
    assert made["scopes"] == ["set-requirements"] and made["expires_at"] and made["state"] == "active"
    new = {"Authorization": f"Bearer {made['token']}"}
    assert c.get(f"{V1}/whoami", headers=new).json()["permissions"] == ["set-requirements"]
    listed = c.get(f"{V1}/tokens", headers=bob).json()
    assert [t["id"] for t in listed][-1] == made["id"] and all("token" not in t for t in listed)
    r = c.post(f"{V1}/tokens/{made['id']}/revoke", headers=bob)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert c.get(f"{V1}/whoami", headers=new).status_code == 401
    assert c.post(f"{V1}/tokens/{made['id']}/revoke", headers=bob).json()["state"] == "revoked"
    actions = [(e["action"], e["actor"]) for e in log(api.project, "token")][-2:]
    assert actions == [("token.create", "bob"), ("token.revoke", "bob")]


def test_other_members_tokens_need_manage_members(api: Api) -> None:
    c = api.client
    for r in (c.get(f"{V1}/tokens", params={"all": True}, headers=api.headers("bob")),
              c.get(f"{V1}/tokens", params={"member": "dana"}, headers=api.headers("bob")),
              c.post(f"{V1}/tokens", json={"member": "dana"}, headers=api.headers("bob")),
              c.post(f"{V1}/tokens/{api.token_id('dana')}/revoke", headers=api.headers("bob"))):
        assert r.status_code == 403, r.text
    assert c.get(f"{V1}/whoami", headers=api.headers("dana")).status_code == 200  # not revoked
    everyone = c.get(f"{V1}/tokens", params={"all": True}, headers=api.headers()).json()
    assert {t["member"] for t in everyone} >= {"alice", "bob", "dana"}
    r = c.post(f"{V1}/tokens", json={"member": "dana", "note": "for dana"}, headers=api.headers())
    assert r.status_code == 201 and r.json()["member"] == "dana"
    assert c.post(f"{V1}/tokens/{api.token_id('dana')}/revoke", headers=api.headers()).json()["state"] == "revoked"
    assert c.get(f"{V1}/whoami", headers=api.headers("dana")).status_code == 401


@pytest.mark.parametrize(("body", "status"), [
    ({"scopes": ["fly"]}, 400),
    ({"member": "nobody"}, 404),
    ({"expires_days": 0}, 422),
    ({"expires_days": 99999}, 422),
    ({"scopes": "train"}, 422),
    ({"owner": True}, 422),
])
def test_bad_token_requests_are_4xx_and_make_nothing(api: Api, body: dict[str, object], status: int) -> None:
    before = len(api.client.get(f"{V1}/tokens", params={"all": True}, headers=api.headers()).json())
    r = api.client.post(f"{V1}/tokens", json=body, headers=api.headers())
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
    assert len(api.client.get(f"{V1}/tokens", params={"all": True}, headers=api.headers()).json()) == before
    assert api.client.post(f"{V1}/tokens/nope/revoke", headers=api.headers()).status_code == 404

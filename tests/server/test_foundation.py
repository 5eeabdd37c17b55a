"""The server's foundation: health is anonymous, everything else needs a valid, unrevoked, unexpired token;
errors have one JSON shape; bodies over the limit get 413; failed logins are rate limited."""

from __future__ import annotations

from pathlib import Path

from server_helpers import Api, api_for

from crisp_eml.workspace.credentials import create_token, list_tokens, revoke_token


def test_health_is_anonymous_and_the_rest_is_not(api: Api) -> None:
    assert api.client.get("/health").json()["status"] == "ok"
    r = api.client.get("/api/v1/whoami")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert "Bearer" in r.headers["www-authenticate"]
    assert api.client.get("/api/v1/openapi.json").status_code == 401


def test_token_authenticates_its_member(api: Api) -> None:
    r = api.client.get("/api/v1/whoami", headers=api.headers("dana"))
    assert r.status_code == 200
    assert r.json()["name"] == "dana" and r.json()["persona"] == "data-scientist"
    assert r.json()["token_id"] == api.tokens["dana"].split("_")[2]


def test_wrong_revoked_and_ingest_credentials_get_401(api: Api) -> None:
    good = api.tokens["dana"]
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for bad in (tampered, "eml_t_nope_x", "garbage", api.ingest_key):
        r = api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
    revoke_token(api.project, good.split("_")[2])
    assert api.client.get("/api/v1/whoami", headers=api.headers("dana")).status_code == 401


def test_secrets_are_stored_hashed_and_listed_without_them(api: Api) -> None:
    db = (api.root / ".eml" / "metadata.db").read_bytes()
    for token in api.tokens.values():
        assert token.split("_", 3)[3].encode() not in db
    listed = list_tokens(api.project, all_members=True)
    assert len(listed) == len(api.tokens) and all("token" not in t for t in listed)


def test_expired_token_is_refused(api: Api) -> None:
    from datetime import timedelta

    from crisp_eml.store.tables.server import ApiTokenRow

    t = create_token(api.project, "bob", expires_days=1)
    h = {"Authorization": f"Bearer {t['token']}"}
    assert api.client.get("/api/v1/whoami", headers=h).status_code == 200
    with api.project.session() as s:
        row = s.get(ApiTokenRow, t["id"])
        assert row is not None and row.expires_at is not None
        row.expires_at -= timedelta(days=2)
    assert api.client.get("/api/v1/whoami", headers=h).status_code == 401


def test_failed_logins_are_rate_limited(tmp_path: Path) -> None:
    with api_for(tmp_path / "p", failed_login_limit=3, failed_login_window_s=60.0) as api:
        for _ in range(3):
            assert api.client.get("/api/v1/whoami", headers={"Authorization": "Bearer eml_t_x_y"}).status_code == 401
        r = api.client.get("/api/v1/whoami", headers=api.headers())  # even a good token waits now
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_oversized_body_gets_413_json(tmp_path: Path) -> None:
    with api_for(tmp_path / "p", max_request_bytes=1000) as api:
        r = api.client.post("/api/v1/whoami", content=b"x" * 5000, headers=api.headers())
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"


def test_unknown_route_is_a_json_404(api: Api) -> None:
    r = api.client.get("/api/v1/no-such-thing", headers=api.headers())
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_scoped_token_is_narrowed(api: Api) -> None:
    from crisp_eml.core.errors import PermissionDeniedError
    from crisp_eml.workspace.credentials import authenticate

    t = create_token(api.project, "dana", scopes=["label-data"])
    cred = authenticate(api.project, t["token"])
    assert cred is not None and cred.scopes == frozenset({"label-data"})
    scoped = cred.project(api.project)
    scoped.require("label-data")
    try:
        scoped.require("train")
    except PermissionDeniedError as exc:
        assert "scopes" in str(exc)
    else:
        raise AssertionError("a label-data token may not train")


def test_a_request_records_the_tokens_last_use(api: Api) -> None:
    t = create_token(api.project, "erin")
    assert t["last_used_at"] is None
    assert api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {t['token']}"}).status_code == 200
    (listed,) = [x for x in list_tokens(api.project, all_members=True) if x["id"] == t["id"]]
    assert listed["last_used_at"] is not None

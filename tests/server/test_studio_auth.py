"""Studio sign-in over HTTP: one-time login links, sessions in an HttpOnly SameSite=Strict cookie, the CSRF
token on every state change, persona checks through a session, sign-out, and the CLI and ``eml serve``
printing sign-in URLs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from server_helpers import OWNER, Api, free_port

from crisp_eml.core.errors import PermissionDeniedError
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.server import StudioSessionRow
from crisp_eml.workspace.audit_page import audit_page
from crisp_eml.workspace.studio_sessions import create_login_link


def _sign_in(api: Api, member: str) -> str:
    """Exchange a fresh login link for ``member``; the CSRF token (the client keeps the cookies)."""
    link = create_login_link(api.project, member)
    r = api.client.get(f"/login?token={link['token']}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return str(api.client.cookies["eml_csrf"])


def _set_cookies(r: Any) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}


def test_a_login_link_works_once_and_sets_strict_cookies(api: Api) -> None:
    link = create_login_link(api.project, "dana")
    r = api.client.get(f"/login?token={link['token']}", follow_redirects=False)
    assert r.status_code == 303
    cookies = _set_cookies(r)
    session, csrf = cookies["eml_session"].lower(), cookies["eml_csrf"].lower()
    assert "httponly" in session and "samesite=strict" in session and "path=/" in session
    assert "httponly" not in csrf and "samesite=strict" in csrf
    assert api.client.get("/api/v1/whoami").json()["name"] == "dana"
    api.client.cookies.clear()
    again = api.client.get(f"/login?token={link['token']}", follow_redirects=False)
    assert again.status_code == 401 and "already used" in again.text and "eml_session" not in _set_cookies(again)


def test_an_expired_or_forged_link_is_refused(api: Api) -> None:
    link = create_login_link(api.project, "dana")
    with api.project.session() as s:
        row = s.get(StudioSessionRow, link["login_id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert api.client.get(f"/login?token={link['token']}", follow_redirects=False).status_code == 401
    fresh = create_login_link(api.project, "dana")["token"]
    forged = fresh[:-4] + ("aaaa" if not fresh.endswith("aaaa") else "bbbb")
    assert api.client.get(f"/login?token={forged}", follow_redirects=False).status_code == 401
    assert api.client.get(f"/login?token={fresh}", follow_redirects=False).status_code == 303  # still unused


def test_only_a_member_manager_makes_links_for_others(api: Api) -> None:
    bob = api.project.acting_as("bob")
    assert create_login_link(bob, "bob")["member"] == "bob"
    with pytest.raises(PermissionDeniedError):
        create_login_link(bob, "dana")
    with pytest.raises(Exception, match="between 0 and"):
        create_login_link(api.project, "dana", ttl_s=0)


def test_state_changes_need_the_csrf_token(api: Api) -> None:
    csrf = _sign_in(api, "dana")
    assert api.client.get("/api/v1/datasets/versions").status_code == 200  # reads need no token
    missing = api.client.post("/api/v1/datasets/versions", json={"message": "v"})
    assert missing.status_code == 403 and missing.json()["error"]["field"] == "x-csrf-token"
    wrong = api.client.post("/api/v1/datasets/versions", json={"message": "v"}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    api.ingest_motions()
    ok = api.client.post("/api/v1/datasets/versions", json={"message": "v"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    # the Edge Impulse ingestion routes take the session too (the Studio's uploads), with the same rule
    files = {"data": ("a.csv", b"timestamp,x\n0,1\n10,2\n", "text/csv")}
    assert api.client.post("/api/training/files", files=files, headers={"x-label": "a"}).status_code == 403
    up = api.client.post("/api/training/files", files=files, headers={"x-label": "a", "X-CSRF-Token": csrf})
    assert up.status_code == 200 and up.json()["success"] is True, up.text


def test_a_session_has_its_members_persona(api: Api) -> None:
    csrf = _sign_in(api, "bob")  # business-leader: may not train
    r = api.client.post("/api/v1/train", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert set(api.client.get("/api/v1/whoami").json()["permissions"]) == {"approve-gate", "set-requirements"}


def test_signing_in_with_an_api_token_keeps_its_scopes(api: Api) -> None:
    from crisp_eml.workspace.credentials import create_token

    scoped = create_token(api.project.acting_as("dana"), "dana", scopes=["ingest-data"])["token"]
    r = api.client.post("/login", data={"token": scoped}, follow_redirects=False)
    assert r.status_code == 303
    assert api.client.get("/api/v1/whoami").json()["permissions"] == ["ingest-data"]
    api.client.cookies.clear()
    assert api.client.post("/login", data={"token": api.ingest_key}, follow_redirects=False).status_code == 401
    assert api.client.post("/login", data={"token": "eml_t_nope_nope"}, follow_redirects=False).status_code == 401


def test_sign_out_ends_the_session_and_is_audited(api: Api) -> None:
    csrf = _sign_in(api, "dana")
    session = str(api.client.cookies["eml_session"])
    assert api.client.post("/logout").status_code == 403  # no CSRF token: a foreign page cannot sign you out
    assert api.client.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    api.client.cookies.set("eml_session", session)  # a stolen copy of the cookie no longer works
    assert api.client.get("/api/v1/whoami").status_code == 401
    page = audit_page(api.project, action="session", offset=0, limit=10)
    actions = [(e["action"], e["actor"]) for e in page["entries"]]
    assert actions == [("session.start", "dana"), ("session.end", "dana")]


def test_a_removed_members_session_stops(api: Api) -> None:
    from crisp_eml.workspace.members import remove_member

    _sign_in(api, "dana")
    assert api.client.get("/api/v1/whoami").status_code == 200
    remove_member(api.project, "dana")
    assert api.client.get("/api/v1/whoami").status_code == 401


def test_pages_need_a_session_and_static_files_stay_inside(api: Api) -> None:
    assert api.client.get("/data", follow_redirects=False).headers["location"] == "/login?next=/data"
    _sign_in(api, "dana")
    page = api.client.get("/data")
    assert page.status_code == 200 and "/static/js/app.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = api.client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    for bad in ("/static/../__init__.py", "/static/%2e%2e/__init__.py", "/static/index.html", "/static/nope.js"):
        assert api.client.get(bad).status_code == 404, bad


def test_cli_login_url(api: Api, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EML_MEMBER", OWNER)
    code, out, err = run_cli(["members", "login-url", "erin", "--url", "http://127.0.0.1:9", "--json"], cwd=api.root)
    assert code == 0, err
    link = json.loads(out)
    assert link["member"] == "erin" and link["login_url"].startswith("http://127.0.0.1:9/login?token=eml_l_")
    token = link["login_url"].split("token=")[1]
    assert api.client.get(f"/login?token={token}", follow_redirects=False).status_code == 303
    code, out, err = run_cli(["members", "login-url", "erin", "--ttl", "-1"], cwd=api.root)
    assert code == 2 and out == "" and "ttl" in err


def test_eml_serve_prints_a_sign_in_url(tmp_path: Path) -> None:
    from server_helpers import make_project

    make_project(tmp_path)
    port = free_port()
    eml = Path(sys.executable).with_name("eml")
    proc = subprocess.Popen([str(eml), "serve", "--port", str(port), "--json", "--log-level", "warning"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**__import__("os").environ, "EML_MEMBER": OWNER})
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["member"] == OWNER and line["login_url"].startswith(f"http://127.0.0.1:{port}/login?token=eml_l_")
        import time

        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a: Any, **k: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as got:
            opener.open(line["login_url"], timeout=10)
        assert got.value.code == 303 and "eml_session=" in got.value.headers.get("set-cookie", "")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

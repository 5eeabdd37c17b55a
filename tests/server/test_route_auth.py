"""Deny by default: every route the app mounts, except /health, refuses a request without credentials (401),
and every member-only route refuses an ingestion key. Routes are enumerated from the app itself, so a route
added later without an auth dependency fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Api, api_for

from crisp_eml.server.app import mounted_routes

ANONYMOUS = {"/health"}
#: the Studio's sign-in, sign-out and static files; its pages send a browser without a session to /login
STUDIO_PUBLIC = {"/login", "/logout", "/static/{path:path}"}
#: routes that accept an ingestion key (x-api-key) as well as a member token: they may only add samples
INGEST_ROUTES = re.compile(r"^/api/(training|testing|anomaly|split|\{[^}]+\})/(files|data)$")


def _routes(api: Api) -> list[tuple[str, str]]:
    return mounted_routes(api.client.app)  # type: ignore[arg-type]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """Failed logins are not rate limited here: every route is tried without credentials."""
    with api_for(tmp_path / "proj", failed_login_limit=100_000) as a:
        yield a


def test_every_route_but_health_needs_credentials(api: Api) -> None:
    from crisp_eml.studio import PAGES

    routes = _routes(api)
    assert len(routes) >= 70  # every area's routes are mounted (74 when written)
    for method, path in routes:
        r = api.client.request(method, _concrete(path), follow_redirects=False)
        if path in ANONYMOUS:
            assert r.status_code == 200, (method, path)
        elif path in PAGES:
            assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", (path, r.status_code)
        elif path in STUDIO_PUBLIC:  # a sign-in form, a sign-out that ends nothing, or a 404: never project data
            assert r.status_code in (200, 204, 401, 404), (method, path, r.status_code)
            assert "served" not in r.text  # the project's name
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
            error = r.json()["error"]
            if INGEST_ROUTES.match(path):  # Edge Impulse's shape: {"success": false, "error": "..."}
                assert r.json()["success"] is False and "x-api-key" in error
            else:
                assert error["code"] == "unauthorized"


def test_an_ingestion_key_opens_only_the_ingestion_routes(api: Api) -> None:
    from crisp_eml.studio import PAGES

    key = {"x-api-key": api.ingest_key}
    for method, path in _routes(api):
        if path in ANONYMOUS or path in STUDIO_PUBLIC or INGEST_ROUTES.match(path):
            continue
        if path in PAGES:  # the Studio needs a session: a key is not one
            r = api.client.request(method, path, headers=key, follow_redirects=False)
            assert r.status_code == 303, path
            continue
        r = api.client.request(method, _concrete(path), headers=key)
        assert r.status_code in (401, 403), (method, path, r.status_code)

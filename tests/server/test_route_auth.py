"""Deny by default: every route the app mounts, except /health, refuses a request without credentials (401),
and every member-only route refuses an ingestion key. Routes are enumerated from the app itself, so a route
added later without an auth dependency fails here."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from server_helpers import Api

ANONYMOUS = {"/health"}
#: routes that accept an ingestion key (x-api-key) as well as a member token: they may only add samples
INGEST_ROUTES = re.compile(r"^/api/(training|testing|anomaly|split|\{[^}]+\})/(files|data)$")


def _routes(api: Api) -> list[tuple[str, str]]:
    out = []
    for r in api.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(r, APIRoute):
            out += [(m, r.path) for m in sorted(r.methods - {"HEAD", "OPTIONS"})]
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_but_health_needs_credentials(api: Api) -> None:
    routes = _routes(api)
    assert len(routes) >= 2
    for method, path in routes:
        r = api.client.request(method, _concrete(path))
        if path in ANONYMOUS:
            assert r.status_code == 200, (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "unauthorized"


def test_an_ingestion_key_opens_only_the_ingestion_routes(api: Api) -> None:
    key = {"x-api-key": api.ingest_key}
    for method, path in _routes(api):
        if path in ANONYMOUS or INGEST_ROUTES.match(path):
            continue
        r = api.client.request(method, _concrete(path), headers=key)
        assert r.status_code in (401, 403), (method, path, r.status_code)

"""``eml dsp serve``: one built-in processing block served over Edge Impulse's DSP-block HTTP contract.

A tiny stateless app, separate from the project server (no project, no tokens, no state): ``GET /`` (a text
line naming the block), ``GET /parameters`` (its ``parameters.json``), ``POST /run`` and ``POST /batch`` (features;
see :mod:`crisp_eml.dsp.ei_service`). As Edge Impulse's block servers do, a failed ``/run`` or ``/batch`` answers
HTTP 200 ``{"success": false, "error": "..."}`` and any other path 404 ``Invalid path <path>``. Loopback by
default; Ctrl-C (SIGINT) or SIGTERM stops it with status 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from crisp_eml.core.errors import EmlError
from crisp_eml.dsp import ei_service
from crisp_eml.dsp.ei_contract import DEFAULT_PORT, block_meta

__all__ = ["DEFAULT_PORT", "make_app", "serve_block"]


def _json(payload: Any) -> Response:
    # json.dumps as Edge Impulse's servers (NaN written as NaN, not refused)
    return Response(json.dumps(payload), media_type="application/json")


def _not_found(request: Request) -> PlainTextResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return PlainTextResponse(f"Invalid path {path}\n", status_code=404)


def make_app(block_type: str) -> FastAPI:
    """The app serving ``block_type`` (one of :data:`crisp_eml.dsp.ei_contract.SERVED_BLOCKS`)."""
    block_meta(block_type)  # an unknown block fails here, before anything listens
    app = FastAPI(title=f"crisp-eml DSP block {block_type}", docs_url=None, redoc_url=None, openapi_url=None)

    async def features(request: Request, answer: Callable[[str, Any], dict[str, Any]]) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
            return _json(answer(block_type, body))
        except EmlError as exc:
            return _json({"success": False, "error": str(exc)})
        except Exception as exc:  # the contract: any failure of a request is HTTP 200, success false
            return _json({"success": False, "error": f"{type(exc).__name__}: {exc}"})

    @app.get("/", response_class=PlainTextResponse)
    def root() -> str:
        return ei_service.title_line(block_type)

    @app.get("/parameters")
    def parameters() -> Response:
        return _json(ei_service.parameters(block_type))

    @app.post("/run")
    async def run(request: Request) -> Response:
        return await features(request, ei_service.run)

    @app.post("/batch")
    async def batch(request: Request) -> Response:
        return await features(request, ei_service.batch)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    def other(request: Request, path: str) -> PlainTextResponse:
        return _not_found(request)

    return app


def serve_block(block_type: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``block_type`` until SIGINT/SIGTERM (then return: the caller exits 0)."""
    import uvicorn

    from crisp_eml.core.errors import InputError

    if not 0 <= port <= 65535:
        raise InputError(f"must be between 0 and 65535, got {port}", field="--port")
    app = make_app(block_type)
    if on_ready is not None:
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{port}")
    from crisp_eml.server.serve import _exit_cleanly_on_stop_signals

    with _exit_cleanly_on_stop_signals():
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False)

"""Every error the API returns, as ``{"error": {"code", "message", "field"}}`` with the right HTTP status.

The use cases raise :class:`~crisp_eml.core.errors.EmlError` subclasses; this module is the one place that
maps them (and FastAPI's own validation errors) to statuses. Anything else is a bug: it is logged with its
traceback on the server and answered with a 500 that names no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crisp_eml.core.errors import EmlError

log = logging.getLogger("crisp_eml.server")

#: an EmlError's code (core/errors.py) -> HTTP status
STATUS: dict[str, int] = {"bad_request": 400, "not_found": 404, "conflict": 409, "forbidden": 403,
                          "verification_failed": 422, "tool_missing": 503, "project_unavailable": 503}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              406: "not_acceptable", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
              422: "unprocessable", 429: "too_many_requests"}


class ApiError(Exception):
    """An error raised by the server layer itself (authentication, limits, content types)."""

    def __init__(self, status: int, message: str, *, code: str | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or HTTP_CODES.get(status, "error")
        self.field, self.headers = field, headers


def body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def eml_status(exc: EmlError) -> tuple[int, str]:
    return STATUS.get(exc.code, 400), exc.code


def respond(exc: Exception) -> JSONResponse:
    """The JSON response for any exception a route raised."""
    if isinstance(exc, ApiError):
        return JSONResponse(body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers)
    if isinstance(exc, EmlError):
        status, code = eml_status(exc)
        return JSONResponse(body(code, str(exc), getattr(exc, "field", None)), status_code=status)
    log.exception("internal error", exc_info=exc)
    return JSONResponse(body("internal", "internal server error (logged on the server)"), status_code=500)


def _validation(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid request"))
    return JSONResponse(body("unprocessable", f"{field}: {msg}" if field else msg, field), status_code=422)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the JSON error shape."""

    async def api_error(_r: Request, exc: Exception) -> JSONResponse:
        return respond(exc)

    async def http_error(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    async def validation(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation(exc)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(EmlError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(Exception, api_error)

"""Edge Impulse compatible ingestion service, at the server root where Edge Impulse's lives.

A device or script that uploads to Edge Impulse (the ``edgeimpulse`` SDK, ``edge-impulse-uploader``, curl)
only changes the host (``EI_INGESTION_ENDPOINT=http://127.0.0.1:4800``):

- ``POST /api/{training|testing|anomaly|split}/files``: multipart, files in the field ``data`` (at most
  ``max_files``, 1,000 by default, per request);
- ``POST /api/{training|testing|anomaly}/data``: one file as the raw body, its format from the
  ``Content-Type`` (``application/json`` or ``application/cbor`` acquisition format, ``text/csv``,
  ``audio/wav``, ``image/png``/``image/jpeg``); its name from ``x-file-name``.

Headers: ``x-api-key`` (an ingestion key or member token), ``x-label``, ``x-no-label``, ``x-file-name``,
``x-disallow-duplicates``, ``x-add-date-id``, ``x-metadata`` (a JSON object), ``x-upload-source``. Flags take
``1/true/yes`` or ``0/false/no``. The semantics (duplicates kept unless refused, labels from the file name,
``anomaly`` stored as ``testing`` with the metadata ``ei_category=anomaly``, signed files checked with the
project's HMAC key) are the use case's: :mod:`crisp_eml.workspace.ingest_upload`.

Responses have Edge Impulse's shape: ``{"success": true, "files": [{"success": true, "sampleId", "fileName"}]}``
with a failed file as ``{"success": false, "fileName", "error"}`` (the others are still ingested), and a
refused request as ``{"success": false, "error"}`` with its status: 400 bad headers, file names (NUL,
control characters; folders in a name are dropped, never used) or multipart; 401 wrong key; 403 a member
who may not ingest; 404 an unknown category; 413 a file over ``max_file_bytes`` (the whole request is
refused, nothing is ingested; Edge Impulse refuses oversized requests the same way) or more than
``max_files`` files; 415 a body that is not multipart (``/files``) or an unknown content type (``/data``).
On ``/data`` the single file failing is the request failing: 400, or 409 for a refused duplicate.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from crisp_eml.core.errors import EmlError, InputError, NotFoundError
from crisp_eml.server import errors
from crisp_eml.server.auth import context, ingest_project
from crisp_eml.server.upload_stream import media_type, receive_body, receive_multipart
from crisp_eml.store.project import Project
from crisp_eml.workspace.ingest_upload import (
    CATEGORIES,
    FORMAT_SUFFIX,
    Upload,
    UploadOptions,
    clean_name,
    ingest_uploads,
    require_ingest,
    upload_options,
)

#: Content-Type of a raw body or a file part -> the format it is parsed as
CONTENT_TYPES = {
    "application/json": "ei-json", "application/cbor": "ei-cbor", "text/csv": "csv", "application/csv": "csv",
    "audio/wav": "wav", "audio/wave": "wav", "audio/x-wav": "wav", "audio/vnd.wave": "wav",
    "image/png": "image", "image/jpeg": "image", "image/jpg": "image",
}
IMAGE_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg"}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _ei_error(exc: Exception) -> Response:
    """Any error of this router in Edge Impulse's shape, with the status the API gives it."""
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path", "header"))
        return JSONResponse({"success": False, "error": f"{where}: {first.get('msg', 'invalid request')}"},
                            status_code=422)
    if isinstance(exc, StarletteHTTPException):
        return JSONResponse({"success": False, "error": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
    resp = errors.respond(exc)  # ApiError, EmlError
    message = json.loads(bytes(resp.body))["error"]["message"]
    headers = {k: v for k, v in resp.headers.items() if k.lower() in ("www-authenticate", "retry-after")}
    return JSONResponse({"success": False, "error": message}, status_code=resp.status_code, headers=headers)


class _EiRoute(APIRoute):
    """Routes whose errors (authentication included) come in Edge Impulse's ``{"success": false}`` shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def ei_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (errors.ApiError, EmlError, RequestValidationError, StarletteHTTPException) as exc:
                return _ei_error(exc)  # anything else is the app's: a limit's 413, or a logged 500

        return ei_handler


router = APIRouter(tags=["ingestion"], route_class=_EiRoute)


def _flag(value: str | None, name: str) -> bool:
    v = (value or "").strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise InputError(f"must be 1/true/yes or 0/false/no, got {v[:20]!r}", field=name)


def _options(category: str, label: str | None, no_label: str | None, disallow: str | None, date_id: str | None,
             metadata: str | None, source: str | None) -> UploadOptions:
    if category not in CATEGORIES:
        raise NotFoundError(f"no ingestion endpoint for category {category[:40]!r}: use one of "
                            f"{', '.join(CATEGORIES)}")
    return upload_options(category, label=label or None, no_label=_flag(no_label, "x-no-label"),
                          metadata=metadata, allow_duplicates=not _flag(disallow, "x-disallow-duplicates"),
                          add_date_id=_flag(date_id, "x-add-date-id"), upload_source=source)


def _format(content_type: str | None) -> str | None:
    return CONTENT_TYPES.get(media_type(content_type))


@router.post("/api/{category}/files")
async def upload_files(
    request: Request, category: str, project: Project = Depends(ingest_project),
    x_label: str | None = Header(None), x_no_label: str | None = Header(None),
    x_disallow_duplicates: str | None = Header(None), x_add_date_id: str | None = Header(None),
    x_metadata: str | None = Header(None), x_upload_source: str | None = Header(None),
) -> dict[str, Any]:
    """Upload files (multipart field ``data``) as samples of ``category`` (training, testing, anomaly, split)."""
    opts = _options(category, x_label, x_no_label, x_disallow_duplicates, x_add_date_id, x_metadata,
                    x_upload_source)
    await run_in_threadpool(require_ingest, project)
    settings = context(request).settings
    with tempfile.TemporaryDirectory(prefix="eml-receive-") as tmp:
        got = await receive_multipart(request, Path(tmp), max_files=settings.max_files,
                                      max_file_bytes=settings.max_file_bytes)
        files = [f for f in got.files if f.field == "data"]
        if not files:
            raise InputError("no files: send them as the multipart field 'data'", field="data")
        # an unknown extension: the part's own content type, when it names a format, decides
        uploads = [Upload(f.filename, f.path, None if f.path.suffix != ".bin" else _format(f.content_type))
                   for f in files]
        for f in files:
            clean_name(f.filename)  # a bad name refuses the request before anything is ingested
        report = await run_in_threadpool(ingest_uploads, project, uploads, opts,
                                         max_file_bytes=settings.max_file_bytes)
    return report.to_ei()


@router.post("/api/{category}/data")
async def upload_data(
    request: Request, category: str, project: Project = Depends(ingest_project),
    x_file_name: str | None = Header(None), x_label: str | None = Header(None),
    x_no_label: str | None = Header(None), x_disallow_duplicates: str | None = Header(None),
    x_add_date_id: str | None = Header(None), x_metadata: str | None = Header(None),
    x_upload_source: str | None = Header(None),
) -> Response:
    """Upload one file as the raw body (JSON/CBOR acquisition format, CSV, WAV or image by Content-Type)."""
    if category == "split":
        raise NotFoundError("no raw-body ingestion for 'split': use /api/split/files, or training/testing/anomaly")
    opts = _options(category, x_label, x_no_label, x_disallow_duplicates, x_add_date_id, x_metadata,
                    x_upload_source)
    ctype = media_type(request.headers.get("content-type"))
    fmt = CONTENT_TYPES.get(ctype)
    if fmt is None:
        raise errors.ApiError(415, f"unsupported Content-Type {ctype[:60] or '(none)'!r}: send one of "
                                   f"{', '.join(sorted(CONTENT_TYPES))}")
    name = clean_name(x_file_name, "x-file-name") if x_file_name is not None else None
    if name is None:  # no name to take a label from; a date id keeps the generated names apart
        opts = dataclasses.replace(opts, infer_label=False, add_date_id=True)
        name = "sample" + IMAGE_SUFFIX.get(ctype, FORMAT_SUFFIX[fmt])
    await run_in_threadpool(require_ingest, project)
    settings = context(request).settings
    with tempfile.TemporaryDirectory(prefix="eml-receive-") as tmp:
        path = Path(tmp) / f"body{IMAGE_SUFFIX.get(ctype, FORMAT_SUFFIX[fmt])}"
        if await receive_body(request, path, max_bytes=settings.max_file_bytes) == 0:
            raise InputError("the request body is empty", field="body")
        report = await run_in_threadpool(ingest_uploads, project, [Upload(name, path, fmt)], opts,
                                         max_file_bytes=settings.max_file_bytes)
    result = report.results[0]
    if result.sample is None:
        status = 409 if result.error_kind == "ConflictError" else 400
        return JSONResponse({"success": False, "error": result.error, "files": [result.to_ei()]},
                            status_code=status)
    return JSONResponse(report.to_ei())

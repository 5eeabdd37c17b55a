"""``POST /api/v1/samples``: members upload sample files, as ``eml ingest`` adds them from disk.

A multipart body with the files in the field ``files`` and, optionally, the form fields ``label`` (default:
from each file name, as ``eml ingest``), ``category`` (``training``, ``testing`` or ``split``, the default),
``metadata`` (a JSON object stored on every sample) and ``allow_duplicates`` (``true`` keeps a copy of
content the project already has; by default it fails that file, as ``eml ingest`` does). Same use case as the
Edge Impulse compatible routes (:mod:`crisp_eml.workspace.ingest_upload`); the answer is the API's own:
``{"ingested", "failed", "samples": [...], "failures": [{"file_name", "reason", "error"}]}``, 200 even when
some files failed (each failure is listed; the others are stored). Limits and refusals as on
``/api/{category}/files``: 413 for a file over the per-file limit or too many files, 415 for a body that is
not multipart, 400 for a bad field or file name, 403 for a member who may not ingest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from crisp_eml.core.errors import InputError
from crisp_eml.server.auth import context, member_project
from crisp_eml.server.upload_stream import receive_multipart
from crisp_eml.store.project import Project
from crisp_eml.workspace.ingest_upload import Upload, clean_name, ingest_uploads, require_ingest, upload_options

router = APIRouter(tags=["samples"])
FIELDS = ("files", "label", "category", "metadata", "allow_duplicates")


def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        return v in ("1", "true", "yes", "on")
    raise InputError(f"must be true or false, got {v[:20]!r}", field=name)


@router.post("/samples")
async def upload_samples(request: Request, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Upload sample files (multipart field ``files``; form fields label, category, metadata, allow_duplicates)."""
    await run_in_threadpool(require_ingest, project)
    settings = context(request).settings
    with tempfile.TemporaryDirectory(prefix="eml-receive-") as tmp:
        got = await receive_multipart(request, Path(tmp), max_files=settings.max_files,
                                      max_file_bytes=settings.max_file_bytes)
        unknown = sorted(set(got.fields) - set(FIELDS) | {f.field for f in got.files} - {"files"})
        if unknown:
            raise InputError(f"unknown form field(s) {', '.join(repr(u[:40]) for u in unknown)}; expected "
                             f"{', '.join(FIELDS)}", field=unknown[0][:40])
        if not got.files:
            raise InputError("no files: send them as the multipart field 'files'", field="files")
        options = upload_options(got.fields.get("category", "split").strip() or "split",
                                 label=got.fields.get("label") or None, metadata=got.fields.get("metadata"),
                                 allow_duplicates=_bool(got.fields.get("allow_duplicates", ""), "allow_duplicates"))
        for f in got.files:
            clean_name(f.filename)  # a bad name refuses the request before anything is ingested
        report = await run_in_threadpool(ingest_uploads, project, [Upload(f.filename, f.path) for f in got.files],
                                         options, max_file_bytes=settings.max_file_bytes)
    return report.to_dict()

"""Downloads the Studio offers that no other route serves: the C library of a compile result as a .zip.

The signed bundle has its own download (``GET /bundles/{id}/download`` in :mod:`.artifacts`); a compiled library
lives in a folder on the server, so it is zipped on request, and only while it is still the library the compile
recorded (see :mod:`crisp_eml.workspace.library_zip`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["downloads"])

ResultId = Annotated[int, Path(ge=1, le=2**62, description="Compile result id (its audit entry number).")]


@router.get("/compiles/{result_id}/library.zip", response_class=Response,
            responses={200: {"content": {"application/zip": {}}, "description": "The C library as a .zip"}})
def library_download(result_id: ResultId, project: Project = Depends(member_project)) -> Response:
    """The C library that compile ``result_id`` wrote (sources, headers, build files, MANIFEST.json) as a .zip;
    404 when its folder is gone, 409 when its files changed since the compile (their sha256 is checked)."""
    from crisp_eml.workspace.library_zip import library_zip

    z = library_zip(project, result_id)
    return Response(z.data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{z.filename}"'})

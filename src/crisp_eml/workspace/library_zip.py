"""Use case: the C library of a stored compile result as a .zip (the Studio's "download the C library").

``eml compile`` writes the library to a folder (``out_dir`` of its ``compiler.compile`` audit entry; a compile job
run by the server writes into the job's folder) and records the digest of its sources. The library is not kept in
the blob store, so this module reads that folder back and zips the files its ``MANIFEST.json`` lists, but only
while they still hash to the ``sources_sha256`` the audit trail recorded: a folder that is gone is a 404, one that
changed since (edited, or replaced by a later compile into the same folder) a 409, each telling the member to
compile again. Test vectors (``tests/``) are not sources and stay out of the zip.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from crisp_eml.core.errors import ConflictError, NotFoundError
from crisp_eml.core.library_digest import sources_sha256
from crisp_eml.store.project import Project
from crisp_eml.workspace.results import get_result

MANIFEST = "MANIFEST.json"
MAX_LIBRARY_BYTES = 64 << 20  # a generated library is kilobytes to a few MiB (weights as C arrays)
MAX_FILES = 1000
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the same library always gives the same zip bytes


@dataclass(frozen=True)
class LibraryZip:
    filename: str  # e.g. motion-c-library.zip
    data: bytes
    files: list[str]  # paths inside the zip, e.g. motion/src/motion.c


def _changed(result_id: int, lib: str, folder: Path, why: str) -> ConflictError:
    return ConflictError(f"compile #{result_id} ({lib}): the library in {folder} {why}, so it is not the library "
                         "that compile wrote; compile the model again")


def _sources(folder: Path, manifest: dict[str, object], result_id: int, lib: str) -> dict[str, bytes]:
    """The library's files that MANIFEST.json lists (but itself), read from ``folder``, by relative path."""
    listed = manifest.get("files")
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed) or len(listed) > MAX_FILES:
        raise _changed(result_id, lib, folder, "has a MANIFEST.json without a valid 'files' list")
    out: dict[str, bytes] = {}
    total = 0
    for rel in listed:
        p = PurePosixPath(rel)
        if rel == MANIFEST:
            continue
        if p.is_absolute() or ".." in p.parts or "\\" in rel or not p.parts:
            raise _changed(result_id, lib, folder, f"lists a file outside the library ({rel!r})")
        try:
            data = (folder / p).read_bytes()
        except OSError as exc:
            raise _changed(result_id, lib, folder, f"lacks {rel}") from exc
        total += len(data)
        if total > MAX_LIBRARY_BYTES:
            raise ConflictError(f"compile #{result_id} ({lib}): the library is larger than {MAX_LIBRARY_BYTES} "
                                "bytes; copy it from the server instead")
        out[rel] = data
    return out


def library_zip(project: Project, result_id: int) -> LibraryZip:
    """The library that compile result ``result_id`` wrote, as a .zip with one top folder named after it.

    NotFoundError: no such compile result, or its folder is gone; ConflictError: its files changed since."""
    info = get_result(project, "compile", result_id)
    lib = _SAFE.sub("_", str(info.get("library") or "")).strip("._") or f"library-{result_id}"
    folder = Path(str(info.get("out_dir") or ""))
    want = str(info.get("sources_sha256") or "")
    try:
        head = (folder / MANIFEST).read_bytes() if info.get("out_dir") else None
    except OSError:
        head = None
    if head is None:
        raise NotFoundError(f"compile #{result_id} ({lib}): its library folder {folder} is no longer on the "
                            "server's disk; compile the model again")
    try:
        manifest = json.loads(head)
    except ValueError as exc:
        raise _changed(result_id, lib, folder, "has an unreadable MANIFEST.json") from exc
    if not isinstance(manifest, dict) or manifest.get("sources_sha256") != want:
        raise _changed(result_id, lib, folder, "has another MANIFEST.json (another sources digest)")
    files = _sources(folder, manifest, result_id, lib)
    if sources_sha256(files) != want:
        raise _changed(result_id, lib, folder, "was edited since (its sources no longer hash to the sha256 the "
                                               "audit trail recorded)")
    buf = io.BytesIO()
    names: list[str] = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, data in sorted({**files, MANIFEST: head}.items()):
            entry = zipfile.ZipInfo(f"{lib}/{rel}", date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            z.writestr(entry, data)
            names.append(entry.filename)
    return LibraryZip(f"{lib}-c-library.zip", buf.getvalue(), names)

"""Content-addressed blob store (sha256) over fsspec, so a local folder or ``s3://`` both work.

Writes are atomic: a blob is written to a temporary name and renamed to its hash, so a crash never
leaves a blob whose content does not match its name. A blob written but never referenced (a crash
between the blob write and the metadata commit) is an orphan, found and removed by :meth:`gc`.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import fsspec

from crisp_eml.core.errors import NotFoundError, ProjectError


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs named by the sha256 of their content, fanned out as ``ab/cdef...``."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url.rstrip("/")
        try:
            fs, path = fsspec.core.url_to_fs(self.url, **storage_options)
        except (ValueError, ImportError) as exc:  # unknown protocol, missing fsspec backend
            raise ProjectError(f"blob store {url}: unusable URL: {exc}") from exc
        self.fs = fs
        self.root = path
        self._local = getattr(fs, "protocol", None) in ("file", ("file", "local"), "local") or (
            isinstance(fs.protocol, tuple) and "file" in fs.protocol
        )
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"blob store {url}: cannot create: {exc}") from exc

    def path(self, digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise NotFoundError(f"not a sha256 blob name: {digest!r}")
        return f"{self.root}/{digest[:2]}/{digest[2:]}"

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; storing the same bytes twice is free."""
        digest = sha256(data)
        target = self.path(digest)
        if self.fs.exists(target):
            return digest
        parent = f"{self.root}/{digest[:2]}"
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        if self._local:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        else:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, target)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            data: bytes = self.fs.cat_file(self.path(digest))
        except FileNotFoundError as exc:
            raise NotFoundError(f"blob {digest} is missing from {self.url}") from exc
        return data

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self.path(digest)))

    def verify(self, digest: str) -> bool:
        """True when the blob exists and its content still hashes to its name."""
        try:
            return sha256(self.get(digest)) == digest
        except NotFoundError:
            return False

    def delete(self, digest: str) -> None:
        p = self.path(digest)
        if self.fs.exists(p):
            self.fs.rm(p)

    def __iter__(self) -> Iterator[str]:
        if not self.fs.exists(self.root):
            return
        for p in self.fs.find(self.root):
            parts = str(p).rstrip("/").split("/")
            if len(parts) >= 2 and not parts[-1].startswith(".tmp-"):
                name = parts[-2] + parts[-1]
                if len(name) == 64:
                    yield name

    def gc(self, referenced: Iterable[str]) -> list[str]:
        """Delete blobs not in ``referenced`` (and stale temp files); return the deleted names."""
        keep = set(referenced)
        removed = [d for d in self if d not in keep]
        for d in removed:
            self.delete(d)
        for p in self.fs.find(self.root):
            if str(p).rsplit("/", 1)[-1].startswith(".tmp-"):
                self.fs.rm(p)
        return removed

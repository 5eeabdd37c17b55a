"""Content-addressed blob store (sha256) over fsspec, so a local folder or ``s3://`` both work.

Writes are atomic: a blob is written to a temporary name (``.tmp-*``) and renamed to its hash, so a
crash never leaves a blob whose content does not match its name. Every writer stores through
:meth:`BlobStore.put`, which also *refreshes the age* of a blob that already exists: a new reference to an
old blob makes it young again, so a garbage collector that only takes blobs older than its grace period
never takes a blob a writer has just (re)stored.

A blob written but never referenced (a crash between the blob write and the metadata commit) is an
orphan. Deciding what is an orphan needs the metadata database, so collection lives in the use case
``workspace.gc_blobs``; this module gives it the safe primitives: a listing with ages, an atomic
:meth:`move_aside` to a trash name (``.gc-*``; a writer storing the blob afterwards writes a fresh copy),
:meth:`restore` and :meth:`discard`. A reader that finds a blob missing while it sits in the trash (a gc
killed between the two steps) moves it back (:meth:`recover`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from crisp_eml.core.errors import NotFoundError, ProjectError

TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".gc-"
_PUT_ATTEMPTS = 5  # a temporary file removed under a write (an old gc) is rewritten this often
_DIGEST = re.compile(r"[0-9a-f]{64}")
_TRASH_NAME = re.compile(r"\.gc-([0-9a-f]{62})-[0-9a-f]{32}")  # what move_aside names a blob in the trash


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class BlobFile:
    """One file under the store: a blob (``digest`` set), a temporary file or a trash file."""

    path: str
    mtime: float  # seconds since the epoch; 0.0 when the backend does not say
    digest: str | None = None


def _mtime(info: dict[str, Any]) -> float:
    m: Any = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("created")
    if hasattr(m, "timestamp"):
        return float(m.timestamp())
    try:
        return float(m or 0.0)
    except (TypeError, ValueError):
        return 0.0


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
        self._local = isinstance(fs, LocalFileSystem)
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"blob store {url}: cannot create: {exc}") from exc

    @property
    def local(self) -> bool:
        """True for a local folder: renames are atomic and ages can be refreshed in place."""
        return bool(self._local)

    def path(self, digest: str) -> str:
        if not _DIGEST.fullmatch(digest):
            raise NotFoundError(f"not a sha256 blob name: {digest!r}")
        return f"{self.root}/{digest[:2]}/{digest[2:]}"

    # -- writing --------------------------------------------------------------------------------
    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; storing the same bytes again only refreshes its age.

        Safe against a concurrent gc: when the blob exists its modification time is set to now (a gc
        taking only old blobs leaves it alone); if it vanishes in between, or a gc moved it aside, it is
        written again. On a remote store (no in-place touch) the blob is always rewritten.
        """
        digest = sha256(data)
        if not self.touch(digest):
            self._write(digest, self.path(digest), data)
        return digest

    def touch(self, digest: str) -> bool:
        """Refresh the age of an existing blob, as storing its bytes again would; False when that cannot be
        done here (missing, moved aside by a gc, not ours, or a remote store): the caller stores the bytes."""
        if not self._local:
            return False
        try:
            os.utime(self.path(digest))
        except (FileNotFoundError, PermissionError):
            return False
        return True

    def _write(self, digest: str, target: str, data: bytes) -> None:
        parent = f"{self.root}/{digest[:2]}"
        for attempt in range(_PUT_ATTEMPTS):
            self.fs.makedirs(parent, exist_ok=True)
            tmp = f"{parent}/{TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                if self._local:
                    with open(tmp, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, target)
                else:
                    self.fs.pipe_file(tmp, data)
                    self.fs.mv(tmp, target)
                return
            except FileNotFoundError:
                # the temporary file or its folder was removed under us (another tool, an old gc): retry
                if attempt == _PUT_ATTEMPTS - 1:
                    raise

    # -- reading --------------------------------------------------------------------------------
    def get(self, digest: str) -> bytes:
        for attempt in range(2):
            try:
                data: bytes = self.fs.cat_file(self.path(digest))
                return data
            except FileNotFoundError as exc:
                if attempt or not self.recover(digest):
                    raise NotFoundError(f"blob {digest} is missing from {self.url}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self.path(digest)))

    def verify(self, digest: str) -> bool:
        """True when the blob exists and its content still hashes to its name."""
        try:
            return sha256(self.get(digest)) == digest
        except NotFoundError:
            return False

    def delete(self, digest: str) -> None:
        """Remove a blob outright (tests, repair). Collection of orphans goes through ``gc_blobs``."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path(digest))

    def __iter__(self) -> Iterator[str]:
        for f in self.files():
            if f.digest is not None:
                yield f.digest

    def files(self) -> Iterator[BlobFile]:
        """Every blob, temporary and trash file with its modification time (one listing)."""
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return
        for p, info in found.items():
            folder, _, name = str(p).rpartition("/")
            digest = folder.rpartition("/")[2] + name  # a blob is <root>/ab/cdef...: its name is its digest
            yield BlobFile(str(p), _mtime(info), digest if _DIGEST.fullmatch(digest) else None)

    def age(self, path: str) -> float | None:
        """Seconds since ``path`` was last written or touched; None when it is gone."""
        try:
            m = _mtime(self.fs.info(path))
        except FileNotFoundError:
            return None
        return time.time() - m

    def stamp(self, path: str) -> int | None:
        """The exact modification time of a local file (ns), to tell whether anyone touched it since."""
        if not self._local:
            return None
        try:
            return os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return None

    # -- collection primitives (used by workspace.gc_blobs) -------------------------------------
    def move_aside(self, digest: str) -> str | None:
        """Atomically rename a local blob to a trash name; None when it is already gone.

        From then on a writer storing the same bytes writes a fresh copy, so the trash copy can be
        inspected (its age says whether a writer touched it before the move) and deleted or restored.
        """
        if not self._local:
            raise ProjectError("move_aside needs a local blob store")
        target = self.path(digest)
        trash = f"{self.root}/{digest[:2]}/{TRASH_PREFIX}{digest[2:]}-{uuid.uuid4().hex}"
        try:
            os.rename(target, trash)
        except FileNotFoundError:
            return None
        return trash

    def restore(self, trash: str, digest: str) -> None:
        """Put a trash copy back (made young), unless a writer stored a fresh copy meanwhile."""
        target = self.path(digest)
        with contextlib.suppress(FileNotFoundError):
            os.utime(trash)
            try:
                os.link(trash, target)  # never replaces a fresh copy
            except FileExistsError:
                pass
            except OSError:  # no hard links here: rename, unless a fresh copy is already in place
                if not os.path.exists(target):
                    os.replace(trash, target)
                    return
            os.unlink(trash)

    def discard(self, path: str) -> bool:
        """Delete a trash or temporary file; False when it was already gone."""
        try:
            if self._local:
                os.unlink(path)
            else:
                self.fs.rm(path)
        except FileNotFoundError:
            return False
        return True

    def recover(self, digest: str) -> bool:
        """Move back a blob left in the trash (a gc stopped mid-way, or racing this read); True if done."""
        if not self._local:
            return False
        parent = os.path.dirname(self.path(digest))
        prefix = f"{TRASH_PREFIX}{digest[2:]}-"
        try:
            names = [n for n in os.listdir(parent) if n.startswith(prefix)]
        except FileNotFoundError:
            return False
        for n in names:
            self.restore(f"{parent}/{n}", digest)
        return os.path.exists(self.path(digest))

    def trash(self) -> Iterable[tuple[str, str]]:
        """(trash path, digest) of every blob left in the trash."""
        for f in self.files():
            folder, _, name = f.path.rpartition("/")
            if m := _TRASH_NAME.fullmatch(name):
                yield f.path, folder.rpartition("/")[2] + m[1]

    def gc(self, referenced: Iterable[str]) -> list[str]:
        """Delete every blob not in ``referenced``, for a store no one else writes to at the same time.

        Projects collect through ``workspace.gc_blobs``, which is safe against concurrent writers.
        """
        keep = set(referenced)
        removed = []
        for d in [d for d in self if d not in keep]:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self.path(d))
                removed.append(d)
        return removed

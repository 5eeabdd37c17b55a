"""Per-process journal of blobs written ahead of their metadata commit, so a killed writer's orphans go fast.

A writer that stores blobs well before it commits the rows naming them (ingest prefetches a few files)
appends ``<digest> <mtime_ns>`` here right after each :meth:`BlobStore.put`. The journal is a file in the
project's state folder (``.eml/pending-blobs/<pid>-<token>.log``) on which the writing process holds an
exclusive ``flock`` for as long as it lives. The kernel drops that lock when the process dies, however it
dies (SIGKILL included), so ``gc`` can tell a dead writer's journal from a live one without trusting pids.

For a dead writer's journal, a blob that nothing references and whose modification time is still exactly
the one recorded (no one stored it since) is an orphan of that writer: gc removes it without waiting for
the grace period, then deletes the journal. Entries are only ever a hint to collect *sooner*; they never
protect a blob, so a lost or rotated journal only makes orphans wait for the grace period.

The journal is host-local (a gc on another machine sees none) and disabled where ``fcntl`` is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no journal, orphans wait for the grace period
    fcntl = None  # type: ignore[assignment]

JOURNAL_DIR = "pending-blobs"
ROTATE_LINES = 10_000  # a long-lived writer starts a fresh journal this often (the old one is dropped)


class BlobJournal:
    """The journal of this process for one project; thread safe."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._lines = 0
        self._pid = 0
        self._stamps: dict[str, int] = {}

    def wrote(self, digest: str, stamp: int | None) -> None:
        """Record that this process stored ``digest`` (whose file now has modification time ``stamp``)."""
        if fcntl is None or stamp is None:
            return
        with self._lock:
            if self._fd is not None and self._pid != os.getpid():  # forked: the parent's journal is not ours
                os.close(self._fd)
                self._fd = self._path = None
            if self._fd is None or self._lines >= ROTATE_LINES:
                self._rotate()
            assert self._fd is not None
            os.write(self._fd, f"{digest} {stamp}\n".encode())
            self._lines += 1
            self._stamps[digest] = stamp

    def stamp_of(self, digest: str) -> int | None:
        """The modification time this process left on ``digest`` when it last stored it, if known."""
        with self._lock:
            return self._stamps.get(digest)

    def _rotate(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new file: never waits
        self._drop()
        self._fd, self._path, self._lines, self._pid = fd, path, 0, os.getpid()
        self._stamps.clear()

    def _drop(self) -> None:
        if self._fd is None or self._path is None or self._pid != os.getpid():
            return
        with contextlib.suppress(OSError):
            self._path.unlink()  # unlinked while still locked: a gc that opened it sees it gone
        os.close(self._fd)
        self._fd = self._path = None

    def close(self) -> None:
        """Drop the journal (at exit: whatever this process wrote is committed or was cleaned up)."""
        with self._lock:
            self._drop()


class _HasStateDir(Protocol):
    @property
    def state_dir(self) -> Path: ...


_journals: weakref.WeakKeyDictionary[Any, BlobJournal] = weakref.WeakKeyDictionary()
_journals_lock = threading.Lock()


def journal_for(project: _HasStateDir) -> BlobJournal:
    """The journal of this open project in this process; dropped when the project object is."""
    with _journals_lock:
        j = _journals.get(project)
        if j is None:
            j = _journals[project] = BlobJournal(project.state_dir / JOURNAL_DIR)
            weakref.finalize(project, j.close)
        return j


@atexit.register
def _close_all() -> None:
    for j in list(_journals.values()):
        j.close()


@contextlib.contextmanager
def dead_writers(state_dir: Path) -> Iterator[dict[str, set[int]]]:
    """Blobs recorded by writers that died: ``{digest: {mtime_ns, ...}}``.

    Each dead journal stays locked by the caller while the block runs and is deleted when it ends without
    error, so two gcs never process the same journal and a crash leaves it for the next one.
    """
    folder = state_dir / JOURNAL_DIR
    held: list[tuple[int, Path]] = []
    found: dict[str, set[int]] = {}
    try:
        names = sorted(folder.glob("*.log")) if fcntl is not None and folder.is_dir() else []
        for path in names:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: its writer is alive
                os.close(fd)
                continue
            if os.fstat(fd).st_nlink == 0:  # its writer dropped it before we got the lock
                os.close(fd)
                continue
            held.append((fd, path))
            with os.fdopen(os.dup(fd), "rb") as fh:
                for line in fh.read().decode(errors="replace").splitlines():
                    parts = line.split()
                    if len(parts) == 2 and len(parts[0]) == 64 and parts[1].isdigit():
                        found.setdefault(parts[0], set()).add(int(parts[1]))
        yield found
        for _, path in held:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        for fd, _ in held:
            os.close(fd)

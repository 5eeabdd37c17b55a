"""Use case ``gc``: delete blobs that nothing in the metadata database references any more, safely.

References are collected generically from *every* table in the live database (reflected, so tables
added by later capabilities count without changes here): every column named ``hash`` or ``*_hash``,
and every JSON column named ``artifacts`` (any 64-hex string anywhere inside it). The audit log is
excluded on purpose: it records history (including removed samples), not live references, and its
``*_hash`` columns are chain hashes, not blobs.

Writers store a blob first and commit the row naming it later, so a gc may run between the two. It is
safe under any interleaving with writers that go through ``BlobStore.put`` (which refreshes the age of a
blob it re-uses) and commit within the grace period (``min_age_s``, default one hour; every command
commits within seconds). Per candidate (unreferenced and older than the grace period, or an orphan of a
writer that died, see ``store.blob_journal``):

1. the blob is renamed aside atomically (a writer storing it from then on writes a fresh copy);
2. the moved copy's age is read again: a writer that touched it before the move made it young, so it is
   moved back;
3. references are re-checked inside a write transaction (``project.session()``: SQLite's write lock),
   so no row naming it can commit in between; a referenced blob is moved back. The ``blob.gc`` audit
   entry is appended in that same transaction and the trash copies are deleted once it commits.

Temporary files (``.tmp-*``) are removed only when older than both the grace period and an hour; a file
vanishing under gc is normal, never an error. Only one gc runs at a time per project. Trash copies left
by a gc that was stopped are moved back by the next gc (and by any reader that misses the blob).
On a remote store (no atomic rename) step 1-2 are replaced by re-reading the blob's age inside the
transaction, which leaves a window of one request: run gc there when no writer runs, or with a grace.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, MetaData, Table, inspect, select

from crisp_eml.core.errors import ConflictError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.store.blob_journal import dead_writers, journal_for
from crisp_eml.store.blobs import TMP_PREFIX
from crisp_eml.store.project import Actor, Project

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: gcs are not serialised
    fcntl = None  # type: ignore[assignment]

EXCLUDED_TABLES = {"audit_log", "alembic_version"}
DEFAULT_GRACE_S = 3600.0  # unreferenced blobs younger than this are kept (a writer may commit them soon)
TMP_MIN_AGE_S = 3600.0  # a temporary file younger than this may be a write in progress
CHUNK = 500  # blobs moved aside and re-checked per write transaction
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class GcReport:
    referenced: int
    removed: list[str]
    kept_young: int
    grace_s: float = DEFAULT_GRACE_S
    temp_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"referenced": self.referenced, "removed": len(self.removed), "removed_blobs": self.removed,
                "kept_young": self.kept_young, "grace_s": self.grace_s, "temp_removed": self.temp_removed}


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if _HEX64.match(value):
            yield value
        elif value[:1] in "{[":
            try:
                yield from _walk(json.loads(value))
            except ValueError:
                return
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v)


def references(conn: Connection, among: Collection[str] | None = None) -> set[str]:
    """Blob hashes the tables (but the audit log) refer to, read on ``conn``; only ``among`` if given."""
    refs: set[str] = set()
    md = MetaData()
    for name in inspect(conn).get_table_names():
        if name in EXCLUDED_TABLES:
            continue
        table = Table(name, md, autoload_with=conn)
        for c in table.columns:
            if c.name == "hash" or c.name.endswith("_hash"):
                query = select(c) if among is None else select(c).where(c.in_(sorted(among)))
            elif c.name == "artifacts":
                query = select(c)
            else:
                continue
            for (v,) in conn.execute(query):
                refs.update(_walk(v))
    return refs if among is None else refs & set(among)


def referenced_blobs(project: Project) -> set[str]:
    """Every blob hash any table (but the audit log) refers to (a snapshot; never waits for writers)."""
    with project.read_session() as s:
        return references(s.connection())


@contextlib.contextmanager
def _only_gc(project: Project) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    project.state_dir.mkdir(exist_ok=True)
    with open(project.state_dir / "gc.lock", "a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise ConflictError("another 'eml data gc' is running on this project; try again when it ends") \
                from exc
        yield


def gc_blobs(project: Project, *, min_age_s: float = DEFAULT_GRACE_S, dry_run: bool = False) -> GcReport:
    """Remove unreferenced blobs older than ``min_age_s`` seconds (and dead writers' orphans); audited."""
    actor = project.require(Permission.INGEST_DATA)
    if not math.isfinite(min_age_s) or min_age_s < 0:
        raise InputError(f"must be a non-negative number of seconds, got {min_age_s!r}", field="min-age")
    store = project.blobs
    with _only_gc(project):
        if not dry_run and store.local:
            for trash, digest in list(store.trash()):  # left by a gc that was stopped mid-way
                store.restore(trash, digest)
        refs = referenced_blobs(project)
        with dead_writers(project.state_dir) as dead:
            now = time.time()
            candidates: list[str] = []
            temps: list[str] = []
            young = 0
            for f in store.files():
                if f.digest is None:
                    if f.path.rpartition("/")[2].startswith(TMP_PREFIX) \
                            and now - f.mtime >= max(min_age_s, TMP_MIN_AGE_S):
                        temps.append(f.path)
                elif f.digest not in refs:
                    if now - f.mtime >= min_age_s or _untouched(project, f.digest, dead):
                        candidates.append(f.digest)
                    else:
                        young += 1
            if dry_run:
                return GcReport(len(refs), sorted(candidates), young, min_age_s, 0)
            removed: list[str] = []
            for i in range(0, len(candidates), CHUNK):
                gone, kept = collect(project, candidates[i:i + CHUNK], min_age_s, dead, actor=actor)
                removed += gone
                young += kept
        temp_removed = sum(store.discard(p) for p in temps)
    return GcReport(len(refs), sorted(removed), young, min_age_s, temp_removed)


def _untouched(project: Project, digest: str, expected: Mapping[str, Collection[int]]) -> bool:
    stamps = expected.get(digest)
    return bool(stamps) and project.blobs.stamp(project.blobs.path(digest)) in stamps  # type: ignore[operator]


def collect(
    project: Project, digests: Iterable[str], grace_s: float, untouched: Mapping[str, Collection[int]],
    *, actor: Actor | None,
) -> tuple[list[str], int]:
    """Remove those of ``digests`` still unreferenced and still old (or untouched since a known write).

    ``untouched`` maps a digest to modification times (ns) a writer that gave the blob up left on it: such
    a blob, if no one stored it since, goes whatever its age. Audited as ``blob.gc`` when ``actor`` is
    given. Returns the removed digests and how many were kept because a writer touched them.
    """
    store = project.blobs
    if not store.local:
        return _collect_remote(project, list(digests), grace_s, actor=actor)
    moved: dict[str, str] = {}
    kept = 0
    for d in digests:
        trash = store.move_aside(d)
        if trash is None:  # gone already (another tool): nothing to do
            continue
        age, stamp = store.age(trash), store.stamp(trash)
        if age is None:  # a reader missed it and moved it back: it stays
            continue
        if age >= grace_s or stamp in untouched.get(d, ()):
            moved[d] = trash
        else:  # stored by a writer before the move: in use
            store.restore(trash, d)
            kept += 1
    if not moved:
        return [], kept
    gone: list[str] = []
    try:
        with project.session() as s:  # the write lock: no row naming these can commit until we decide
            refs = references(s.connection(), among=moved)
            gone = sorted(d for d in moved if d not in refs)
            if gone and actor is not None:
                project.record(s, "blob.gc", {"removed": len(gone), "grace_s": grace_s}, actor=actor)
    except BaseException:
        for d, trash in moved.items():
            store.restore(trash, d)
        raise
    for d, trash in moved.items():
        if d in refs:
            store.restore(trash, d)
        else:
            store.discard(trash)  # the name is free: a writer storing it now writes a fresh copy
    return gone, kept


def _collect_remote(project: Project, digests: list[str], grace_s: float, *, actor: Actor | None,
                    ) -> tuple[list[str], int]:
    store = project.blobs
    gone: list[str] = []
    kept = 0
    with project.session() as s:
        refs = references(s.connection(), among=digests)
        for d in digests:
            age = store.age(store.path(d))
            if d in refs or age is None:
                continue
            if age < grace_s:
                kept += 1
                continue
            if store.discard(store.path(d)):
                gone.append(d)
        if gone and actor is not None:
            project.record(s, "blob.gc", {"removed": len(gone), "grace_s": grace_s}, actor=actor)
    return sorted(gone), kept


def discard_if_unused(project: Project, digests: Iterable[str]) -> list[str]:
    """Remove blobs this process stored for rows it will not commit, if nothing else uses them now.

    Only a blob whose modification time is still the one this process left (no writer stored it since)
    and that no row references is removed; anything else waits for ``gc`` (not audited: nothing that was
    ever referenced goes).
    """
    journal = journal_for(project)
    mine = {d: [s] for d in set(digests) if (s := journal.stamp_of(d)) is not None}
    if not mine or not project.blobs.local:
        return []
    return collect(project, sorted(mine), math.inf, mine, actor=None)[0]

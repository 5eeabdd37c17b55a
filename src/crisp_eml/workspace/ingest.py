"""Use case ``ingest``: turn files and folders into samples, one transaction and audit entry per file.

Each file is read, parsed (pure parsers in ``data.formats``) and its canonical blob written ahead of
time by a small thread pool; then, one file at a time and in order, the raw layer is checked for a
duplicate and the row is added with ``add_sample`` and audited as ``sample.ingest`` in the same
transaction. A bad file is reported and skipped; it leaves neither a row nor a new blob behind. A
process killed mid-batch leaves every committed sample complete (blob written and synced before its row
commits) and, at worst, the few prefetched blobs as orphans, which ``eml data gc`` removes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import ConflictError, EmlError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data.formats import ParsedSample, parse_bytes
from crisp_eml.data.formats.labels import CATEGORY_FOLDERS, infer_label, sample_name
from crisp_eml.data.formats.parsed import SUFFIXES, check_frequency, suffix_of
from crisp_eml.data.samples import add_sample, encode_array
from crisp_eml.data.splits import assign_category
from crisp_eml.store.blobs import sha256
from crisp_eml.store.project import Actor, Project
from crisp_eml.store.tables.data import SampleRow

CATEGORY_CHOICES = ("training", "testing", "split")
PREFETCH = 16  # files read/parsed/blob-written ahead of the database stage
BATCH_FILES = 64  # files per transaction at most ...
BATCH_SECONDS = 0.5  # ... and a commit at least this often, so a kill loses little work
PREFETCH_WORKERS = 3
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class IngestFailure:
    path: str
    reason: str
    error: str  # the error class name: InputError, ConflictError, ...

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "error": self.error}


@dataclass
class IngestReport:
    samples: list[Sample] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)
    skipped: list[IngestFailure] = field(default_factory=list)  # duplicates, with skip_duplicates=True

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingested": len(self.samples), "failed": len(self.failures), "skipped_duplicates": len(self.skipped),
            "samples": [{"id": s.id, "name": s.name, "label": s.label, "category": s.category, "kind": s.kind,
                         "hash": s.hash, "source": s.source} for s in self.samples],
            "failures": [f.to_dict() for f in self.failures],
            "skipped": [f.to_dict() for f in self.skipped],
        }


@dataclass(frozen=True)
class _File:
    path: Path
    relative: PurePath  # below the walked root: used for folder labels
    category_hint: str | None  # from a training/testing folder on the way


def _folder_category(parts: Iterable[str]) -> str | None:
    found = None
    for part in parts:
        found = CATEGORY_FOLDERS.get(part.lower(), found)
    return found


def collect_files(paths: Iterable[Path | str]) -> tuple[list[_File], list[IngestFailure]]:
    """Expand folders recursively (sorted, deterministic; hidden files skipped, unknown extensions skipped
    inside folders) and keep explicitly named files as given."""
    files: list[_File] = []
    missing: list[IngestFailure] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for fn in sorted(filenames):
                    if fn.startswith(".") or suffix_of(fn) not in SUFFIXES:
                        continue
                    full = Path(dirpath) / fn
                    rel = PurePath(os.path.relpath(full, p))
                    cat = _folder_category((p.resolve().name, *rel.parent.parts))
                    files.append(_File(full, rel, cat))
        elif p.is_file():
            files.append(_File(p, PurePath(p.name), _folder_category((p.resolve().parent.name,))))
        else:
            missing.append(IngestFailure(str(p), f"{p}: no such file or folder", "NotFoundError"))
    return files, missing


def ingest_paths(
    project: Project, paths: Iterable[Path | str], *, label: str | None = None, category: str | None = None,
    frequency_hz: float | None = None, hmac_key: str | bytes | None = None, allow_duplicates: bool = False,
    metadata: Mapping[str, Any] | None = None, on_progress: Progress | None = None, test_fraction: float = 0.2,
    skip_duplicates: bool = False,
) -> IngestReport:
    """Ingest every file under ``paths``; failures are collected, never half-stored.

    ``category``: ``training``/``testing`` force it; ``split`` assigns by content hash (80/20 by default);
    ``None`` takes it from a ``training``/``testing`` folder and falls back to ``split``.
    ``skip_duplicates`` reports duplicates as skipped instead of failed (re-running an interrupted batch).
    """
    if category is not None and category not in CATEGORY_CHOICES:
        raise InputError(f"category must be one of {', '.join(CATEGORY_CHOICES)}, got {category!r}",
                         field="category")
    if label is not None and not label.strip():
        raise InputError("label must not be empty", field="label")
    check_frequency(frequency_hz, "--frequency")
    actor = project.require(Permission.INGEST_DATA)
    files, failures = collect_files(paths)
    report = IngestReport(failures=list(failures))
    total = len(files)
    prepare = partial(_prepare, project, frequency_hz=frequency_hz, hmac_key=hmac_key)
    opts = _Options(label, category, allow_duplicates, dict(metadata or {}), test_fraction)
    done = 0

    def finish(f: _File, outcome: Sample | EmlError) -> None:
        nonlocal done
        if isinstance(outcome, Sample):
            report.samples.append(outcome)
        elif isinstance(outcome, _Duplicate) and skip_duplicates:
            report.skipped.append(IngestFailure(str(f.path), str(outcome), "ConflictError"))
        else:
            kind = "ConflictError" if isinstance(outcome, _Duplicate) else type(outcome).__name__
            report.failures.append(IngestFailure(str(f.path), str(outcome), kind))
        done += 1
        if on_progress is not None:
            on_progress(done, total, str(f.path))

    def flush(batch: list[tuple[_File, _Prepared]]) -> None:
        for (f, _), outcome in zip(batch, _commit_batch(project, actor, batch, opts), strict=True):
            finish(f, outcome)
        batch.clear()

    # Reading, parsing and the blob write (its fsync) of the next files overlap the database work,
    # which runs in order, a few files per transaction.
    with ThreadPoolExecutor(max_workers=PREFETCH_WORKERS) as pool:
        pending: deque[tuple[_File, Future[_Prepared]]] = deque()
        queue = iter(files)
        batch: list[tuple[_File, _Prepared]] = []
        opened = time.monotonic()
        try:
            for _ in range(total):
                while len(pending) < PREFETCH and (nxt := next(queue, None)) is not None:
                    pending.append((nxt, pool.submit(prepare, nxt)))
                f, fut = pending.popleft()
                try:
                    batch.append((f, fut.result()))
                except EmlError as exc:
                    finish(f, exc)
                if batch and (len(batch) >= BATCH_FILES or time.monotonic() - opened >= BATCH_SECONDS):
                    flush(batch)
                    opened = time.monotonic()
            flush(batch)
        except BaseException:
            _discard(project, [p for _, p in batch] + [p for p in _settled(pending)])
            raise
        finally:
            for _, fut in pending:
                fut.cancel()
    return report


def _settled(pending: Iterable[tuple[_File, Future[_Prepared]]]) -> Iterator[_Prepared]:
    """Prepared files still queued when the ingest stops early (their blobs may already be written)."""
    for _, fut in pending:
        if fut.cancel():
            continue
        try:
            yield fut.result()
        except BaseException:  # noqa: BLE001,S110 - a file that failed to prepare wrote no blob
            continue


def _discard(project: Project, preps: Iterable[_Prepared]) -> None:
    """Remove the blobs written ahead for files that will not be committed (best effort)."""
    for prep in preps:
        if not prep.blob_existed:
            with contextlib.suppress(Exception):  # best effort: gc removes whatever is left
                _drop_blob_if_unused(project, prep.digest)


@dataclass(frozen=True)
class _Options:
    label: str | None
    category: str | None
    allow_duplicates: bool
    metadata: dict[str, Any]
    test_fraction: float


class _Duplicate(ConflictError):
    """The content is already in the raw layer."""


@dataclass(frozen=True)
class _Prepared:
    parsed: ParsedSample
    digest: str
    source_hash: str
    blob_existed: bool


def _prepare(project: Project, f: _File, *, frequency_hz: float | None, hmac_key: str | bytes | None) -> _Prepared:
    """Read, parse, encode and store the blob (pure work plus an idempotent blob write)."""
    source = str(f.path)
    try:
        data = f.path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source) from exc
    parsed = parse_bytes(data, source, frequency_hz=frequency_hz, hmac_key=hmac_key)
    blob = encode_array(parsed.array)
    digest = sha256(blob)
    existed = project.blobs.exists(digest)
    if not existed:
        project.blobs.put(blob)
    return _Prepared(parsed, digest, sha256(data), existed)


def _drop_blob_if_unused(project: Project, digest: str) -> None:
    with project.session() as s:
        used = s.execute(select(SampleRow.id).where(SampleRow.hash == digest).limit(1)).first()
    if used is None:
        project.blobs.delete(digest)


def _commit_batch(
    project: Project, actor: Actor, batch: list[tuple[_File, _Prepared]], opts: _Options,
) -> list[Sample | EmlError]:
    """Add a batch of prepared files in one transaction: a sample row and its audit entry per file.

    A duplicate is detected before anything is added for that file, so it never leaves a partial record
    and the others still commit. Any other error rolls the whole batch back and the files are retried one
    transaction each, so an error in one file never costs or half-stores another.
    """
    if not batch:
        return []
    outcomes: list[Sample | EmlError] = []
    try:
        with project.session() as s:
            known: dict[str, tuple[str, str]] = {}
            if not opts.allow_duplicates:  # one query for the batch instead of one per file
                digests = sorted({p.digest for _, p in batch})
                known = {r.hash: (r.id, r.name) for r in s.execute(select(
                    SampleRow.hash, SampleRow.id, SampleRow.name).where(
                    SampleRow.hash.in_(digests), SampleRow.layer == "raw"))}
            for f, prep in batch:
                try:
                    sample = _add(project, s, actor, f, prep, opts, known)
                    known.setdefault(sample.hash, (sample.id, sample.name))
                    outcomes.append(sample)
                except _Duplicate as exc:
                    outcomes.append(exc)
    except Exception:
        if len(batch) == 1:
            _discard(project, [batch[0][1]])
            raise
        # retry one transaction per file: every other file still commits, then the first error surfaces
        retried: list[Sample | EmlError] = []
        first: Exception | None = None
        for item in batch:
            try:
                retried += _commit_batch(project, actor, [item], opts)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other files
                first = first or exc
        if first is not None:
            raise first from None
        return retried
    for (_, prep), outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, _Duplicate) and not prep.blob_existed:
            _drop_blob_if_unused(project, prep.digest)
    return outcomes


def _add(
    project: Project, s: Session, actor: Actor, f: _File, prep: _Prepared, opts: _Options,
    known: dict[str, tuple[str, str]],
) -> Sample:
    """Add one sample and its audit entry; ``known`` maps raw-layer hashes to (id, name) for duplicates."""
    parsed, digest = prep.parsed, prep.digest
    if not opts.allow_duplicates and digest in known:
        dup_id, dup_name = known[digest]
        raise _Duplicate(f"{f.path}: duplicate of sample {dup_id} ('{dup_name}'): same content hash "
                         f"(use --allow-duplicates to keep both)")
    if opts.category in ("training", "testing"):
        cat = opts.category
    elif opts.category is None and f.category_hint:
        cat = f.category_hint
    else:
        cat = assign_category(digest, opts.test_fraction)
    sample = add_sample(
        project, s, parsed.array, name=sample_name(f.path.name), label=opts.label or infer_label(f.relative),
        category=cat, kind=parsed.kind, sensors=parsed.sensors, frequency_hz=parsed.frequency_hz,
        source=str(f.path.resolve()), metadata={**parsed.metadata, **opts.metadata}, device_name=parsed.device_name,
        device_type=parsed.device_type, source_hash=prep.source_hash,
    )
    project.record(s, "sample.ingest", {"sample": sample.id, "hash": sample.hash, "source_hash": sample.source_hash,
                                        "label": sample.label, "category": sample.category}, actor=actor)
    return sample

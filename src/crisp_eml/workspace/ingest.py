"""Use case ``ingest``: turn files and folders into samples, one audit entry per file, a few files per
transaction. :func:`ingest_files` is the pipeline itself; ``eml ingest`` (:func:`ingest_paths`) and the
server's uploads (:mod:`crisp_eml.workspace.ingest_upload`) both feed it.

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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisp_eml.core.errors import ConflictError, EmlError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample, content_identity
from crisp_eml.data.formats import ParsedSample
from crisp_eml.data.formats.ei_info_labels import check_ranges
from crisp_eml.data.formats.labels import CATEGORY_FOLDERS, infer_label, sample_name
from crisp_eml.data.formats.parsed import SUFFIXES, check_frequency, suffix_of
from crisp_eml.data.samples import add_sample, encode_array
from crisp_eml.data.splits import assign_category
from crisp_eml.store.blob_journal import journal_for
from crisp_eml.store.blobs import sha256
from crisp_eml.store.project import Actor, Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.ingest_info_labels import collect_export, info_labels_of
from crisp_eml.workspace.ingest_items import IngestFailure, IngestNote, SourceFile
from crisp_eml.workspace.ingest_source import MemoryBudget, ingest_limits, parse_source

CATEGORY_CHOICES = ("training", "testing", "split")
PREFETCH = 16  # files read/parsed/blob-written ahead of the database stage
BATCH_FILES = 64  # files per transaction at most ...
BATCH_SECONDS = 0.5  # ... and a commit at least this often, so a kill loses little work
PREFETCH_WORKERS = 3
Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    samples: list[Sample] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)
    skipped: list[IngestFailure] = field(default_factory=list)  # duplicates, with skip_duplicates=True
    notes: list[IngestNote] = field(default_factory=list)

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
            **({"notes": [n.to_dict() for n in self.notes]} if self.notes else {}),  # only an export has notes
        }


def _folder_category(parts: Iterable[str]) -> str | None:
    found = None
    for part in parts:
        found = CATEGORY_FOLDERS.get(part.lower(), found)
    return found


def collect_files(
    paths: Iterable[Path | str], notes: list[IngestNote] | None = None,
) -> tuple[list[SourceFile], list[IngestFailure]]:
    """Expand folders recursively (sorted, deterministic; hidden files skipped, unknown extensions skipped
    inside folders) and keep explicitly named files as given. A folder with an ``info.labels`` at its root
    (or that file named) is an Edge Impulse export: exactly the files it lists, with their entries
    (:mod:`crisp_eml.workspace.ingest_info_labels`; what is worth knowing goes to ``notes``)."""
    files: list[SourceFile] = []
    missing: list[IngestFailure] = []
    for raw in paths:
        p = Path(raw)
        info = info_labels_of(p)
        if info is not None:
            listed, found = collect_export(info)
            files += listed
            if notes is not None:
                notes += found
        elif p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for fn in sorted(filenames):
                    if fn.startswith(".") or suffix_of(fn) not in SUFFIXES:
                        continue
                    full = Path(dirpath) / fn
                    rel = PurePath(os.path.relpath(full, p))
                    cat = _folder_category((p.resolve().name, *rel.parent.parts))
                    files.append(SourceFile(full, rel, cat))
        elif p.is_file():
            files.append(SourceFile(p, PurePath(p.name), _folder_category((p.resolve().parent.name,))))
        else:
            missing.append(IngestFailure(str(p), f"{p}: no such file or folder", "NotFoundError"))
    return files, missing


def ingest_paths(
    project: Project, paths: Iterable[Path | str], *, label: str | None = None, category: str | None = None,
    frequency_hz: float | None = None, hmac_key: str | bytes | None = None, allow_duplicates: bool = False,
    metadata: Mapping[str, Any] | None = None, on_progress: Progress | None = None, test_fraction: float = 0.2,
    skip_duplicates: bool = False, max_file_mb: float | None = None, memory_mb: float | None = None,
) -> IngestReport:
    """Ingest every file under ``paths``; failures are collected, never half-stored.

    ``max_file_mb`` (a bigger file fails) and ``memory_mb`` (what the files parsed ahead may hold) default
    to ``[ingest]`` in the project's settings. One file's failure, whatever its cause, never stops the others.

    ``category``: ``training``/``testing`` force it; ``split`` assigns by content hash (80/20 by default);
    ``None`` takes it from a ``training``/``testing`` folder and falls back to ``split``.
    ``skip_duplicates`` reports duplicates as skipped instead of failed (re-running an interrupted batch).
    Files listed in an Edge Impulse export's ``info.labels`` take label, category and metadata from it
    (``metadata`` is added on top); ``label``/``category`` are refused with such a folder.
    """
    check_options(category, label, frequency_hz)
    project.require(Permission.INGEST_DATA)
    notes: list[IngestNote] = []
    files, failures = collect_files(paths, notes)
    export = next((f.entry for f in files if f.entry is not None), None)
    if export is not None and (label is not None or category is not None):
        option = "--label" if label is not None else "--category"
        raise InputError(f"{option} cannot be used with an Edge Impulse export: its info.labels gives each file's "
                         f"label and category ({export.source}); nothing was ingested",
                         field=option.lstrip("-"))
    return ingest_files(project, files, failures=failures, notes=notes, label=label, category=category,
                        frequency_hz=frequency_hz, hmac_key=hmac_key, allow_duplicates=allow_duplicates,
                        metadata=metadata, on_progress=on_progress, test_fraction=test_fraction,
                        skip_duplicates=skip_duplicates, max_file_mb=max_file_mb, memory_mb=memory_mb)


def check_options(category: str | None, label: str | None, frequency_hz: float | None) -> None:
    if category is not None and category not in CATEGORY_CHOICES:
        raise InputError(f"category must be one of {', '.join(CATEGORY_CHOICES)}, got {category!r}",
                         field="category")
    if label is not None and not label.strip():
        raise InputError("label must not be empty", field="label")
    check_frequency(frequency_hz, "--frequency")


def ingest_files(
    project: Project, files: list[SourceFile], *, failures: Iterable[IngestFailure] = (),
    notes: Iterable[IngestNote] = (), label: str | None = None,
    infer_labels: bool = True, category: str | None = None, frequency_hz: float | None = None,
    hmac_key: str | bytes | None = None, allow_duplicates: bool = False, metadata: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None, test_fraction: float = 0.2, skip_duplicates: bool = False,
    max_file_mb: float | None = None, memory_mb: float | None = None,
    on_file: Callable[[SourceFile, Sample | IngestFailure], None] | None = None,
) -> IngestReport:
    """Ingest ``files`` (named by their ``relative`` path and ``source``) as :func:`ingest_paths` does;
    the pipeline the CLI and the server's uploads share. ``infer_labels=False``: without ``label`` the
    samples get no label. ``on_file`` hears each file's outcome (a sample, or its failure) as it is known."""
    check_options(category, label, frequency_hz)
    actor = project.require(Permission.INGEST_DATA)
    report = IngestReport(failures=list(failures), notes=list(notes))
    total = len(files)
    limits = ingest_limits(project.config, max_file_mb=max_file_mb, memory_mb=memory_mb)
    budget = MemoryBudget(limits.memory_bytes)
    prepare = partial(_prepare, project, frequency_hz=frequency_hz, hmac_key=hmac_key,
                      max_file_bytes=limits.max_file_bytes)
    opts = _Options(label, category, allow_duplicates, dict(metadata or {}), test_fraction, infer_labels)
    done = 0

    def finish(f: SourceFile, outcome: Sample | EmlError) -> None:
        nonlocal done
        result: Sample | IngestFailure
        if isinstance(outcome, Sample):
            report.samples.append(result := outcome)
        elif isinstance(outcome, _Duplicate) and skip_duplicates:
            report.skipped.append(result := IngestFailure(f.shown, str(outcome), "ConflictError"))
        else:
            kind = "ConflictError" if isinstance(outcome, _Duplicate) else type(outcome).__name__
            report.failures.append(result := IngestFailure(f.shown, str(outcome), kind))
        done += 1
        if on_file is not None:
            on_file(f, result)
        if on_progress is not None:
            on_progress(done, total, f.shown)

    def flush(batch: list[tuple[SourceFile, _Prepared]]) -> None:
        for (f, _), outcome in zip(batch, _commit_batch(project, actor, batch, opts), strict=True):
            finish(f, outcome)
        batch.clear()

    # Reading, parsing and the blob write (its fsync) of the next files overlap the database work,
    # which runs in order, a few files per transaction. Files are read ahead while the memory they are
    # expected to need, with the parsed files held for the next commit, fits the budget.
    with ThreadPoolExecutor(max_workers=PREFETCH_WORKERS) as pool:
        pending: deque[tuple[SourceFile, Future[_Prepared]]] = deque()
        queue = deque(files)
        batch: list[tuple[SourceFile, _Prepared]] = []
        opened = time.monotonic()

        def held() -> list[Path]:
            return [g.path for g, _ in pending] + [g.path for g, _ in batch]

        def fill() -> None:
            while len(pending) < PREFETCH and queue and budget.admits(queue[0].path, held()):
                nxt = queue.popleft()
                pending.append((nxt, pool.submit(prepare, nxt)))

        try:
            for _ in range(total):
                fill()
                if not pending:  # the next file does not fit beside the parsed batch: commit that first
                    flush(batch)
                    opened = time.monotonic()
                    fill()
                f, fut = pending.popleft()
                try:
                    batch.append((f, fut.result()))
                except EmlError as exc:
                    finish(f, exc)
                except Exception as exc:  # noqa: BLE001 - one file's unexpected error fails that file only
                    finish(f, EmlError(f"{f.shown}: could not be ingested: {type(exc).__name__}: {str(exc)[:200]}"))
                if batch and (len(batch) >= BATCH_FILES or time.monotonic() - opened >= BATCH_SECONDS
                              or budget.held(g.path for g, _ in batch) >= budget.limit):
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


def _settled(pending: Iterable[tuple[SourceFile, Future[_Prepared]]]) -> Iterator[_Prepared]:
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
                drop_blob_if_unused(project, prep.digest)


@dataclass(frozen=True)
class _Options:
    label: str | None
    category: str | None
    allow_duplicates: bool
    metadata: dict[str, Any]
    test_fraction: float
    infer_labels: bool = True


class _Duplicate(ConflictError):
    """The content is already in the raw layer."""


@dataclass(frozen=True)
class _Prepared:
    parsed: ParsedSample
    digest: str
    source_hash: str
    blob_existed: bool


def _prepare(
    project: Project, f: SourceFile, *, frequency_hz: float | None, hmac_key: str | bytes | None, max_file_bytes: int,
) -> _Prepared:
    """Read, parse, encode and store the blob (pure work plus an idempotent blob write)."""
    parsed, source_hash = parse_source(f.path, f.shown, max_file_bytes=max_file_bytes, frequency_hz=frequency_hz,
                                       hmac_key=hmac_key)
    if f.entry is not None:  # an export's labelled ranges must fit the signal (before any blob is written)
        check_ranges(f.entry, int(parsed.array.shape[0]))
    digest, existed = write_blob_ahead(project, parsed.array)
    return _Prepared(parsed, digest, source_hash, existed)


def write_blob_ahead(project: Project, array: Any) -> tuple[str, bool]:
    """Store ``array``'s canonical blob before the row that will reference it: ``(digest, existed before)``.
    The write is journalled, so a gc collects the blob at once should this process die before the row commits;
    a caller that gives up drops it with :func:`drop_blob_if_unused` (unless it existed before)."""
    blob = encode_array(array)
    digest = sha256(blob)
    existed = project.blobs.exists(digest)
    project.blobs.put(blob)  # always: re-using an existing blob refreshes its age, so a running gc keeps it
    journal_for(project).wrote(digest, project.blobs.stamp(project.blobs.path(digest)))
    return digest, existed


def drop_blob_if_unused(project: Project, digest: str) -> None:
    """Remove a blob this process wrote ahead, unless a row references it or another writer stored it since."""
    from crisp_eml.workspace.gc_blobs import discard_if_unused

    discard_if_unused(project, [digest])


def _identity(prep: _Prepared) -> str:
    """The unique content identity of a raw sample."""
    p = prep.parsed
    return content_identity(prep.digest, p.kind, p.frequency_hz, p.sensors)


def _known(s: Session, identities: list[str]) -> dict[str, tuple[str, str]]:
    """(id, name) of the samples already holding these identities: one query for a batch."""
    rows = s.execute(select(SampleRow.identity, SampleRow.id, SampleRow.name)
                     .where(SampleRow.identity.in_(identities)))
    return {str(r.identity): (r.id, r.name) for r in rows}


def _commit_batch(
    project: Project, actor: Actor, batch: list[tuple[SourceFile, _Prepared]], opts: _Options,
) -> list[Sample | EmlError]:
    """Add a batch of prepared files in one transaction: a sample row and its audit entry per file.

    Duplicates are refused by the database: each row carries its content identity under a unique index and
    is inserted in a savepoint, so a concurrent ingest of the same file (which the write lock serialises on
    SQLite, and the index catches on PostgreSQL) or a second copy in the same batch becomes a duplicate report,
    never a second row, and the other files still commit. Any other error rolls the whole batch back and the
    files are retried one transaction each, so an error in one file never costs or half-stores another.
    """
    if not batch:
        return []
    outcomes: list[Sample | EmlError] = []
    try:
        with project.session() as s:
            known = _known(s, sorted({_identity(p) for _, p in batch}))
            for f, prep in batch:
                ident = _identity(prep)
                claim = ident not in known  # the first copy holds the identity, so a later check finds it
                try:
                    if not claim and not opts.allow_duplicates:
                        raise _duplicate(f, *known[ident])
                    sample = _add_unique(project, s, actor, f, prep, opts, ident if claim else None)
                except IntegrityError:  # another writer committed the same content after our look-up
                    row = s.execute(select(SampleRow.id, SampleRow.name).where(SampleRow.identity == ident)).first()
                    if row is None:
                        raise
                    outcomes.append(_duplicate(f, row.id, row.name))
                    continue
                except _Duplicate as exc:
                    outcomes.append(exc)
                    continue
                known.setdefault(ident, (sample.id, sample.name))
                outcomes.append(sample)
    except Exception:
        if len(batch) == 1:
            raise  # the caller discards the blobs of every file it did not commit
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
    return outcomes  # a duplicate's blob is its original's (the identity includes the digest): it stays


def _add_unique(
    project: Project, s: Session, actor: Actor, f: SourceFile, prep: _Prepared, opts: _Options, identity: str | None,
) -> Sample:
    """:func:`_add` in a savepoint; a copy kept with ``allow_duplicates`` whose identity another writer took
    meanwhile is kept without it (any other ``IntegrityError`` is the caller's)."""
    try:
        with s.begin_nested():
            return _add(project, s, actor, f, prep, opts, identity)
    except IntegrityError:
        if identity is None or not opts.allow_duplicates:
            raise
    with s.begin_nested():
        return _add(project, s, actor, f, prep, opts, None)


def _duplicate(f: SourceFile, dup_id: str, dup_name: str) -> _Duplicate:
    return _Duplicate(f"{f.shown}: duplicate of sample {dup_id} ('{dup_name}'): same content, rate and axes "
                      f"(use --allow-duplicates to keep both)")


def _add(
    project: Project, s: Session, actor: Actor, f: SourceFile, prep: _Prepared, opts: _Options, identity: str | None,
) -> Sample:
    """Add one sample (with its unique ``identity``, if any) and its audit entry."""
    parsed, digest = prep.parsed, prep.digest
    if opts.category in ("training", "testing"):
        cat = opts.category
    elif opts.category is None and f.category_hint:
        cat = f.category_hint
    else:
        cat = assign_category(digest, opts.test_fraction)
    label = opts.label or (infer_label(f.relative) if opts.infer_labels else None)
    name, metadata = sample_name(f.relative.name), {**parsed.metadata, **opts.metadata}
    if f.entry is not None:  # an Edge Impulse export's info.labels speaks for this file
        label, name = f.entry.sample_label, f.entry.name or name
        metadata = {**parsed.metadata, **f.entry.sample_metadata(), **opts.metadata}
    sample = add_sample(
        project, s, parsed.array, name=name, label=label,
        category=cat, kind=parsed.kind, sensors=parsed.sensors, frequency_hz=parsed.frequency_hz,
        source=f.source if f.source is not None else str(f.path.resolve()),
        metadata=metadata, device_name=parsed.device_name,
        device_type=parsed.device_type, source_hash=prep.source_hash, identity=identity, digest=digest,
    )
    project.record(s, "sample.ingest", {"sample": sample.id, "hash": sample.hash, "source_hash": sample.source_hash,
                                        "label": sample.label, "category": sample.category}, actor=actor)
    return sample

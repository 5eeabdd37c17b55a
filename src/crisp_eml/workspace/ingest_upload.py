"""Use case: ingest files uploaded to the server, through the same pipeline as ``eml ingest``.

The server's routes (the Edge Impulse compatible ``/api/{category}/files|data`` and ``POST /api/v1/samples``)
receive each file into a temporary file and hand it here with the name the client gave it. The files then go
through :func:`crisp_eml.workspace.ingest.ingest_files` exactly as files on disk do: parsed once, blob written
ahead, duplicates refused by the unique identity index, a few files per transaction, one ``sample.ingest``
audit entry per sample. A sample's ``source`` is ``upload:<file name>``, never a server path.

Edge Impulse semantics kept here, not in the routes:

- duplicates are kept unless the client asks otherwise (``allow_duplicates=False``, ``x-disallow-duplicates``);
- without a label the label is the file name up to its first dot (``idle.01.csv`` -> ``idle``), as
  ``eml ingest`` infers it; ``infer_label=False`` (``x-no-label``) leaves the sample unlabelled;
- category ``anomaly``: the store has only training and testing, so such samples go to ``testing`` with the
  metadata ``ei_category=anomaly`` (Edge Impulse's anomaly set is held-out data for anomaly detection);
- signed acquisition files are verified with the project's HMAC key, if it has one; unsigned ones
  (``alg: none``) are accepted, as on Edge Impulse;
- ``add_date_id`` puts a unique date id before the extension of each file name (``idle.csv`` ->
  ``idle.20240501T101500Z3fa2c1.csv``), so repeated uploads of one name stay apart.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, BinaryIO

from crisp_eml.core.errors import InputError
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data.formats.parsed import SUFFIXES, suffix_of
from crisp_eml.store.project import Project
from crisp_eml.workspace.credentials import upload_key
from crisp_eml.workspace.ingest import IngestFailure, SourceFile, ingest_files

CATEGORIES = ("training", "testing", "anomaly", "split")
SOURCE_PREFIX = "upload:"
MAX_NAME = 255  # characters of a file name
MAX_LABEL = 256  # characters of a label (the samples table's limit)
MAX_METADATA_BYTES = 64 * 1024
MIB = 1 << 20
#: format -> the extension a file of that format is parsed under when its name has another one
FORMAT_SUFFIX = {"csv": ".csv", "wav": ".wav", "image": ".png", "ei-json": ".json", "ei-cbor": ".cbor"}


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the client gave it, and its bytes."""

    name: str
    data: Path | bytes | BinaryIO  # a temporary file the server wrote (used in place), bytes, or a readable file
    fmt: str | None = None  # the format named by a content type (raw-body uploads); None: by the name's extension


@dataclass(frozen=True)
class UploadOptions:
    """What applies to every file of one request (validated by :func:`upload_options`)."""

    category: str = "split"
    label: str | None = None
    infer_label: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    allow_duplicates: bool = True
    add_date_id: bool = False


@dataclass(frozen=True)
class UploadResult:
    """One file's outcome: its (final) name, and its sample or the reason it failed."""

    name: str
    sample: Sample | None = None
    error: str | None = None
    error_kind: str | None = None  # InputError, ConflictError, ...

    def to_ei(self) -> dict[str, Any]:
        """Edge Impulse's per-file shape."""
        if self.sample is not None:
            return {"success": True, "sampleId": self.sample.id, "fileName": self.name}
        return {"success": False, "fileName": self.name, "error": self.error}


@dataclass
class UploadReport:
    results: list[UploadResult] = field(default_factory=list)

    @property
    def samples(self) -> list[Sample]:
        return [r.sample for r in self.results if r.sample is not None]

    @property
    def failures(self) -> list[UploadResult]:
        return [r for r in self.results if r.sample is None]

    def to_ei(self) -> dict[str, Any]:
        return {"success": True, "files": [r.to_ei() for r in self.results]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingested": len(self.samples), "failed": len(self.failures),
            "samples": [{"id": s.id, "name": s.name, "label": s.label, "category": s.category, "kind": s.kind,
                         "hash": s.hash, "source": s.source, "file_name": r.name}
                        for r in self.results if (s := r.sample) is not None],
            "failures": [{"file_name": r.name, "reason": r.error, "error": r.error_kind} for r in self.failures],
        }


def clean_name(name: str | None, what: str = "file name") -> str:
    """The base name of a client's file name: folders (``../``, absolute paths, backslashes) dropped.

    A name with NUL or other control characters, or nothing left once the folders are dropped, is an
    ``InputError``. The name is only ever used as a label and a display name: no file is written under it.
    """
    if name is None or not name.strip():
        raise InputError("must not be empty", field=what)
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InputError(f"{name[:80]!r} holds a control character (NUL, newline...)", field=what)
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", ".."):
        raise InputError(f"{name[:80]!r} names no file", field=what)
    if len(base) > MAX_NAME:
        raise InputError(f"longer than {MAX_NAME} characters", field=what)
    return base


def upload_options(
    category: str, *, label: str | None = None, no_label: bool = False, metadata: str | Mapping[str, Any] | None = None,
    allow_duplicates: bool = True, add_date_id: bool = False, upload_source: str | None = None,
) -> UploadOptions:
    """Validate what a request says about its files (``InputError`` naming the field)."""
    if category not in CATEGORIES:
        raise InputError(f"must be one of {', '.join(CATEGORIES)}, got {category[:40]!r}", field="category")
    if label is not None:
        label = label.strip()
        if no_label:
            raise InputError("give a label or ask for no label, not both", field="x-no-label")
        if not label:
            raise InputError("must not be empty", field="label")
        if len(label) > MAX_LABEL or any(unicodedata.category(c) == "Cc" for c in label):
            raise InputError(f"must be at most {MAX_LABEL} characters, without control characters", field="label")
    meta = _metadata(metadata)
    if upload_source:
        meta.setdefault("upload_source", _text(upload_source, "x-upload-source"))
    if category == "anomaly":
        meta["ei_category"] = "anomaly"
    return UploadOptions(category="testing" if category == "anomaly" else category, label=label,
                         infer_label=not no_label, metadata=meta, allow_duplicates=allow_duplicates,
                         add_date_id=add_date_id)


def _text(value: str, what: str, limit: int = 256) -> str:
    if len(value) > limit or "\x00" in value:
        raise InputError(f"must be at most {limit} characters, without NUL", field=what)
    return value


def _metadata(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON object of string keys and plain values (text, number, true/false, null)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_METADATA_BYTES:
            raise InputError(f"larger than {MAX_METADATA_BYTES} bytes", field="metadata")
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"not valid JSON: {str(exc)[:120]}", field="metadata") from exc
    if not isinstance(raw, Mapping):
        raise InputError("must be a JSON object", field="metadata")
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if not isinstance(k, str) or not k or "\x00" in k:
            raise InputError(f"key {str(k)[:40]!r} must be non-empty text without NUL", field="metadata")
        if isinstance(v, str):
            out[k] = _text(v, f"metadata.{k}", 4096)
        elif _plain(v):
            out[k] = v
        else:
            raise InputError(f"value of {k!r} must be text, a number, true/false or null", field="metadata")
    return out


def _plain(v: Any) -> bool:
    """None, true/false, a 64-bit integer or a finite float: what every metadata database stores as JSON."""
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return -(1 << 63) <= v < (1 << 63)
    return isinstance(v, float) and math.isfinite(v)


def require_ingest(project: Project) -> None:
    """Refuse a member who may not ingest before their files are even received."""
    project.require(Permission.INGEST_DATA)


def _date_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + secrets.token_hex(3)


def _parse_name(name: str, fmt: str | None, add_date_id: bool) -> str:
    """The name a file is stored and parsed under: the client's, with the date id and the extension of the
    format its content type named (when the name's own extension says otherwise)."""
    if add_date_id:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}.{_date_id()}.{ext}" if dot and stem else f"{name}.{_date_id()}"
    if fmt is not None and SUFFIXES.get(suffix_of(name)) != fmt:
        name += FORMAT_SUFFIX[fmt]
    return name


def ingest_uploads(
    project: Project, uploads: Sequence[Upload], options: UploadOptions, *, max_file_bytes: int | None = None,
) -> UploadReport:
    """Ingest ``uploads`` (in one pipeline run) and report each file's outcome, in the order given.

    ``max_file_bytes``: a bigger file fails (default: ``[ingest] max_file_mb``). Bytes and file objects are
    written to a private temporary folder first (removed at the end); paths are read in place.
    """
    require_ingest(project)
    key = upload_key(project)
    names = [_parse_name(clean_name(u.name), u.fmt, options.add_date_id) for u in uploads]
    outcome: dict[int, Sample | IngestFailure] = {}
    with tempfile.TemporaryDirectory(prefix="eml-upload-") as tmp:
        files: list[SourceFile] = []
        for i, (u, name) in enumerate(zip(uploads, names, strict=True)):
            path = _materialise(u.data, Path(tmp) / f"{i:05d}{suffix_of(name)}")
            files.append(SourceFile(path, PurePath(name), None, source=f"{SOURCE_PREFIX}{name}"))
        index = {id(f): i for i, f in enumerate(files)}
        ingest_files(
            project, files, label=options.label, infer_labels=options.infer_label, category=options.category,
            hmac_key=key, allow_duplicates=options.allow_duplicates,
            metadata=options.metadata, max_file_mb=None if max_file_bytes is None else max_file_bytes / MIB,
            on_file=lambda f, result: outcome.__setitem__(index[id(f)], result),
        )
    report = UploadReport()
    for i, name in enumerate(names):
        got = outcome.get(i)
        if isinstance(got, Sample):
            report.results.append(UploadResult(name, sample=got))
        elif isinstance(got, IngestFailure):
            reason = got.reason.removeprefix(f"{SOURCE_PREFIX}{name}: ").replace(
                "use --allow-duplicates to keep both", "allow duplicates to keep both")
            report.results.append(UploadResult(name, error=reason, error_kind=got.error))
        else:  # cannot happen: every file reports an outcome
            report.results.append(UploadResult(name, error="not ingested", error_kind="EmlError"))
    return report


def _materialise(data: Path | bytes | BinaryIO, dest: Path) -> Path:
    """The file holding ``data``: a path as it is, anything else copied to ``dest``."""
    if isinstance(data, Path):
        return data
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        if isinstance(data, bytes | bytearray | memoryview):
            out.write(data)
        else:
            shutil.copyfileobj(data, out, 1 << 20)
    return dest

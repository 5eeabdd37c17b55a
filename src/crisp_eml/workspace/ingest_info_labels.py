"""``eml ingest`` of an Edge Impulse dataset export: a folder with an ``info.labels`` at its root (or that
file named on the command line) is ingested as Edge Impulse's uploader does with ``--info-file``: exactly
the files it lists, each with the category, label(s), name and metadata it gives.

The whole ``info.labels`` is read and checked, and every file it lists must exist, before anything is
stored: a bad labels file or an incomplete export is one ``InputError`` naming ``info.labels`` and the
field, and no sample is written. Files beside it that it does not list are not ingested (as with Edge
Impulse), each reported as a note; so is what our samples cannot hold as such (several labelled ranges,
key-value labels, bounding boxes, attachments: see :meth:`InfoEntry.unmapped`).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.ei_info_labels import INFO_LABELS, parse_info_labels
from crisp_eml.data.formats.parsed import SUFFIXES, suffix_of
from crisp_eml.workspace.ingest_items import IngestNote, SourceFile

MAX_INFO_BYTES = 512 << 20  # an info.labels this big is not an export's


def info_labels_of(path: Path) -> Path | None:
    """The ``info.labels`` that governs ``path``: the file itself, or one at the root of the folder."""
    if path.is_file() and path.name == INFO_LABELS:
        return path
    if path.is_dir() and (path / INFO_LABELS).is_file():
        return path / INFO_LABELS
    return None


def collect_export(info: Path) -> tuple[list[SourceFile], list[IngestNote]]:
    """The files ``info`` lists (in its order), with their entries, and notes on what is not ingested."""
    shown = str(info)
    try:
        size = info.stat().st_size
        if size > MAX_INFO_BYTES:
            raise InputError(f"is {size >> 20} MiB, more than an export's labels file ({MAX_INFO_BYTES >> 20} MiB)",
                             source=shown)
        data = info.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=shown) from exc
    labels = parse_info_labels(data, shown)
    root = info.parent
    files: list[SourceFile] = []
    notes: list[IngestNote] = []
    listed: set[Path] = set()
    for entry in labels.files:
        rel = entry.path.replace("\\", "/")  # an export written on Windows
        full = root / rel
        if not full.is_file():
            what = "is a folder" if full.is_dir() else "does not exist"
            raise InputError(f"{entry.path!r} is listed but {what} (in {root}); nothing was ingested", source=shown,
                             field=f"{entry.where}.path")
        listed.add(full.resolve())
        files.append(SourceFile(full, PurePath(rel), entry.category_hint, entry=entry))
        notes += [IngestNote(str(full), f"{shown} {entry.where}: {text}") for text in entry.unmapped()]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            full = Path(dirpath) / fn
            if fn.startswith(".") or suffix_of(fn) not in SUFFIXES or full.resolve() in listed:
                continue
            notes.append(IngestNote(str(full), f"not listed in {shown}: not ingested"))
    return files, notes

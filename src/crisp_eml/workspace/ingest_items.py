"""What the ingest pipeline handles besides samples: a file to ingest (:class:`SourceFile`), a file that failed
(:class:`IngestFailure`) and a note worth reporting (:class:`IngestNote`). Their own module so the file
collectors (:mod:`crisp_eml.workspace.ingest`, :mod:`crisp_eml.workspace.ingest_info_labels`) share them without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

from crisp_eml.data.formats.ei_info_labels import InfoEntry


@dataclass(frozen=True)
class IngestFailure:
    path: str
    reason: str
    error: str  # the error class name: InputError, ConflictError, ...

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "error": self.error}


@dataclass(frozen=True)
class IngestNote:
    """Something the user should know that is no failure (a file an ``info.labels`` does not list, a label
    kind a sample cannot hold as such)."""

    path: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "note": self.note}


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest: where its bytes are, and what it is called."""

    path: Path  # where the bytes are (for an upload: the server's temporary copy)
    relative: PurePath  # below the walked root: used for folder labels and the sample's name
    category_hint: str | None  # from a training/testing folder on the way
    source: str | None = None  # how errors and the sample's ``source`` name it (default: the path)
    entry: InfoEntry | None = None  # listed in an Edge Impulse export's info.labels: its label, category, metadata

    @property
    def shown(self) -> str:
        return self.source if self.source is not None else str(self.path)

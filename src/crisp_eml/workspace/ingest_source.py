"""Reading one source file for ``ingest`` within resource limits: the per-file size limit, a forward-only
reader that hashes the file as the parser streams it, the memory budget of the prefetch stage, and
the rule that parsing one file can only ever fail that file (an unexpected error becomes its failure).

Both limits come from ``[ingest]`` in ``eml.toml`` (``max_file_mb``, ``memory_mb``; see docs/settings.md)
unless the caller passes them. The budget bounds how many files are read and parsed ahead of the
database stage by the memory they are expected to need (:func:`memory_estimate`), not only by a count:
files are admitted while the estimates of those in flight stay under it, and a file bigger than the
whole budget runs alone.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import EmlError, InputError, ProjectError
from crisp_eml.data.formats.dispatch import parse_stream
from crisp_eml.data.formats.parsed import ByteReader, ParsedSample, memory_estimate
from crisp_eml.store.config import CONFIG_NAME

MIB = 1 << 20
DEFAULT_MAX_FILE_MB = 1024.0
MIN_MEMORY_MB = 256.0
_DRAIN_BYTES = 1 << 20


@dataclass(frozen=True)
class IngestLimits:
    max_file_bytes: int
    memory_bytes: int


def default_memory_mb() -> float:
    """A quarter of the machine's physical memory, at least :data:`MIN_MEMORY_MB` (1 GiB if unknown)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # no sysconf (Windows) or the name is unknown
        return 1024.0
    return max(MIN_MEMORY_MB, total / 4 / MIB)


def ingest_limits(
    config: Mapping[str, Any], *, max_file_mb: float | None = None, memory_mb: float | None = None,
) -> IngestLimits:
    """The limits from the arguments, else from ``[ingest]`` in the project's settings, else the defaults."""
    table = config.get("ingest", {})
    if not isinstance(table, dict):
        raise ProjectError(f"{CONFIG_NAME}: 'ingest' must be a table ([ingest]), got {table!r}")
    def setting(given: float | None, key: str, default: float) -> float:
        if given is not None:  # an argument: the caller's input
            return _positive(given, key, InputError)
        return _positive(table.get(key, default), key)  # the project's settings file

    max_file = setting(max_file_mb, "max_file_mb", DEFAULT_MAX_FILE_MB)
    memory = setting(memory_mb, "memory_mb", default_memory_mb())
    return IngestLimits(max_file_bytes=int(max_file * MIB), memory_bytes=int(memory * MIB))


def _positive(value: Any, key: str, error: type[InputError] | type[ProjectError] = ProjectError) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        if error is InputError:
            raise InputError(f"must be a positive number of MiB, got {value!r}", field=key)
        raise ProjectError(f"{CONFIG_NAME}: [ingest] {key} must be a positive number of MiB, got {value!r}")
    return float(value)


def check_file_size(size: int, limit: int, source: str) -> None:
    if size > limit:
        raise InputError(f"file is {size / MIB:,.1f} MiB, over the limit of {limit / MIB:,.0f} MiB per file "
                         f"(setting [ingest] max_file_mb in {CONFIG_NAME})", source=source, field="size")


def parse_source(
    path: Path, source: str, *, max_file_bytes: int, frequency_hz: float | None = None,
    hmac_key: str | bytes | None = None,
) -> tuple[ParsedSample, str]:
    """Parse the file at ``path`` (named ``source`` in errors) and return it with the sha256 of its bytes.

    Raises only ``InputError``: unreadable, over the size limit, malformed, or (a bug in a parser, or no
    memory left) an unexpected error, reported as this file's failure. KeyboardInterrupt and SystemExit
    pass through.
    """
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            check_file_size(size, max_file_bytes, source)
            reader = HashingReader(fh, max_file_bytes, source)
            parsed = parse_stream(reader, source, size=size, frequency_hz=frequency_hz, hmac_key=hmac_key)
            return parsed, reader.hexdigest()
    except EmlError:
        raise
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source) from exc
    except MemoryError as exc:
        raise InputError("not enough memory to parse this file (lower [ingest] memory_mb, or ingest it alone)",
                         source=source) from exc
    except Exception as exc:  # noqa: BLE001 - one file's parser bug must not abort the batch
        raise InputError(f"could not be parsed: unexpected {type(exc).__name__}: {str(exc)[:200]}",
                         source=source) from exc


class HashingReader:
    """Reads a binary file forward, feeding every byte to sha256 and refusing more than ``limit`` bytes."""

    def __init__(self, raw: ByteReader, limit: int, source: str) -> None:
        self._raw, self._limit, self._source = raw, limit, source
        self._sha = hashlib.sha256()
        self.count = 0

    def read(self, size: int | None = -1, /) -> bytes:
        want = self._limit + 1 - self.count if size is None or size < 0 else min(size, self._limit + 1 - self.count)
        data = self._raw.read(max(0, want))
        self.count += len(data)
        if self.count > self._limit:  # the file grew past the limit after it was checked
            check_file_size(self.count, self._limit, self._source)
        self._sha.update(data)
        return data

    def hexdigest(self) -> str:
        """The sha256 of the whole file: reads what the parser left (trailing chunks, padding)."""
        while self.read(_DRAIN_BYTES):
            pass
        return self._sha.hexdigest()


class MemoryBudget:
    """Which files may be read and parsed now, given the estimated memory of those already held."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._cost: dict[Path, int] = {}

    def cost(self, path: Path) -> int:
        if path not in self._cost:
            try:
                size = path.stat().st_size
            except OSError:
                size = 0  # reading it fails soon, with a clear error
            self._cost[path] = memory_estimate(path.name, size)
        return self._cost[path]

    def held(self, paths: Iterable[Path]) -> int:
        return sum(self.cost(p) for p in paths)

    def admits(self, path: Path, held: Iterable[Path]) -> bool:
        """True when ``path`` fits beside ``held`` (nothing held: it always fits, and runs alone)."""
        used = self.held(held)
        return used == 0 or used + self.cost(path) <= self.limit

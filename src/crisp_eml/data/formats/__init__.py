"""File formats a sample can arrive in, one pure parser per module, and the dispatcher over them.

Every parser takes the file's bytes (CSV and WAV also a forward-only stream, parsed in blocks) and its
name, and returns a :class:`ParsedSample` or raises ``InputError(reason, source=name)``, never another
exception; none of them touches the disk, the database or the blob store, so the ingestion use case, a
future server endpoint and the fuzz tests all share them unchanged.
"""

from __future__ import annotations

from crisp_eml.data.formats.dispatch import parse_bytes, parse_stream
from crisp_eml.data.formats.parsed import ParsedSample, suffix_of

__all__ = ["ParsedSample", "parse_bytes", "parse_stream", "suffix_of"]

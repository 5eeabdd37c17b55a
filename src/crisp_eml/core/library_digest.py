"""The digest that names a compiled library's sources: ``sources_sha256`` of its MANIFEST.json.

One rule for the compiler that writes it and for every reader that checks a folder against it: sha256 over the
files' contents (UTF-8), concatenated in the order of their relative paths, the manifest itself left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def sources_sha256(files: Mapping[str, str | bytes]) -> str:
    """sha256 of the files' contents in path order (text as UTF-8); leave MANIFEST.json out of ``files``."""
    h = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel]
        h.update(data.encode() if isinstance(data, str) else data)
    return h.hexdigest()

"""Folders for user-named outputs (libraries, bundles, reports, exports).

``Path.mkdir`` raises raw ``OSError``s (a parent that is a file, no permission, read-only disk); a user
who typed a bad ``-o`` deserves an :class:`InputError` naming the path and the reason instead, and a
failing command must not leave the folders it created behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from crisp_eml.core.errors import InputError


def make_dirs(path: Path, *, field: str | None = None) -> list[Path]:
    """``mkdir -p path``; returns the folders it created, outermost first, for :func:`remove_dirs`."""
    missing: list[Path] = []
    p = path
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing.append(p)
        p = p.parent
    missing.reverse()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        remove_dirs(missing)
        raise InputError(f"cannot create the folder: {exc.strerror or exc}", source=str(path), field=field) from exc
    return missing


def remove_dirs(created: list[Path]) -> None:
    """Remove folders :func:`make_dirs` created (innermost first), if they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            continue


def check_creatable(path: Path, *, field: str | None = None) -> None:
    """Fail early, creating nothing, when ``path`` could not be created (its nearest existing ancestor is a
    file or not writable), so a command can reject a bad output path before doing any work."""
    p = path.parent
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise InputError(f"cannot create it: {p} is not a folder", source=str(path), field=field)
    if not os.access(p, os.W_OK):
        raise InputError(f"cannot create it: {p} is not writable", source=str(path), field=field)

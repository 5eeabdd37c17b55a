"""Use case ``bundle verify``: check a bundle's zip structure, its signature and every file's sha256.

The key that checks the signature must be pinned: ``--key FILE`` (alias ``--public-key``), else the project's
own key when run inside a project that has one. Without either, the key the bundle names itself proves only
integrity (anyone can re-sign a bundle with their own key), so verification fails unless ``allow_unpinned``;
the result then says ``pinned: false``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisp_eml.core.errors import InputError, ProjectError
from crisp_eml.fleet.bundle import BundleCheck


def pinned_key(public_key: Path | None) -> tuple[Any, str]:
    """(key, where it came from): the given file, else the project's public key, else (None, "")."""
    from crisp_eml.fleet.keys import PUBLIC_NAME, read_public

    if public_key is not None:
        return read_public(public_key), str(public_key)
    from crisp_eml.store.project import STATE_DIR, find_root
    from crisp_eml.workspace.deploy import KEY_DIR

    try:
        pub = find_root() / STATE_DIR / KEY_DIR / PUBLIC_NAME
    except ProjectError:
        return None, ""
    if pub.is_file():
        return read_public(pub), f"project key {pub}"
    return None, ""


def verify_bundle(path: Path, public_key: Path | None = None, *, allow_unpinned: bool = False) -> BundleCheck:
    from crisp_eml.fleet import bundle

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read bundle: {exc.strerror or exc}", source=str(path)) from exc
    key, source = pinned_key(public_key)
    return bundle.verify(data, key, key_source=source or "given", source=str(path), allow_unpinned=allow_unpinned)

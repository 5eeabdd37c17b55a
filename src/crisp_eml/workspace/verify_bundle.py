"""Use case ``bundle verify``: check a bundle's signature and every file's sha256.

The key that checks the signature is, in order: ``--public-key FILE``; the project's own key when run inside
a project that has one; else the key the bundle itself names (which proves integrity, not origin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisp_eml.core.errors import InputError, ProjectError
from crisp_eml.fleet.bundle import BundleCheck


def verify_bundle(path: Path, public_key: Path | None = None) -> BundleCheck:
    from crisp_eml.fleet import bundle
    from crisp_eml.fleet.keys import PUBLIC_NAME, read_public

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read bundle: {exc.strerror or exc}", source=str(path)) from exc
    key: Any = None
    source = "given"
    if public_key is not None:
        key, source = read_public(public_key), str(public_key)
    else:
        from crisp_eml.store.project import STATE_DIR, find_root
        from crisp_eml.workspace.deploy import KEY_DIR

        try:
            pub = find_root() / STATE_DIR / KEY_DIR / PUBLIC_NAME
        except ProjectError:
            pub = None
        if pub is not None and pub.is_file():
            key, source = read_public(pub), f"project key {pub}"
    return bundle.verify(data, key, key_source=source, source=str(path))

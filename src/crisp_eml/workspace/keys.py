"""Use case ``keys show``: the project's bundle-signing public key (generated on first use, audited then).

Showing an existing public key is open to every member; creating the key is a deploy decision (the key signs
what devices will trust), so it needs the DEPLOY permission.
"""

from __future__ import annotations

from typing import Any

from crisp_eml.core.errors import PermissionDeniedError
from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project


def show_key(project: Project) -> dict[str, Any]:
    from crisp_eml.fleet.keys import PRIVATE_NAME, PUBLIC_NAME, fingerprint, load_or_create, public_hex
    from crisp_eml.workspace.deploy import key_dir

    folder = key_dir(project)
    actor = None
    if not (folder / PRIVATE_NAME).is_file():
        try:
            actor = project.require(Permission.DEPLOY)
        except PermissionDeniedError as exc:
            raise PermissionDeniedError(f"{exc} (the project has no bundle-signing key yet, and creating it needs "
                                        "that permission: ask a member who may deploy to run 'eml keys show')"
                                        ) from exc
    key, created = load_or_create(folder)
    pub = public_hex(key.public_key())
    if created:
        with project.session() as s:
            project.record(s, "keys.create", {"key_fingerprint": fingerprint(pub), "public_key": pub}, actor=actor)
    return {"algorithm": "ed25519", "public_key": pub, "fingerprint": fingerprint(pub),
            "public_key_file": str(folder / PUBLIC_NAME), "private_key_file": str(folder / PRIVATE_NAME),
            "created": created}

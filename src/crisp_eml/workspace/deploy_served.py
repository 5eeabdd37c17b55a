"""Use case: ``eml deploy`` for a server request, where the server (never the client) chooses where the bundle goes.

The bundle is written under the project's state folder (``.eml/bundles/NAME-VERSION-TARGET-STAMP.zip``, a fresh
name each time, so no earlier bundle is replaced) by :func:`crisp_eml.workspace.deploy.deploy`, with all its
checks: DEPLOY permission, a passing gate for that target, the library re-derived byte for byte.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project
from crisp_eml.workspace.deploy import DeployResult, deploy
from crisp_eml.workspace.model_resolution import resolve_model
from crisp_eml.workspace.requirements import canonical_target

BUNDLES_DIR = "bundles"


def deploy_in_project(project: Project, model: str, target: str) -> DeployResult:
    """Build, sign and store the bundle of ``model`` for ``target`` inside the project; see :func:`deploy`."""
    project.require(Permission.DEPLOY)  # before anything is resolved or named
    info = resolve_model(project, model)
    target_id = canonical_target(target)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{info.name}-{info.version}-{target_id}-{stamp}-{secrets.token_hex(3)}.zip"
    return deploy(project, info.uri, target_id, project.state_dir / BUNDLES_DIR / name)

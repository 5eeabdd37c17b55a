"""Use case ``verify``: build a generated library and check it byte for byte against TensorFlow Lite Micro.

Inside a project the outcome is recorded as ``compiler.verify``; a mismatch raises ``VerificationError``
(exit code 8) after the report has been produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisp_eml.core.errors import InputError, ProjectError
from crisp_eml.core.personas import Permission


def verify_library(lib_dir: Path, *, host: bool = True, target: str | None = None, sanitize: bool = True,
                   use_project: bool = True, project: Any = None) -> Any:
    from crisp_eml.compiler import verify

    if not host and target is None:
        raise InputError("nothing to verify: pass --host and/or --target cortex-m4")
    if project is None and use_project:
        from crisp_eml.store.project import Project

        try:
            project = Project.open()
        except ProjectError:
            project = None
    if project is not None:
        project.require(Permission.COMPILE)
    report = verify.verify_library(lib_dir, host=host, sanitize=sanitize, target=target)
    if project is not None:
        with project.session() as s:
            project.record(s, "compiler.verify", {"library": report.library, "ok": report.ok,
                                                  "checks": {c.name: c.identical for c in report.checks}})
    return report

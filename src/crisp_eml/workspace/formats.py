"""Use case ``compile --format``: an ungated development build of a model in one deployment format, and what
every format build of a project's model ships (the project info of the ``.eim`` hello, the post-processing
setting chosen by ``eml calibrate`` or the defaults). ``eml deploy --format`` uses the same helpers for the gated,
signed path.

The library is compiled into a temporary folder (no test vectors, no ``compiler.compile`` entry: that folder is
gone afterwards), the format is built from it and published atomically at the output path; a project records
``runtime.build`` in the audit trail.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import ConflictError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.core.postprocess import PostprocessConfig
from crisp_eml.runtime.formats import build_format, check_format, require_tools
from crisp_eml.store.outputs import make_dirs, remove_dirs

MODELS_URI = "models:/"
DEFAULTS = "defaults"


def project_info(project: Any, model: str) -> dict[str, Any] | None:
    """The ``project`` object of the ``.eim`` hello: name, owner (the acting member), a stable integer id derived
    from the project id, and the model version as ``deploy_version``; None outside a project."""
    if project is None:
        return None
    version = 1
    if model.startswith(MODELS_URI):
        from crisp_eml.workspace.model_resolution import resolve_model

        version = resolve_model(project, model).version
    pid = project.project_id or project.name
    return {"name": project.name, "owner": project.actor.name,
            "id": int(hashlib.sha256(pid.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF, "deploy_version": version}


def shipped_postprocess(project: Any, model: str) -> tuple[PostprocessConfig | None, str]:
    """The post-processing the latest ``eml calibrate`` of this model version chose and where it came from
    ("calibration #ID"), else (None, "defaults") - the build then compiles in the defaults."""
    if project is None or not model.startswith(MODELS_URI):
        return None, DEFAULTS
    from crisp_eml.workspace.calibrate import chosen_calibration

    chosen = chosen_calibration(project, model)
    return (chosen[0], f"calibration #{chosen[1]}") if chosen is not None else (None, DEFAULTS)


def _check_out(out: Path, force: bool) -> None:
    if out.is_dir() and not any(out.iterdir()):
        return
    if (out.exists() or out.is_symlink()) and not force:
        raise ConflictError(f"{out} exists (use --force to replace it)")


def compile_format(model: str, fmt: str, out: Path, *, arch: str | None = None, name: str | None = None,
                   labels: list[str] | None = None, force: bool = False, project: Any = None,
                   use_project: bool = True) -> dict[str, Any]:
    """Compile ``model`` and build it as ``fmt`` at ``out`` (``c`` is :func:`compile_model` itself)."""
    from crisp_eml.workspace.compile import _open_project, compile_model

    f, arch = check_format(fmt, arch)
    if f.id == "c":
        raise InputError("format 'c' is the library folder 'eml compile' writes without --format", field="format")
    require_tools(f, arch)
    out = out.resolve()
    _check_out(out, force)
    if project is None and use_project:
        project = _open_project()
    actor = project.require(Permission.COMPILE) if project is not None else None  # compile_model checks it too
    made = make_dirs(out.parent, field="output")
    try:
        with tempfile.TemporaryDirectory(prefix="eml-compile-") as tmp:
            lib = Path(tmp) / "lib"
            r = compile_model(model, lib, name=name, labels=labels, vectors=0, project=project, use_project=False,
                              record=False)
            pp, source = shipped_postprocess(project, model)
            built = build_format(f.id, lib, out, arch=arch, project_info=project_info(project, model),
                                 postprocess=pp, postprocess_source=source)
    except BaseException:
        remove_dirs(made)
        raise
    result = {**built, "model": model, "model_sha256": r.model_sha256, "library": r.name,
              "ram_bytes": r.ram_bytes, "weights_bytes": r.weights_bytes}
    if project is not None:
        with project.session() as s:
            project.record(s, "runtime.build", {"model": model, "model_sha256": r.model_sha256, "library": r.name,
                                                "format": f.id, "arch": arch, "out": built["out"],
                                                "postprocess": built["postprocess"]["source"]}, actor=actor)
    return result

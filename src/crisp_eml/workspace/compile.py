"""Use case ``compile``: an int8 ``.tflite`` (file or ``models:/name@alias``) -> a verified-ready C library.

Reads the model, plans memory, renders the library, writes test vectors with TensorFlow Lite Micro's outputs
(``tests/``) and, inside a project, records ``compiler.compile`` in the audit trail. The output folder is
written to a temporary sibling and renamed at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.core.errors import ConflictError, EmlError, InputError, ProjectError, ToolMissingError
from crisp_eml.core.personas import Permission
from crisp_eml.workspace.compile_result import CompileResult

MODELS_URI = "models:/"
#: Most random test vectors a library carries (each runs through TFLite Micro at compile time).
MAX_VECTORS = 10_000


def _impulse_spec(project: Any, impulse_hash: str | None) -> dict[str, Any] | None:
    if not impulse_hash:
        return None
    from sqlalchemy import select

    from crisp_eml.store.tables.impulse import ImpulseVersionRow

    with project.session() as s:
        row = s.execute(select(ImpulseVersionRow).where(ImpulseVersionRow.hash == impulse_hash)).scalars().first()
        return dict(row.spec) if row is not None else None


def _load_model(model: str, project: Any) -> tuple[bytes, str, list[str], dict[str, Any] | None]:
    """Model bytes, a default library name, the labels the registry knows and the impulse (DSP) spec."""
    if model.startswith(MODELS_URI):
        if project is None:
            raise ProjectError(f"{model}: model URIs need a project (run inside one or 'eml init')")
        try:
            from crisp_eml.workspace.model_resolution import resolve_model
        except ImportError as exc:  # pragma: no cover - the registry ships with crisp-eml
            raise ToolMissingError("the model registry (crisp_eml.workspace.registry) is not available") from exc
        info = resolve_model(project, model)
        digest = next((v for k, v in info.artifacts.items() if "int8" in k and k.endswith(".tflite")), None)
        if digest is None:
            raise InputError(f"{model} has no int8 .tflite artifact (artifacts: {', '.join(info.artifacts)})",
                             field="model")
        return (bytes(project.blobs.get(digest)), info.name, list(info.labels),
                _impulse_spec(project, info.impulse_hash))
    path = Path(model)
    try:
        return path.read_bytes(), path.stem, [], None
    except OSError as exc:
        raise InputError(f"cannot read model: {exc.strerror or exc}", source=model) from exc


def _check_feature_count(model: str, impulse: dict[str, Any] | None, n_in: int) -> None:
    """Refuse a model whose impulse computes another number of features than the model takes: its library
    would not build (``#error`` in the C). An impulse whose count cannot be computed has no C DSP step anyway."""
    if not impulse:
        return
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import n_features

    try:
        k = n_features(ImpulseSpec.from_dict(impulse))
    except (EmlError, ValueError):
        return
    if k != n_in:
        raise InputError(f"{model}: its impulse computes {k} features but the model takes {n_in} inputs, so the "
                         "library could not be built; re-import the model without an impulse (a features-in "
                         "model) or train it with this impulse", field="model")


def _refuse_external(impulse: dict[str, Any] | None) -> None:
    """An impulse with an external block (an HTTP block server) cannot run on a device: refused before anything
    is compiled (see :func:`crisp_eml.compiler.dsp_c.render.refuse_external`)."""
    if impulse:
        from crisp_eml.compiler.dsp_c.render import refuse_external

        refuse_external(impulse)


def _open_project() -> Any:
    from crisp_eml.store.project import Project

    try:
        return Project.open()
    except ProjectError:
        return None


def compile_model(model: str, out_dir: Path, *, name: str | None = None, vectors: int = 8,
                  labels: list[str] | None = None, force: bool = False, seed: int = 0,
                  project: Any = None, use_project: bool = True, record: bool = True,
                  arena_section: str | None = None, weights_section: str | None = None,
                  optimize: str | None = None) -> CompileResult:
    """Compile ``model`` into the library folder ``out_dir``. ``record=False``: no ``compiler.compile`` audit
    entry (a build into a temporary folder, e.g. ``compile --format``, must not become gate evidence).
    ``optimize``: ram | balanced | speed (``None``: balanced), recorded in MANIFEST.json and the audit entry."""
    from crisp_eml.compiler import verify
    from crisp_eml.compiler.build import publish_tree
    from crisp_eml.compiler.model_render import render_model
    from crisp_eml.compiler.optimize import check_optimize
    from crisp_eml.compiler.render import c_identifier

    mode = check_optimize(optimize)
    if project is None and use_project:
        project = _open_project()
    if project is not None:
        project.require(Permission.COMPILE)
    if not 0 <= vectors <= MAX_VECTORS:
        raise InputError(f"must be between 0 and {MAX_VECTORS}, got {vectors}", field="vectors")
    out_dir = out_dir.resolve()
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise ConflictError(f"{out_dir} exists and is not empty (use --force to replace it)")
    if model.startswith(MODELS_URI) and project is not None:
        from crisp_eml.workspace.compile_anomaly import anomaly_only, compile_anomaly
        from crisp_eml.workspace.model_resolution import resolve_model

        info = resolve_model(project, model)
        _refuse_external(_impulse_spec(project, info.impulse_hash))
        if anomaly_only(info):  # anomaly.json and no .tflite: the float32 anomaly library
            if optimize is not None:
                raise InputError(f"{model} is an anomaly model: its float32 scorer has no int8 kernels to choose "
                                 "between; leave --optimize out", field="--optimize")
            return compile_anomaly(project, model, info, _impulse_spec(project, info.impulse_hash), out_dir,
                                   name=name, vectors=vectors, record=record)  # type: ignore[no-any-return]
    data, stem, known_labels, impulse = _load_model(model, project)
    _refuse_external(impulse)
    sha = hashlib.sha256(data).hexdigest()
    lib_name = c_identifier(name or stem)
    graph, files = render_model(data, name=lib_name, labels=list(labels or known_labels), model_sha256=sha,
                                dsp=impulse, source=model, arena_section=arena_section,
                                weights_section=weights_section, optimize=mode)
    n_in = int(np.prod(graph.tensor(graph.inputs[0]).shape))
    _check_feature_count(model, impulse, n_in)  # before anything is written
    # one packed row per vector: every input's bytes in graph order (int16 inputs: 2 bytes per code)
    vec = verify.random_vectors(verify.io_bytes(verify.io_layout([graph.tensor(i) for i in graph.inputs])), vectors,
                                seed)
    expected = verify.tflm_outputs(data, vec) if vectors else np.zeros((0, 0), np.int8)
    publish_tree(files, {verify.VECTORS: vec.tobytes(),
                         verify.EXPECTED: np.ascontiguousarray(expected, np.int8).tobytes(),
                         verify.MODEL: data}, out_dir)
    manifest = json.loads(files["MANIFEST.json"])
    result = CompileResult(lib_name, str(out_dir), sha, manifest["arena_bytes"], manifest["ram_bytes"],
                           manifest["weights_bytes"], manifest["ops"], vectors, sorted(files), mode)
    if project is not None and record:
        with project.session() as s:
            project.record(s, "compiler.compile", {"model": model, "model_sha256": sha, "library": lib_name,
                                                   "out_dir": str(out_dir.resolve()),
                                                   "sources_sha256": manifest["sources_sha256"],
                                                   "arena_bytes": result.arena_bytes, "optimize": mode,
                                                   "arena_section": manifest["flash"]["arena_section"],
                                                   "weights_section": manifest["flash"]["weights_section"]})
    return result

"""Use case ``models import`` (bring your own model): register an existing ``.tflite`` or Keras file.

The file is checked (a corrupt ``.tflite`` is an ``InputError`` naming the file, found by running it in
TFLite Micro in a child process), described (input shape, dtype, quantization, labels) and stored as an
``imported`` run plus a new model version, so it can be tested, compiled and deployed like a trained one.
The project's current impulse is attached only when it computes exactly the model's input count; otherwise the
model is imported as a features-in model and the result's ``impulse_note`` says why.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import EmlError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import RunRow
from crisp_eml.workspace.registry import _check_name, register_in_session
from crisp_eml.workspace.runs_common import new_run_id

TASKS = ("classification", "regression")


def _tflite_info(data: bytes, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from crisp_eml.learn.tflm import io_details, tflm_min_arena

    try:
        i_info, o_info = io_details(data)
        arena = tflm_min_arena(data)
    except InputError as exc:
        raise InputError(exc.reason, source=source) from exc
    return i_info.to_dict(), {**o_info.to_dict(), "arena_bytes": arena}


def _matching_impulse(project: Project, n_inputs: int) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """The project's current impulse (hash, spec) when it computes exactly the model's ``n_inputs`` features,
    else (None, None, why not): such a model is imported as a features-in model, as before any impulse exists.
    Attaching a mismatched impulse would make every library compiled from the model unbuildable."""
    try:
        from crisp_eml.dsp.pipeline import n_features
        from crisp_eml.workspace.impulse import current_impulse

        spec = current_impulse(project)
    except (EmlError, ImportError):
        return None, None, None
    try:
        k = n_features(spec)
    except (EmlError, ValueError) as exc:
        return None, None, f"the current impulse was not attached: its feature count is unknown ({exc})"
    if k != n_inputs:
        return None, None, (f"the current impulse was not attached: it computes {k} features but the model takes "
                            f"{n_inputs} inputs, so the model was imported as a features-in model (its C library "
                            "takes features, not raw samples)")
    return spec.hash, spec.to_dict(), None


def import_model(
    project: Project, path: Path, name: str, *, labels: list[str] | None = None, task: str = "classification",
    description: str | None = None,
) -> dict[str, Any]:
    actor = project.require(Permission.TRAIN)
    _check_name(name)
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; one of {list(TASKS)}", field="task")
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    data = path.read_bytes()
    artifacts: dict[str, bytes] = {}
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        tfl = data
    elif suffix in (".keras", ".h5"):
        from crisp_eml.learn.nn import keras_from_bytes
        from crisp_eml.learn.quantize import to_float32

        try:
            model = keras_from_bytes(data, suffix)
        except InputError as exc:
            raise InputError(exc.reason, source=str(path)) from exc
        artifacts["model.keras"] = data
        tfl = to_float32(model)
    else:
        raise InputError("bring-your-own-model takes a .tflite, .keras or .h5 file", source=str(path))
    inp, out = _tflite_info(tfl, str(path))
    variant = "int8" if inp["dtype"] == "int8" else "float32"
    artifacts[f"model_{variant}.tflite"] = tfl
    n_out = int(out["shape"][-1]) if out["shape"] else 1
    if task == "classification":
        labels = labels or [f"class{i}" for i in range(n_out)]
        if len(labels) != n_out:
            raise InputError(f"the model has {n_out} outputs but {len(labels)} labels were given", field="labels")
    impulse_hash, impulse_spec, impulse_note = _matching_impulse(project, math.prod(int(d) for d in inp["shape"][1:]))
    params = {"type": "byom", "task": task, "labels": labels or [], "feature_shape": list(inp["shape"][1:]),
              "source_file": path.name, "input": inp, "output": {k: v for k, v in out.items() if k != "arena_bytes"}}
    metrics = {"task": task, "labels": labels or [], "test": {},
               "model": {variant: {"bytes": len(tfl), "arena_bytes": out["arena_bytes"], "input": inp,
                                   "output": params["output"]}}}
    digests = {k: project.blobs.put(v) for k, v in artifacts.items()}
    run_id = new_run_id()
    with project.session() as s:
        run = RunRow(id=run_id, status="imported", learning_type="byom", params=params, impulse_hash=impulse_hash,
                     impulse_spec=impulse_spec, dataset_version_id=None, metrics=metrics, artifacts=digests, seed=0,
                     author=actor.name)
        s.add(run)
        s.flush()
        project.record(s, "model.import", {"run": run_id, "file": path.name, **digests}, actor=actor)
        info = register_in_session(project, s, run, name, description, actor)
    return {**info.to_dict(), "variant": variant, "input": inp, "arena_bytes": out["arena_bytes"],
            "impulse_note": impulse_note}


__all__ = ["import_model"]

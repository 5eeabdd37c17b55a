"""The ``compile`` use case for a registered anomaly model (a run artifact ``anomaly.json``, no ``.tflite``).

Called by :func:`crisp_eml.workspace.compile.compile_model` for ``models:/name@alias`` URIs whose run holds
``anomaly.json`` and no int8 ``.tflite``. Writes the library of ``compiler.anomaly_lib`` plus test windows
for ``eml verify --host``: windows of the project's testing samples (raw when the DSP step is in C, else
their features), spread evenly over the test set, and the ``anomaly.json`` itself. A run with BOTH a
classifier and an anomaly block is not handled here (its int8 classifier is compiled as before).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.workspace.compile_result import CompileResult

ANOMALY_ARTIFACT = "anomaly.json"


def anomaly_only(info: Any) -> bool:
    """True when the model version has ``anomaly.json`` and no int8 ``.tflite``."""
    has_tflite = any("int8" in k and k.endswith(".tflite") for k in info.artifacts)
    return ANOMALY_ARTIFACT in info.artifacts and not has_tflite


def _test_windows(project: Any, spec_dict: dict[str, Any], count: int) -> np.ndarray:
    """Up to ``count`` raw windows ``[k, window_len, axes]`` of the testing samples, evenly spread."""
    from crisp_eml.core.impulse import ImpulseSpec, windows_for
    from crisp_eml.data.samples import list_samples, load_array

    spec = ImpulseSpec.from_dict(spec_dict)
    parts = []
    for s in list_samples(project, category="testing"):
        arr = load_array(project, s)
        try:
            parts.append(windows_for(spec, arr, s.frequency_hz, [x.name for x in s.sensors]))
        except InputError:
            continue
    if not parts:
        raise InputError("the project has no testing windows for this impulse: the anomaly library needs them as "
                         "test vectors", field="samples")
    allw = np.concatenate(parts)
    idx = np.unique(np.linspace(0, len(allw) - 1, min(count, len(allw))).round().astype(int))
    return np.asarray(allw[idx], np.float32)


def compile_anomaly(project: Any, model: str, info: Any, impulse: dict[str, Any] | None, out_dir: Path, *,
                    name: str | None, vectors: int, record: bool = True) -> Any:
    from crisp_eml.compiler.anomaly_lib import render_anomaly_library
    from crisp_eml.compiler.anomaly_verify import ANOMALY_JSON, RAW, python_scores
    from crisp_eml.compiler.build import publish_tree
    from crisp_eml.compiler.render import c_identifier

    data = bytes(project.blobs.get(info.artifacts[ANOMALY_ARTIFACT]))
    try:
        amodel = json.loads(data)
    except ValueError as exc:
        raise InputError(f"{model}: anomaly.json is not valid JSON ({exc})", field="anomaly.json") from exc
    if not isinstance(amodel, dict):
        raise InputError(f"{model}: anomaly.json is not an object", field="anomaly.json")
    sha = hashlib.sha256(data).hexdigest()
    lib_name = c_identifier(name or info.name)
    files = render_anomaly_library(amodel, name=lib_name, dsp=impulse, model_sha256=sha)
    manifest = json.loads(files["MANIFEST.json"])
    if impulse is None:
        raise InputError(f"{model}: the run has no impulse: cannot cut test windows", field="model")
    wins = _test_windows(project, impulse, max(vectors, 1) * 8)
    if manifest["dsp_in_c"]:
        vec = wins.reshape(len(wins), -1)
    else:
        from crisp_eml.core.impulse import ImpulseSpec
        from crisp_eml.dsp.pipeline import apply_impulse

        vec = apply_impulse(ImpulseSpec.from_dict(impulse), wins).reshape(len(wins), -1)
    expected = python_scores(amodel, impulse, bool(manifest["dsp_in_c"]), vec)
    publish_tree(files, {RAW: np.ascontiguousarray(vec, np.float32).tobytes(), ANOMALY_JSON: data,
                         "tests/python_scores.f64": np.ascontiguousarray(expected, np.float64).tobytes()}, out_dir)
    result = CompileResult(lib_name, str(out_dir), sha, 0, manifest["ram_bytes"], manifest["weights_bytes"],
                           manifest["ops"], len(vec), sorted(files))
    if not record:
        return result
    with project.session() as s:
        project.record(s, "compiler.compile", {"model": model, "model_sha256": sha, "library": lib_name,
                                               "kind": "anomaly", "out_dir": str(out_dir.resolve()),
                                               "sources_sha256": manifest["sources_sha256"], "arena_bytes": 0})
    return result

"""Render a registered anomaly model (a run's ``anomaly.json``, no ``.tflite``) as a whole C library.

Same layout and conventions as the int8 library (``compiler.render``): ``src/<name>.h`` with ``<name>_init``,
``<name>_run(const float *raw, size_t len, <name>_result_t *out)`` (score and is_anomaly), the status enum
and ``<name>_status_str``; ``src/<name>_anomaly.[ch]`` from ``render_anomaly_c``; the impulse's DSP step
(``src/<name>_dsp.[ch]``) when its blocks have a C twin, else ``<name>_run`` takes the features; CMake,
Makefile, Arduino ``library.properties`` and a ``MANIFEST.json`` with ``"kind": "anomaly"``, the threshold and
RAM/flash figures. Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from crisp_eml.compiler.anomaly_c import render_anomaly_c
from crisp_eml.compiler.render import (
    GENERATOR,
    STATUS,
    _cmake,
    _dsp_sources,
    _library_properties,
    _makefile,
    c_identifier,
    c_string,
    static_ram_of,
)
from crisp_eml.core.errors import InputError
from crisp_eml.core.library_digest import sources_sha256


def anomaly_feature_count(model: dict[str, Any]) -> int:
    try:
        return int(np.asarray(model["mean"], dtype=np.float64).reshape(-1).shape[0])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("missing or malformed 'mean'", field="anomaly.json.mean") from exc


def _table_bytes(model: dict[str, Any]) -> int:
    """float32 constants the anomaly C holds (mean, 1/std, centers, GMM constants and precision factors)."""
    dim = anomaly_feature_count(model)
    k = int(np.asarray(model.get("centers", []), dtype=np.float64).reshape(-1).shape[0]) // max(dim, 1)
    n = 2 * dim + k * dim
    if model.get("kind") == "gmm":
        diag = model.get("covariance_type") == "diag"
        n += k + k * (dim if diag else dim * (dim + 1) // 2)
    return 4 * n


def render_anomaly_library(model: dict[str, Any], *, name: str, dsp: dict[str, Any] | None = None,
                           model_sha256: str = "") -> dict[str, str]:
    """``{relative path: text}`` of the anomaly library for the ``anomaly.json`` dict ``model``."""
    name = c_identifier(name)
    up = name.upper()
    files = {f"src/{k}": v for k, v in render_anomaly_c(model, name).items()}
    dim = anomaly_feature_count(model)
    dsp_files, dsp_note = _dsp_sources(dsp, name)
    has_dsp = dsp_files is not None
    for rel, text in (dsp_files or {}).items():
        files[rel if rel.startswith("src/") else f"src/{rel}"] = text
    files[f"src/{name}.h"] = _header(name, up, has_dsp, model)
    files[f"src/{name}.c"] = _source(name, up, has_dsp)
    c_files = sorted(p.removeprefix("src/") for p in files if p.endswith(".c"))
    cmake = _cmake(name, c_files)
    if "target_link_libraries" not in cmake:  # the anomaly scorer itself needs sqrtf/expf/logf
        cmake += f"target_link_libraries({name} PUBLIC m)\n"
    makefile = _makefile(name, c_files)
    if "libm" not in makefile:
        makefile = makefile.replace("cross builds.\n", "cross builds.\n# The anomaly scorer uses libm: link "
                                    "programs with -lm.\n", 1)
    files["CMakeLists.txt"] = cmake
    files["Makefile"] = makefile
    files["library.properties"] = _library_properties(name).replace(
        "Generated int8 inference library", "Generated anomaly detection library").replace(
        "Bit-exact with TensorFlow Lite Micro; C99", "float32 scorer matched to the Python model; C99")
    static = 1 + (4 * dim + static_ram_of(dsp_files) if dsp_files else 0)  # flag (+ features, DSP buffers)
    stack = 4 * dim + (4 * int(np.asarray(model.get("weights", [])).reshape(-1).shape[0]) + 4 * dim
                       if model.get("kind") == "gmm" else 0)  # z[] (+ logp[], diff[]) in <name>_anomaly
    raw_len = None
    if has_dsp:
        from crisp_eml.core.impulse import ImpulseSpec

        inp: Any = ImpulseSpec.from_dict(dsp or {}).input
        raw_len = int(inp.window_len) * len(getattr(inp, "axes", None) or [1])
    manifest = {
        "generator": GENERATOR,
        "kind": "anomaly",
        "name": name,
        "model_sha256": model_sha256,
        "anomaly": {"kind": model.get("kind"), "threshold": float(model["threshold"]),
                    "features": dim, "covariance_type": model.get("covariance_type")},
        "threshold": float(model["threshold"]),
        "arena_bytes": 0,
        "ram_bytes": static,
        "stack_bytes_estimate": stack,
        "weights_bytes": _table_bytes(model),
        "flash_note": "weights_bytes = the scorer's float32 tables; code size: eml verify --target/eml profile",
        "ops": [f"ANOMALY_{str(model.get('kind')).upper()}"],
        "inputs": [{"shape": [raw_len if raw_len is not None else dim], "dtype": "float32",
                    "what": "raw window" if has_dsp else "features"}],
        "outputs": [{"shape": [1], "dtype": "float32", "what": "anomaly score (is_anomaly = score > threshold)"}],
        "labels": [],
        "dsp": dsp,
        "dsp_in_c": has_dsp,
        "dsp_note": dsp_note,
        "files": sorted([*files, "MANIFEST.json"]),
        "sources_sha256": sources_sha256(files),
    }
    files["MANIFEST.json"] = json.dumps(manifest, indent=2) + "\n"
    return files


def _header(name: str, up: str, has_dsp: bool, model: dict[str, Any]) -> str:
    status = "\n".join(f"    {up}_{code} = {i}," for i, (code, _) in enumerate(STATUS))
    if has_dsp:
        inc = f'#include "{name}_dsp.h"\n'
        raw = f"/* floats per raw window that {name}_run() takes */\n#define {up}_RAW_INPUT_LEN {up}_DSP_INPUT_LEN\n"
        doc = "raw window (interleaved axes) -> <name>_dsp() features -> anomaly score"
    else:
        inc = ""
        raw = f"/* {name}_run() takes the features themselves */\n#define {up}_RAW_INPUT_LEN {up}_ANOMALY_N_FEATURES\n"
        doc = "features (computed by your DSP code) -> anomaly score"
    return f"""/* {name}.h - generated by {GENERATOR}; do not edit. Public API of the '{name}' anomaly library
 ({model.get("kind")}). C99, no dynamic allocation, no stdio. Call {name}_init() once, then {name}_run() from one
 thread at a time. */
#ifndef {up}_H
#define {up}_H

#include <stddef.h>
#include <stdint.h>

#include "{name}_anomaly.h"
{inc}
#ifdef __cplusplus
extern "C" {{
#endif

{raw}#define {up}_THRESHOLD {up}_ANOMALY_THRESHOLD

typedef enum {{
{status}
}} {name}_status_t;

typedef struct {{
    float score;         /* higher = more anomalous */
    int32_t is_anomaly;  /* 1 when score > {up}_THRESHOLD, else 0 */
}} {name}_result_t;

{name}_status_t {name}_init(void);
/* {doc}; len must be {up}_RAW_INPUT_LEN. */
{name}_status_t {name}_run(const float *raw, size_t len, {name}_result_t *out);
const char *{name}_status_str({name}_status_t status);

#ifdef __cplusplus
}}
#endif

#endif /* {up}_H */
"""


def _source(name: str, up: str, has_dsp: bool) -> str:
    status_strs = "\n".join(f"    {c_string(text.replace('<name>', name))}," for _, text in STATUS)
    if has_dsp:
        check = (f"#if {up}_DSP_N_FEATURES != {up}_ANOMALY_N_FEATURES\n"
                 f'#error "the DSP step and the anomaly model disagree on the feature count"\n#endif\n')
        features = (f"    static float features[{up}_ANOMALY_N_FEATURES];\n"
                    f"    if ({name}_dsp(raw, len, features) != 0) {{\n        return {up}_ERR_DSP;\n    }}\n")
        src = "features"
    else:
        check, features, src = "", "", "raw"
    # a wrong length is the caller's input size error, with or without a DSP step (checked before the DSP runs)
    len_check = f"    if (len != (size_t){up}_RAW_INPUT_LEN) {{\n        return {up}_ERR_INPUT_SIZE;\n    }}\n"
    if src == "features":  # whole-recording impulses (length_mode pad/resample) take any number of rows
        len_check = (f"#if defined({up}_DSP_VARIABLE_LENGTH) && {up}_DSP_VARIABLE_LENGTH\n"
                     f"    if (len == 0u || len % (size_t){up}_DSP_N_AXES != 0u) {{\n"
                     f"        return {up}_ERR_INPUT_SIZE;\n    }}\n#else\n{len_check}#endif\n")
    features = len_check + features
    return f"""/* {name}.c - generated by {GENERATOR}; do not edit. */
#include "{name}.h"

{check}
static uint8_t {name}_initialized;

static const char *const {name}_status_strings[] = {{
{status_strs}
}};

const char *{name}_status_str({name}_status_t status)
{{
    const size_t n = sizeof({name}_status_strings) / sizeof({name}_status_strings[0]);
    return (size_t)status < n ? {name}_status_strings[status] : "unknown status";
}}

{name}_status_t {name}_init(void)
{{
    {name}_initialized = 1u;
    return {up}_OK;
}}

{name}_status_t {name}_run(const float *raw, size_t len, {name}_result_t *out)
{{
    float score = 0.0f;
    int flag;
    if (raw == NULL || out == NULL) {{
        return {up}_ERR_NULL;
    }}
    if (!{name}_initialized) {{
        return {up}_ERR_NOT_INITIALIZED;
    }}
{features}    flag = {name}_anomaly({src}, &score);
    if (flag < 0) {{
        return {up}_ERR_NULL;
    }}
    out->score = score;
    out->is_anomaly = flag;
    return {up}_OK;
}}
"""

"""Check a generated anomaly library (``MANIFEST.json`` kind "anomaly") against the Python anomaly model.

The library is float32 C, so the check is not byte for byte: on every stored test window the C score must be
within 1e-4 (relative, or absolute near zero) of ``AnomalyModel.score`` of the Python features, and the
decision (``score > threshold``) identical except where the Python score lies within 1e-4 (relative) of the
threshold; those windows are reported in the check's detail. On the host: gcc ``-Werror`` build, and once more
under ASan/UBSan; on the emulated Cortex-M4 (``--target cortex-m4``): the same windows through
``anomaly_m4.run_anomaly_cortex_m4``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler import build
from crisp_eml.compiler.verify_report import Check, VerifyReport
from crisp_eml.core.errors import InputError, VerificationError

RAW = "tests/raw_windows.f32"
ANOMALY_JSON = "tests/anomaly.json"
TOLERANCE = 1e-4


def anomaly_runner(name: str) -> str:
    up = name.upper()
    return f"""/* Host test runner for the anomaly library {name} (generated). usage: runner IN.f32 OUT.bin */
#include <stdio.h>

#include "{name}.h"

int main(int argc, char **argv)
{{
    static float raw[{up}_RAW_INPUT_LEN];
    {name}_result_t res;
    FILE *fi;
    FILE *fo;
    if (argc < 3 || {name}_init() != {up}_OK) {{
        return 2;
    }}
    fi = fopen(argv[1], "rb");
    fo = fopen(argv[2], "wb");
    if (fi == NULL || fo == NULL) {{
        return 2;
    }}
    while (fread(raw, sizeof(float), {up}_RAW_INPUT_LEN, fi) == {up}_RAW_INPUT_LEN) {{
        {name}_status_t st = {name}_run(raw, {up}_RAW_INPUT_LEN, &res);
        if (st != {up}_OK) {{
            fprintf(stderr, "run: %s\\n", {name}_status_str(st));
            return 4;
        }}
        if (fwrite(&res.score, sizeof(float), 1, fo) != 1 || fwrite(&res.is_anomaly, sizeof(int32_t), 1, fo) != 1) {{
            return 5;
        }}
    }}
    fclose(fi);
    fclose(fo);
    return 0;
}}
"""


def python_scores(model: dict[str, Any], dsp: dict[str, Any] | None, dsp_in_c: bool,
                  windows: np.ndarray) -> np.ndarray:
    """The Python pipeline's scores for the stored windows (raw windows through the impulse, or features)."""
    from crisp_eml.learn.anomaly import AnomalyModel

    m = AnomalyModel.from_dict(model)
    if dsp_in_c:
        from crisp_eml.core.impulse import ImpulseSpec
        from crisp_eml.dsp.pipeline import apply_impulse

        spec = ImpulseSpec.from_dict(dsp or {})
        inp: Any = spec.input
        feats = apply_impulse(spec, windows.reshape(len(windows), int(inp.window_len), -1))
    else:
        feats = windows
    return np.asarray(m.score(np.asarray(feats, np.float64)), np.float64)


def compare_scores(c_scores: np.ndarray, c_flags: np.ndarray, py: np.ndarray, threshold: float) -> Check:
    rel = np.abs(c_scores - py) / np.maximum(np.abs(py), 1.0)
    near = np.abs(py - threshold) <= TOLERANCE * max(abs(threshold), 1.0)
    py_flags = (py > threshold).astype(np.int32)
    bad_score = rel > TOLERANCE
    bad_flag = (c_flags != py_flags) & ~near
    mism = int((bad_score | bad_flag).sum())
    detail = {"max_rel_score_diff": float(rel.max()) if len(rel) else 0.0,
              "anomalies_c": int(c_flags.sum()), "anomalies_python": int(py_flags.sum()),
              "near_threshold_windows": [int(i) for i in np.flatnonzero(near)],
              "decisions_differ_near_threshold": int(((c_flags != py_flags) & near).sum())}
    return Check("", len(py), mism, mism == 0 and len(py) > 0, detail)


def _run(exe: Path, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    work = exe.parent
    (work / "in.f32").write_bytes(np.ascontiguousarray(raw, np.float32).tobytes())
    r = build._run([str(exe), str(work / "in.f32"), str(work / "out.bin")])
    if r.returncode != 0:
        raise VerificationError(f"anomaly host runner failed (exit {r.returncode}): {(r.stderr or '').strip()[:2000]}")
    rec = np.frombuffer((work / "out.bin").read_bytes(), dtype=[("score", "<f4"), ("flag", "<i4")])
    return rec["score"].astype(np.float64), rec["flag"].astype(np.int32)


def _host_build(lib_dir: Path, out_dir: Path, name: str, *, sanitize: bool) -> Path:
    cc = build.tool("gcc")
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = out_dir / "runner.c"
    runner.write_text(anomaly_runner(name), encoding="utf-8")
    exe = out_dir / "runner"
    cmd = [cc, *build.WARNINGS, "-O1" if sanitize else "-O2", *(build.SANITIZE if sanitize else []),
           f"-I{lib_dir / 'src'}", *map(str, build._sources(lib_dir)), str(runner), "-o", str(exe), "-lm"]
    r = build._run(cmd)
    if r.returncode != 0:
        raise VerificationError(f"host build failed:\n{r.stderr.strip()[:4000]}")
    return exe


def load_windows(lib_dir: Path, manifest: dict[str, Any]) -> np.ndarray:
    """The stored test windows (``tests/raw_windows.f32``), one row of ``inputs[0].shape[0]`` floats each."""
    try:
        n_in = int(manifest["inputs"][0]["shape"][0])
        windows = np.frombuffer((lib_dir / RAW).read_bytes(), np.float32).reshape(-1, n_in)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"anomaly test windows missing or malformed ({exc}); re-run 'eml compile'",
                         source=str(lib_dir)) from exc
    if len(windows) == 0:
        raise InputError("the anomaly library holds no test windows; re-run 'eml compile'", source=str(lib_dir))
    return windows


def verify_anomaly_library(lib_dir: Path, manifest: dict[str, Any], *, host: bool, sanitize: bool,
                           target: str | None, work: Path) -> VerifyReport:
    if target is not None and target != "cortex-m4":
        raise InputError(f"unknown verification target {target!r}; supported: cortex-m4", field="target")
    name = str(manifest["name"])
    raw = load_windows(lib_dir, manifest)
    try:
        model = json.loads((lib_dir / ANOMALY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{ANOMALY_JSON} missing or malformed ({exc}); re-run 'eml compile'",
                         source=str(lib_dir)) from exc
    py = python_scores(model, manifest.get("dsp"), bool(manifest.get("dsp_in_c")), raw)
    threshold = float(model["threshold"])
    checks: list[Check] = []
    if host:
        runs = [("host-gcc-vs-python", False)] + ([("host-asan-ubsan-vs-python", True)] if sanitize else [])
        for check_name, san in runs:
            exe = _host_build(lib_dir, work / ("asan" if san else "host"), name, sanitize=san)
            scores, flags = _run(exe, raw)
            c = compare_scores(scores, flags, py, threshold)
            c.name = check_name
            checks.append(c)
    if target is not None:
        from crisp_eml.compiler.anomaly_m4 import run_anomaly_cortex_m4

        res = run_anomaly_cortex_m4(lib_dir, raw, work / "m4")
        c = compare_scores(res["scores"], res["flags"], py, threshold)
        c.name = "cortex-m4-qemu-vs-python"
        c.detail.update(instructions_per_inference=res["instructions_per_inference"], sizes=res["sizes"])
        checks.append(c)
    return VerifyReport(name, checks)

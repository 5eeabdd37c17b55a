"""Use case ``profile``: RAM, flash and latency of a compiled model on a catalog target, next to TFLite Micro.

RAM = arena + static state (from the cross build's .data/.bss) + a stack bound (gcc ``-fstack-usage``);
flash = text + rodata + data of the library objects built for the target's QEMU board (``c/boards.py``: its
core's ``-mcpu``); latency = instructions per inference measured on that board (exact, QEMU instruction-count
plugin) x the target's CPI factor / clock; "estimated" when the target has no board of its own (ESP32-S3: the
Cortex-M4 count) or for anomaly scorers (always counted on the Cortex-M4). Linux targets: the host build is
timed instead.

Inside a project (acting member needs COMPILE) the result is saved as a ``compiler.profile`` audit entry
(target, RAM/flash/latency, model sha256, the library's ``optimize`` mode), which ``eml gate`` then uses as
evidence for that model and target.

``optimize`` (``eml profile --optimize``): a model is compiled with that mode (ram | balanced | speed; default
balanced); a library folder is profiled as it was compiled (its MANIFEST.json ``optimize``). ``all`` compiles the
model once per mode and returns the three side by side (RAM, weights, flash, instructions); a comparison is not
one library's figures, so it is never saved as gate evidence.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler.optimize import DEFAULT, MODES
from crisp_eml.core.errors import InputError
from crisp_eml.core.personas import Permission

SAVED_FIELDS = ("arena_bytes", "tflm_arena_bytes", "ram_bytes", "flash_bytes", "static_ram_bytes", "stack_bytes_max",
                "instructions_per_inference", "latency_ms", "latency_method", "optimize")
#: ``eml profile --optimize all``: every mode compared.
ALL = "all"
#: What a comparison keeps of each mode's profile.
COMPARED = ("arena_bytes", "library_ram_bytes", "ram_bytes", "weights_bytes", "flash_bytes", "text_bytes",
            "rodata_bytes", "flash_vs_tflite", "instructions_per_inference", "latency_ms")


def profile(source: str, target_id: str, *, project: Any = None, use_project: bool = True,
            optimize: str | None = None) -> dict[str, Any]:
    """Profile ``source`` on ``target_id``; inside a project also save the figures (``compiler.profile``).
    ``optimize``: the mode a model is compiled with (None: balanced; a library keeps its own), or ``"all"``."""
    from crisp_eml.workspace.compile import _open_project

    if optimize is not None and optimize not in (*MODES, ALL):
        raise InputError(f"'{optimize}' is not an optimisation goal; use one of {', '.join(MODES)} or {ALL} "
                         "(compare them)", field="--optimize")
    if project is None and use_project:
        project = _open_project()
    actor = project.require(Permission.COMPILE) if project is not None else None
    if optimize == ALL:
        return _compare(source, target_id, project)
    out = _measure(source, target_id, project, optimize)
    if project is not None:
        saved = {k: out[k] for k in SAVED_FIELDS if k in out}
        saved.update(target=out["target"]["id"], library=out["library"], model_sha256=out.get("model_sha256"),
                     source=source if source.startswith("models:/") else str(Path(source).resolve()))
        with project.session() as s:
            row = project.record(s, "compiler.profile", saved, actor=actor)
            out["saved_as"] = f"audit #{row.seq}"
    return out


def _compare(source: str, target_id: str, project: Any) -> dict[str, Any]:
    """The model compiled and profiled once per optimisation mode (``eml profile --optimize all``)."""
    if Path(source).is_dir():
        raise InputError("--optimize all compiles the model once per mode; give the model (.tflite or "
                         "models:/NAME@ALIAS), not a compiled library (its mode is its MANIFEST.json's 'optimize')",
                         field="--optimize")
    first = _measure(source, target_id, project, DEFAULT)
    # the same model in every mode: TFLM's arena (a bisection of interpreter runs) is measured once
    runs = {mode: first if mode == DEFAULT else _measure(source, target_id, project, mode,
                                                          tflm_arena=first["tflm_arena_bytes"]) for mode in MODES}
    return {"library": first["library"], "target": first["target"], "model_sha256": first.get("model_sha256"),
            "tflite_bytes": first.get("tflite_bytes"), "tflm_arena_bytes": first.get("tflm_arena_bytes"),
            "optimize": ALL, "default": DEFAULT, "latency_method": first.get("latency_method"),
            "modes": [{"optimize": mode, **{k: r.get(k) for k in COMPARED}} for mode, r in runs.items()],
            "saved": False}


def _library_mode(lib: Path, head: dict[str, Any], optimize: str | None) -> None:
    """Refuse ``--optimize`` naming another mode than the one the library folder was compiled with."""
    if optimize is None:
        return
    if head.get("kind") == "anomaly":
        raise InputError("an anomaly library (float32 scorer) has no optimisation mode; leave --optimize out",
                         field="--optimize", source=str(lib))
    have = head.get("optimize", DEFAULT)
    if optimize != have:
        raise InputError(f"this library was compiled with --optimize {have}; profile the model to measure "
                         f"{optimize} (or compile it with --optimize {optimize})", field="--optimize",
                         source=str(lib))


def _measure(source: str, target_id: str, project: Any, optimize: str | None = None,
             tflm_arena: int | None = None) -> dict[str, Any]:
    """One library's figures; ``tflm_arena``: TFLM's smallest arena for this model when already measured."""
    from crisp_eml.compiler import build, verify
    from crisp_eml.learn.tflm import tflm_min_arena
    from crisp_eml.targets.catalog import get_target

    target = get_target(target_id)
    with tempfile.TemporaryDirectory(prefix="eml-profile-") as tmp:
        src = Path(source)
        if (src / "MANIFEST.json").is_file():
            lib = src
            _library_mode(lib, _manifest(lib), optimize)
        elif src.is_dir():
            raise InputError("folder is not a generated library (no MANIFEST.json)", source=source)
        else:
            from crisp_eml.workspace.compile import compile_model

            compile_model(source, Path(tmp) / "lib", vectors=1, project=project if not src.exists() else None,
                          use_project=False, optimize=optimize)
            lib = Path(tmp) / "lib"
        head = _manifest(lib)
        if head.get("kind") == "anomaly":
            return _measure_anomaly(lib, head, target, Path(tmp))
        vec, _, model, manifest = verify.load_vectors(lib)
        if vec.shape[0] == 0:
            vec = verify.random_vectors(vec.shape[1], 1)
        arena = int(manifest["arena_bytes"])
        out: dict[str, Any] = {"library": manifest["name"], "target": target.to_dict(), "arena_bytes": arena,
                               "model_sha256": manifest.get("model_sha256"),
                               "optimize": manifest.get("optimize", DEFAULT),
                               "weights_bytes": manifest.get("weights_bytes"), "tflite_bytes": len(model),
                               "tflm_arena_bytes": tflm_arena if tflm_arena is not None else tflm_min_arena(model)}
        # the library's own RAM (arena + scratch + state, from the manifest) against TFLM's arena alone
        lib_ram = int(manifest.get("ram_bytes", arena))
        out["library_ram_bytes"] = lib_ram
        out["ram_vs_tflm"] = round(lib_ram / out["tflm_arena_bytes"], 3) if out["tflm_arena_bytes"] else None
        out["memory"] = manifest.get("memory")  # arena, scratch and the op that sets the arena's peak
        if target.kind == "linux":
            out["ram_bytes"] = int(manifest["ram_bytes"])
            if (elsewhere := _other_machine(target)) is not None:
                out.update(latency_ms=None, latency_method=elsewhere)
                return out
            exe = build.host_build(lib, Path(tmp) / "host")
            n_out = int(np.prod(manifest["outputs"][0]["shape"]))
            _, ns = build.host_run(exe, vec[:1], n_out, iterations=50)
            out.update(latency_ms=(ns or 0.0) / 1e6,
                       latency_method="host build (gcc -O3, the library Makefile's default) timed on this machine "
                                      "(50 inferences)")
            return out
        from crisp_eml.compiler.c.boards import get_board

        board = get_board(target.board or "cortex-m4")
        res = build.run_board(lib, vec[:1], Path(tmp) / "m4", board=board.id)
        out.update(_device_figures(res, target, "inference"))
        sizes = res["sizes"]  # text + rodata: the flash a library costs, against the .tflite it came from
        out.update(text_bytes=int(sizes["text"]), rodata_bytes=int(sizes["rodata"]),
                   flash_vs_tflite=round((int(sizes["text"]) + int(sizes["rodata"])) / len(model), 3))
        if board.arm:  # flash by op reads ARM objects (arm-none-eabi binutils)
            _flash_figures(out, lib, Path(tmp) / "m4")
        return out


def _manifest(lib: Path) -> dict[str, Any]:
    """The library's MANIFEST.json, or {} when unreadable (``verify.load_vectors`` then names the problem)."""
    import json

    try:
        head = json.loads((lib / "MANIFEST.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return head if isinstance(head, dict) else {}


def _other_machine(target: Any) -> str | None:
    """Why a Linux target cannot be timed here (another CPU architecture), or None when it can."""
    import platform

    machine = platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
    if machine == target.core.replace("-", "_"):
        return None
    return f"not measurable on this {machine} machine (run 'eml profile' on a {target.core} host)"


def _device_figures(res: dict[str, Any], target: Any, per: str) -> dict[str, Any]:
    """RAM, flash and latency on an MCU target from a QEMU run (``build.run_board`` on the target's board, or
    the Cortex-M4 anomaly runner). The instruction count is "measured" when it ran on the target's own board
    (``target.board``, ``target.count == "measured"``), else "estimated" (another core's count x CPI)."""
    from crisp_eml.compiler.c.boards import get_board

    instr = int(res["instructions_per_inference"] or 0)
    ram = int(res["static_ram_bytes"]) + int(res["stack_bytes_max"])
    ran = get_board(res.get("board", "cortex-m4"))
    how = "exact, QEMU instruction-count plugin" if res.get("count_method") == "plugin" else "SysTick, -icount shift=0"
    count = "measured" if target.count == "measured" and ran.id == target.board else "estimated"
    if count == "measured":
        method = f"measured on QEMU {ran.machine} ({ran.core}): instructions per {per} ({how})"
    else:
        method = f"estimated (CPI x count): {ran.core} instruction count per {per} on QEMU {ran.machine} ({how})"
    return dict(
        static_ram_bytes=int(res["static_ram_bytes"]), stack_bytes_max=int(res["stack_bytes_max"]),
        ram_bytes=ram, flash_bytes=int(res["flash_bytes"]), sections=res["sizes"],
        instructions_per_inference=instr, instruction_count=count, measured_on=ran.machine,
        latency_ms=round(instr * target.cpi / target.clock_hz * 1e3, 3),
        latency_method=f"{method} x CPI {target.cpi} / {target.clock_hz / 1e6:g} MHz",
        fits={"ram": ram <= target.ram_bytes, "flash": int(res["flash_bytes"]) <= target.flash_bytes},
    )


def _flash_figures(out: dict[str, Any], lib: Path, obj_dir: Path) -> None:
    """Flash by op (``compiler.flash.flash_by_op``) from the Cortex-M4 objects, and the library's named linker
    sections (``eml compile --arena-section/--weights-section``): those go where the user's linker script puts
    them (external memory), so ``flash_bytes``/``ram_bytes`` keep counting the standard sections only."""
    from crisp_eml.compiler.flash import flash_by_op

    by_op = flash_by_op(lib, obj_dir)
    out["flash_by_op"] = by_op
    named = {k: v for k, v in by_op["sections"].items() if k not in ("text", "rodata", "data", "bss")}
    if named:
        out["named_sections"] = named


def _measure_anomaly(lib: Path, manifest: dict[str, Any], target: Any, tmp: Path) -> dict[str, Any]:
    """An anomaly library (float32 scorer, no arena, no TFLite Micro counterpart) on ``target``."""
    import time

    from crisp_eml.compiler import anomaly_verify

    windows = anomaly_verify.load_windows(lib, manifest)
    out: dict[str, Any] = {"library": manifest["name"], "target": target.to_dict(), "kind": "anomaly",
                           "arena_bytes": 0, "model_sha256": manifest.get("model_sha256"), "optimize": None,
                           "tflm_arena_bytes": None, "ram_vs_tflm": None}
    if target.kind == "linux":
        out["ram_bytes"] = int(manifest["ram_bytes"])
        if (elsewhere := _other_machine(target)) is not None:
            out.update(latency_ms=None, latency_method=elsewhere)
            return out
        exe = anomaly_verify._host_build(lib, tmp / "host", str(manifest["name"]), sanitize=False)
        reps = np.tile(windows, (max(1, 2000 // len(windows)), 1))
        t0 = time.perf_counter()
        anomaly_verify._run(exe, reps)
        per = (time.perf_counter() - t0) / len(reps)
        out.update(latency_ms=per * 1e3, latency_method=f"host build (gcc -O2): wall time of scoring {len(reps)} "
                                                        "windows in one process / windows (start-up included)")
        return out
    from crisp_eml.compiler.anomaly_m4 import run_anomaly_cortex_m4

    out.update(_device_figures(run_anomaly_cortex_m4(lib, windows[:1], tmp / "m4"), target, "<name>_run call"))
    return out

"""CLI for the compiler: ``eml compile``, ``eml verify`` and ``eml profile`` (thin: parse, call, render)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import BACKGROUND, print_json, print_table
from crisp_eml.core.errors import VerificationError

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def compile_cmd(
    model: Annotated[str | None, typer.Argument(help="int8 .tflite file (or use --model models:/name@alias).")] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output: the C library folder, or what --format writes "
                                      "(an executable for eim/linux, a folder, a .zip for arduino).")]
    = Path("eml_model"),
    model_uri: Annotated[str | None, typer.Option("--model", help="Registered model, e.g. models:/kws@production.")]
    = None,
    name: Annotated[str | None, typer.Option("--name", help="C prefix of the library (default: model name).")] = None,
    vectors: Annotated[int, typer.Option("--vectors", help="Random test vectors to write (with TFLM outputs).")] = 8,
    labels: Annotated[str | None, typer.Option("--labels", help="Comma-separated output labels.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="Deployment format (see 'eml formats'): c (the library "
                                     "folder), arduino, cmake, eim, linux, wasm. An ungated development build; "
                                     "'eml deploy --format' is the gated, signed path.")] = "c",
    arch: Annotated[str | None, typer.Option("--arch", help="CPU architecture for eim/linux: x86_64 (default) or "
                                             "aarch64.")] = None,
    background: Annotated[bool, typer.Option("--background", help="Compile, then verify (--host), as a background "
                                                                   "job: print the job id and return at once (see "
                                                                   "'eml jobs').")] = False,
    arena_section: Annotated[str | None, typer.Option("--arena-section", help="Linker section for the arena and "
                                                      "scratch (external RAM), e.g. .ext_ram; writes "
                                                      "linker/example_external.ld.")] = None,
    weights_section: Annotated[str | None, typer.Option("--weights-section", help="Linker section for every "
                                                        "constant weight array (external flash), e.g. "
                                                        ".ext_flash.")] = None,
    optimize: Annotated[str | None, typer.Option("--optimize", help="What the C library's kernels favour: ram "
                                                 "(least scratch), balanced (int8 weights in flash, fast kernels "
                                                 "with small scratch; the default) or speed (may widen weights "
                                                 "for fewer instructions). Recorded in MANIFEST.json.")] = None,
    json_out: JSON = False,
) -> None:
    """Compile an int8 TFLite model into a dependency-free C99 library (bit-exact with TFLite Micro)."""
    from crisp_eml.compiler.optimize import check_optimize
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.compile import compile_model

    check_optimize(optimize)  # a bad value is refused before anything is read or written
    if model_uri is not None and not model_uri.strip().startswith("models:/"):
        raise InputError("not a model URI: --model takes models:/NAME@ALIAS or models:/NAME/VERSION "
                         "(give a .tflite file as the argument)", field="model", source=model_uri)
    src = model_uri or model
    if not src:
        raise InputError("give a .tflite file or --model models:/name@alias")
    label_list = [x.strip() for x in labels.split(",")] if labels else None
    if fmt != "c" or arch is not None:
        if arena_section or weights_section:
            raise InputError("--arena-section/--weights-section place the C library's memory; use them with "
                             "--format c", field="--arena-section" if arena_section else "--weights-section")
        if optimize is not None:
            raise InputError("--optimize chooses the C library's kernels and weight layouts; use it with --format c "
                             "(the other formats build the balanced library)", field="--optimize")
        return _compile_format(src, fmt, out, arch=arch, name=name, labels=label_list, force=force,
                               background=background, json_out=json_out)
    if background:
        from crisp_eml.cli.jobs import run_in_background

        return run_in_background("compile", {"model": src, "out": str(out), "name": name, "vectors": vectors,
                                             "labels": [x.strip() for x in labels.split(",")] if labels else None,
                                             "force": force, "verify": True, "arena_section": arena_section,
                                             "weights_section": weights_section, "optimize": optimize},
                                 json_out)
    r = compile_model(src, out, name=name, vectors=vectors, force=force,
                      labels=[s.strip() for s in labels.split(",")] if labels else None, arena_section=arena_section,
                      weights_section=weights_section, optimize=optimize)
    if json_out:
        print_json(r.to_dict())
        return
    how = f", --optimize {r.optimize}" if r.optimize else ""
    typer.echo(f"Wrote C library '{r.name}' to {r.out_dir}: arena {r.arena_bytes} B, RAM {r.ram_bytes} B, "
               f"weights {r.weights_bytes} B, {len(r.ops)} layers, {r.vectors} test vectors{how}")


def _compile_format(src: str, fmt: str, out: Path, *, arch: str | None, name: str | None,
                    labels: list[str] | None, force: bool, background: bool, json_out: bool) -> None:
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.formats import compile_format

    if background:
        raise InputError("--background builds the C library only; run 'eml compile --format' in the foreground",
                         field="background")
    r = compile_format(src, fmt, out, arch=arch, name=name, labels=labels, force=force)
    if json_out:
        print_json(r)
        return
    arch_note = f" for {r['arch']}" if r["arch"] else ""
    typer.echo(f"Wrote {r['format']}{arch_note} ({r['kind']}) of '{r['library']}' to {r['out']}: "
               f"{len(r['files'])} files, post-processing: {r['postprocess']['source']}")


def verify_cmd(
    directory: Annotated[Path, typer.Argument(help="Library folder written by 'eml compile'.")],
    host: Annotated[bool, typer.Option("--host", help="Build with gcc (and ASan/UBSan) and compare.")] = False,
    target: Annotated[str | None, typer.Option("--target", help=(
        "Core to emulate on QEMU: cortex-m0, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55, riscv32 "
        "(anomaly libraries: cortex-m4)."))] = None,
    no_sanitize: Annotated[bool, typer.Option("--no-sanitize", help="Skip the ASan/UBSan host build.")] = False,
    json_out: JSON = False,
) -> None:
    """Check the library's outputs byte for byte against the TFLite Micro interpreter; exit 0 only if identical."""
    from crisp_eml.workspace.verify import verify_library

    report = verify_library(directory, host=host or target is None, target=target, sanitize=not no_sanitize)
    if json_out:
        print_json(report.to_dict())
    else:
        print_table(f"verify {report.library}", ["check", "vectors", "mismatched bytes", "identical", "detail"],
                    [[c.name, c.vectors, c.mismatched_bytes, "yes" if c.identical else "NO",
                      ", ".join(f"{k}={v}" for k, v in c.detail.items())] for c in report.checks])
        if report.note:
            typer.echo(f"note: {report.note}", err=True)
    if not report.ok:
        failed = [c.name for c in report.checks if not c.identical]
        what = "the Python anomaly model" if any("python" in n for n in failed) else "TFLite Micro"
        raise VerificationError(f"outputs differ from {what}: {', '.join(failed)}")


def profile_cmd(
    source: Annotated[str, typer.Argument(help="int8 .tflite, models:/name@alias or a compiled library folder.")],
    target: Annotated[str, typer.Option("--target", help="Catalog target id, e.g. cortex-m4f-80mhz.")]
    = "cortex-m4f-80mhz",
    optimize: Annotated[str | None, typer.Option("--optimize", help="Compile the model with ram, balanced (the "
                                                 "default) or speed; 'all' compiles it with each and compares "
                                                 "them (not saved as gate evidence). A library folder is profiled "
                                                 "with the mode it was compiled with.")] = None,
    background: BACKGROUND = False,
    json_out: JSON = False,
) -> None:
    """RAM, flash and latency of the compiled model on a target, next to TFLite Micro's smallest arena."""
    from crisp_eml.workspace.profile import profile

    if background:
        from crisp_eml.cli.jobs import run_in_background

        return run_in_background("profile", {"source": source, "target": target, "optimize": optimize}, json_out)
    r = profile(source, target, optimize=optimize)
    if json_out:
        print_json(r)
        return
    if "modes" in r:
        return _compare_table(r)
    rows = [["target", r["target"]["name"]], ["optimize", r.get("optimize") or "- (anomaly scorer)"],
            ["arena (ours)", f"{r['arena_bytes']} B"]]
    if r["tflm_arena_bytes"] is None:
        rows.append(["TFLM smallest arena", "- (anomaly scorer: no TFLite Micro model)"])
    else:
        rows += [["TFLM smallest arena", f"{r['tflm_arena_bytes']} B"], ["library RAM / TFLM arena", r["ram_vs_tflm"]]]
    rows.append(["RAM total", f"{r['ram_bytes']} B"])
    if (peak := (r.get("memory") or {}).get("peak_op")):
        rows.append(["arena peak at", f"op {peak['op']} {peak['type']} ({peak['live_bytes']} B live)"])
    if "flash_bytes" in r:
        rows += [["flash", f"{r['flash_bytes']} B"], ["instructions / inference", r["instructions_per_inference"]]]
    latency = "-" if r["latency_ms"] is None else f"{r['latency_ms']:.3f} ms"
    rows += [["latency", latency], ["method", r["latency_method"]]]
    for sec, size in (r.get("named_sections") or {}).items():
        rows.append([f"section {sec} (linker script's memory)", f"{size} B"])
    if "saved_as" in r:
        rows.append(["saved (gate evidence)", r["saved_as"]])
    print_table(f"profile {r['library']}", ["", "value"], rows)
    if r.get("flash_by_op"):
        _flash_table(r["flash_by_op"])


def _compare_table(r: dict[str, Any]) -> None:
    """``eml profile --optimize all``: one column per mode."""
    def b(v: Any) -> str:
        return "-" if v is None else f"{v} B"

    modes = r["modes"]
    rows = [[what, *[fmt(m.get(key)) for m in modes]] for what, key, fmt in (
        ("arena", "arena_bytes", b), ("library RAM (manifest)", "library_ram_bytes", b),
        ("RAM total (cross build)", "ram_bytes", b), ("weights", "weights_bytes", b),
        ("flash (text + rodata + data)", "flash_bytes", b), ("text", "text_bytes", b), ("rodata", "rodata_bytes", b),
        ("text + rodata / .tflite", "flash_vs_tflite", lambda v: "-" if v is None else f"{v:.3f}"),
        ("instructions / inference", "instructions_per_inference", lambda v: "-" if v is None else str(v)),
        ("latency", "latency_ms", lambda v: "-" if v is None else f"{v:.3f} ms"))]
    print_table(f"profile {r['library']}: --optimize compared", ["", *[m["optimize"] for m in modes]], rows)
    typer.echo(f"target {r['target']['name']}; .tflite {r['tflite_bytes']} B; TFLM smallest arena "
               f"{r['tflm_arena_bytes']} B; default mode {r['default']}; a comparison is not saved as gate evidence")


def _flash_table(f: dict[str, Any]) -> None:
    rows = [[o["op"], o["type"], o["const_bytes"], o["shared_const_bytes"] or "", o["kernel"] or "-",
             f"{o['kernel_code_bytes']}" + (f" (shared by {o['kernel_shared_by_ops']} ops)"
                                            if o["kernel_shared_by_ops"] > 1 else "")] for o in f["ops"]]
    un = f["unattributed"]
    rows += [["", "total", f["const_bytes_total"], "", f"{len(f['kernel_functions'])} kernel functions",
              f["kernel_code_bytes_total"]],
             ["", "unattributed", "", "", f"model code {un['model_functions_bytes']} B, other functions "
              f"{sum(un['other_functions'].values())} B, other {un['other_bytes']} B", f["unattributed_bytes"]]]
    print_table(f"flash by op ({f['flash_bytes']} B; identical constants shared: {f['dedup_saved_bytes']} B saved)",
                ["op", "type", "const B", "shared const B", "kernel", "kernel code B"], rows)


def targets_cmd(json_out: JSON = False) -> None:
    """List the target device catalog."""
    from crisp_eml.targets.catalog import TARGETS

    if json_out:
        print_json([t.to_dict() for t in TARGETS.values()])
        return
    print_table("targets", ["id", "core", "MHz", "RAM KiB", "flash KiB", "FPU", "DSP", "CPI", "instruction count"],
                [[t.id, t.core, t.clock_hz / 1e6 or "-", t.ram_bytes // 1024 or "-", t.flash_bytes // 1024 or "-",
                  t.fpu, t.dsp_extension, t.cpi or "-", t.count_source()] for t in TARGETS.values()])


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_cmd)
    app.command("verify")(verify_cmd)
    app.command("profile")(profile_cmd)
    app.command("targets")(targets_cmd)

"""Native builds of a generated library with a runtime around it: static ``.eim`` and command-line runners for
x86-64 and aarch64 Linux (Debian's gcc and gcc-aarch64-linux-gnu), and the shared object the ctypes engine loads.

Every build stages the same sources (the library's ``src/``, the ``eml_model`` glue, the runtime's own C files)
into a scratch folder, compiles with warnings as errors and writes the result atomically, so a failed build
leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from crisp_eml.compiler.c import POSTPROCESS_FILES, whole_source
from crisp_eml.core.errors import InputError, ToolMissingError, VerificationError
from crisp_eml.core.postprocess import PostprocessConfig
from crisp_eml.runtime.glue import render_glue

#: arch -> (C compiler, Debian package)
TOOLCHAINS = {"x86_64": ("gcc", "gcc"), "aarch64": ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")}
#: program -> the runtime C files it is made of (besides the library and the glue)
PROGRAMS = {"eim": ("eim_main.c", "eml_json.c", "eml_stream.c"),
            "linux": ("linux_main.c", "eml_json.c", "eml_stream.c")}
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L")


def runtime_source(filename: str) -> str:
    """A C file of the runtime (``crisp_eml/runtime/c``)."""
    return resources.files("crisp_eml.runtime").joinpath("c", filename).read_text(encoding="utf-8")


def compiler_for(arch: str) -> str:
    if arch not in TOOLCHAINS:
        raise InputError(f"unknown architecture {arch!r}; one of {', '.join(TOOLCHAINS)}", field="arch")
    exe, package = TOOLCHAINS[arch]
    path = shutil.which(exe)
    if path is None:
        raise ToolMissingError(f"{exe} is not installed (Debian: apt-get install {package})")
    return path


def stage_sources(lib_dir: Path, work_dir: Path, *, project: dict[str, Any] | None = None,
                  postprocess: PostprocessConfig | None = None, slices_per_window: int | None = None,
                  runtime_files: tuple[str, ...] = ("eml_stream.c",)) -> list[Path]:
    """Copy the library sources, the glue and the named runtime files (with their headers) into ``work_dir``;
    return the ``.c`` files to compile (the include folder is ``work_dir``)."""
    src = lib_dir / "src"
    if not src.is_dir():
        raise InputError("not a compiled library (no src/ folder)", source=str(lib_dir))
    work_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        if f.suffix in (".c", ".h"):
            shutil.copyfile(f, work_dir / f.name)
    for name in POSTPROCESS_FILES:  # the stream driver needs them; anomaly libraries do not carry them
        if not (work_dir / name).exists():
            (work_dir / name).write_text(whole_source(name), encoding="utf-8")
    for rel, text in render_glue(lib_dir, project=project, postprocess=postprocess,
                                 slices_per_window=slices_per_window).items():
        (work_dir / rel).write_text(text, encoding="utf-8")
    for name in runtime_files:
        (work_dir / name).write_text(runtime_source(name), encoding="utf-8")
        header = name[:-2] + ".h"
        if resources.files("crisp_eml.runtime").joinpath("c", header).is_file():
            (work_dir / header).write_text(runtime_source(header), encoding="utf-8")
    return sorted(p for p in work_dir.iterdir() if p.suffix == ".c")


def _compile(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VerificationError(f"building {what} failed: {(proc.stderr or proc.stdout)[-2000:]}")


def publish(built: Path, out: Path) -> Path:
    """Move ``built`` (a file or a folder) to ``out`` through a hidden sibling, replacing what was there; a
    failure leaves the previous ``out`` in place."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        target = staging / "x"
        shutil.move(str(built), target)
        old = staging / "old"
        had_old = out.exists() or out.is_symlink()
        if had_old:
            os.replace(out, old)
        try:
            os.replace(target, out)
        except OSError:
            if had_old:
                os.replace(old, out)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def build_program(lib_dir: Path, program: str, out: Path, *, arch: str = "x86_64",
                  project: dict[str, Any] | None = None, postprocess: PostprocessConfig | None = None,
                  slices_per_window: int | None = None, extra_cflags: tuple[str, ...] = ()) -> Path:
    """A static executable: ``eim`` (the Edge Impulse runner protocol) or ``linux`` (command-line runner)."""
    if program not in PROGRAMS:
        raise InputError(f"unknown program {program!r}; one of {', '.join(PROGRAMS)}", field="program")
    cc = compiler_for(arch)
    with tempfile.TemporaryDirectory(prefix="eml-build-") as tmp:
        work = Path(tmp)
        sources = stage_sources(lib_dir, work / "src", project=project, postprocess=postprocess,
                                slices_per_window=slices_per_window, runtime_files=PROGRAMS[program])
        exe = work / "prog"
        _compile([cc, *CFLAGS, *extra_cflags, "-static", "-I", str(work / "src"), *map(str, sources),
                  "-o", str(exe), "-lm"], f"the {program} runner for {arch}")
        exe.chmod(0o755)
        return publish(exe, out)


def build_shared(lib_dir: Path, out_dir: Path, *, project: dict[str, Any] | None = None,
                 postprocess: PostprocessConfig | None = None, slices_per_window: int | None = None) -> Path:
    """``libeml_model.so`` (library + glue + stream driver) for :class:`crisp_eml.runtime.engine.Engine`."""
    cc = compiler_for("x86_64")
    with tempfile.TemporaryDirectory(prefix="eml-build-") as tmp:
        work = Path(tmp)
        sources = stage_sources(lib_dir, work / "src", project=project, postprocess=postprocess,
                                slices_per_window=slices_per_window)
        so = work / "libeml_model.so"
        _compile([cc, *CFLAGS, "-shared", "-fPIC", "-I", str(work / "src"), *map(str, sources), "-o", str(so),
                  "-lm"], "the shared model library")
        so.chmod(0o755)
        return publish(so, out_dir / "libeml_model.so")

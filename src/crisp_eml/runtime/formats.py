"""The deployment formats a compiled library can be shipped in, and the one entry point that builds any of them.

``eml formats`` lists this catalog, ``eml compile --format`` (ungated development build) and ``eml deploy
--format`` (gated, signed bundle) call :func:`build_format`. Each format says what it is, what must be installed
here to build it (Debian packages), which CPU architectures it targets and what it writes (a folder, a single
executable, or a folder that may be zipped). Every output carries ``postprocess.json`` - the post-processing
setting compiled into it and where that came from - except the plain ``c`` library, which stays exactly what
``eml compile`` always wrote (it has no model glue, so no setting is compiled into it).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import InputError, ToolMissingError
from crisp_eml.core.postprocess import PostprocessConfig

ARCHS = ("x86_64", "aarch64")
DEFAULT_ARCH = "x86_64"
POSTPROCESS_JSON = "postprocess.json"
#: arch -> (C compiler, Debian package) for the static executables (same table as runtime.build)
_GCC = {"x86_64": ("gcc", "gcc"), "aarch64": ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")}


@dataclass(frozen=True)
class Tool:
    """An executable the build runs here, and the Debian package that installs it."""

    executable: str
    package: str

    def present(self) -> bool:
        return shutil.which(self.executable) is not None


@dataclass(frozen=True)
class Format:
    id: str
    description: str
    output: str  # "folder" | "executable" | "folder or .zip"
    archs: tuple[str, ...]  # () = architecture-independent (sources or WebAssembly)
    on_device: str  # what the device (or the machine building for it) needs
    supports_anomaly_only: bool  # can be built from an anomaly-only library (no classifier)
    tools_by_arch: tuple[tuple[str, tuple[Tool, ...]], ...] = ()  # arch ("" = any) -> tools run here

    def tools(self, arch: str | None = None) -> tuple[Tool, ...]:
        table = dict(self.tools_by_arch)
        return table.get(arch or DEFAULT_ARCH, table.get("", ()))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("tools_by_arch")
        d["archs"] = list(self.archs)
        d["needs"] = {arch or "any": [{"tool": t.executable, "debian_package": t.package, "present": t.present()}
                                      for t in tools] for arch, tools in self.tools_by_arch}
        d["ready"] = all(t.present() for _arch, tools in self.tools_by_arch for t in tools)
        return d


def _gcc(arch: str) -> Tool:
    return Tool(*_GCC[arch])


FORMATS: dict[str, Format] = {f.id: f for f in (
    Format("c", "the C99 library folder 'eml compile' writes (sources, Makefile, CMakeLists.txt, manifest)",
           "folder", (), "any C99 compiler", True),
    Format("arduino", "an Arduino library (library.properties, src/ with the model, post-processing and stream "
                      "code) with an example sketch that classifies windows read from Serial",
           "folder or .zip", (), "Arduino IDE or arduino-cli (any board with enough RAM)", True),
    Format("cmake", "a CMake project: a static library (model + runtime) and the command-line runner example",
           "folder", (), "cmake (Debian: cmake) and a C99 compiler", True),
    Format("eim", "a static Linux executable speaking the Edge Impulse runner protocol (model.eim SOCKET)",
           "executable", ARCHS, "Linux; the Edge Impulse Linux SDK (Python or Node) to drive it", True,
           tuple((a, (_gcc(a),)) for a in ARCHS)),
    Format("linux", "a static Linux command-line runner (classifies CSV windows or a stream, JSON lines out)",
           "executable", ARCHS, "Linux (nothing else: statically linked)", True,
           tuple((a, (_gcc(a),)) for a in ARCHS)),
    Format("wasm", "a WebAssembly module with an ES module wrapper (classify(Float32Array)) and a demo page",
           "folder", (), "a browser or Node.js", True, (("", (Tool("emcc", "emscripten"),)),)),
)}


def check_format(fmt: str, arch: str | None = None) -> tuple[Format, str | None]:
    """The format and the architecture to build for; InputError naming the field and the choices."""
    f = FORMATS.get(fmt)
    if f is None:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", field="format")
    if arch is not None and arch not in ARCHS:
        raise InputError(f"unknown architecture {arch!r}; one of {', '.join(ARCHS)}", field="arch")
    if not f.archs:
        if arch is not None:
            with_arch = ", ".join(x.id for x in FORMATS.values() if x.archs)
            raise InputError(f"format {fmt!r} does not depend on the CPU architecture (--arch applies to "
                             f"{with_arch})", field="arch")
        return f, None
    return f, arch or DEFAULT_ARCH


def require_tools(f: Format, arch: str | None) -> None:
    """ToolMissingError naming the Debian package of the first tool the build needs and does not find."""
    for tool in f.tools(arch):
        if not tool.present():
            where = f" for {arch}" if arch else ""
            raise ToolMissingError(f"format {f.id}{where} needs {tool.executable}, which is not installed "
                                   f"(Debian: apt-get install {tool.package})")


def anomaly_formats() -> list[str]:
    return [f.id for f in FORMATS.values() if f.supports_anomaly_only]


def check_library_kind(f: Format, lib_dir: Path) -> None:
    """Refuse a format that cannot serve an anomaly-only library, naming those that can."""
    from crisp_eml.runtime.glue import read_manifest

    if read_manifest(lib_dir).get("kind") == "anomaly" and not f.supports_anomaly_only:
        raise InputError(f"{lib_dir.name} is an anomaly-only library; format {f.id!r} needs a classifier. "
                         f"Anomaly-only libraries deploy as: {', '.join(anomaly_formats())}", field="format")


def postprocess_record(lib_dir: Path, postprocess: PostprocessConfig | None, source: str) -> dict[str, Any]:
    """What ``postprocess.json`` says: the setting compiled in (the defaults when none was chosen) and its origin."""
    from crisp_eml.runtime.glue import default_postprocess, model_shape

    shape = model_shape(lib_dir)
    rec: dict[str, Any] = {"source": source if postprocess is not None else "defaults",
                           "setting": (postprocess or default_postprocess(shape)).to_dict(),
                           "slices_per_window": shape.slices_per_window, "slice_rows": shape.slice_rows,
                           "step_ms": shape.step_ms}
    if not shape.is_classifier:
        rec["note"] = "anomaly scorer: no labels to detect, the post-processing does not apply"
    return rec


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _copy_library(lib_dir: Path, out: Path) -> None:
    """The library's sources, build files and manifest (test vectors stay behind)."""
    for p in sorted(lib_dir.rglob("*")):
        rel = p.relative_to(lib_dir)
        if p.is_file() and rel.parts[0] != "tests":
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, out / rel)


def _build_program(program: str) -> Callable[..., None]:
    def build(lib_dir: Path, work: Path, *, arch: str | None, project_info: dict[str, Any] | None,
              postprocess: PostprocessConfig | None) -> None:
        from crisp_eml.runtime.build import build_program

        build_program(lib_dir, program, work / "out", arch=arch or DEFAULT_ARCH, project=project_info,
                      postprocess=postprocess)

    return build


def _build_wasm(lib_dir: Path, work: Path, *, arch: str | None, project_info: dict[str, Any] | None,
                postprocess: PostprocessConfig | None) -> None:
    from crisp_eml.runtime.wasm_build import build_wasm

    build_wasm(lib_dir, work / "out", project=project_info, postprocess=postprocess)


def _build_c(lib_dir: Path, work: Path, *, arch: str | None, project_info: dict[str, Any] | None,
             postprocess: PostprocessConfig | None) -> None:
    _copy_library(lib_dir, work / "out")


def _build_arduino(lib_dir: Path, work: Path, *, arch: str | None, project_info: dict[str, Any] | None,
                   postprocess: PostprocessConfig | None) -> None:
    from crisp_eml.runtime.arduino import write_arduino_library

    write_arduino_library(lib_dir, work / "out", project=project_info, postprocess=postprocess)


def _build_cmake(lib_dir: Path, work: Path, *, arch: str | None, project_info: dict[str, Any] | None,
                 postprocess: PostprocessConfig | None) -> None:
    from crisp_eml.runtime.cmake_project import write_cmake_project

    write_cmake_project(lib_dir, work / "out", project=project_info, postprocess=postprocess)


_BUILDERS: dict[str, Callable[..., None]] = {"c": _build_c, "arduino": _build_arduino, "cmake": _build_cmake,
                                             "eim": _build_program("eim"), "linux": _build_program("linux"),
                                             "wasm": _build_wasm}


def _zip_folder(folder: Path, zip_path: Path, top: str) -> None:
    import zipfile

    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zi = zipfile.ZipInfo(f"{top}/{p.relative_to(folder).as_posix()}", date_time=(1980, 1, 1, 0, 0, 0))
                zi.external_attr = (0o755 if os.access(p, os.X_OK) else 0o644) << 16
                zi.create_system = 3
                zf.writestr(zi, p.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)


def build_format(fmt: str, lib_dir: Path, out: Path, *, arch: str | None = None,
                 project_info: dict[str, Any] | None = None, postprocess: PostprocessConfig | None = None,
                 postprocess_source: str = "defaults") -> dict[str, Any]:
    """Build ``fmt`` from the compiled library ``lib_dir`` at ``out`` (replaced atomically; nothing is left
    behind on error). Returns what was written: format, arch, out, kind, files (relative paths) and the
    post-processing record (written as ``postprocess.json`` into a folder, next to an executable as
    ``OUT.postprocess.json``)."""
    from crisp_eml.runtime.build import publish

    f, arch = check_format(fmt, arch)
    check_library_kind(f, lib_dir)
    require_tools(f, arch)
    out = out.resolve()
    pp = None if f.id == "c" else postprocess_record(lib_dir, postprocess, postprocess_source)
    zipped = f.output == "folder or .zip" and out.suffix.lower() == ".zip"
    with tempfile.TemporaryDirectory(prefix="eml-format-") as tmp:
        work = Path(tmp)
        _BUILDERS[f.id](lib_dir, work, arch=arch, project_info=project_info, postprocess=postprocess)
        built = work / "out"
        if built.is_dir():
            if pp is not None:
                _write_json(built / POSTPROCESS_JSON, pp)
            files = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file())
            if zipped:
                _zip_folder(built, work / "out.zip", out.stem)
                built = work / "out.zip"
                files = [f"{out.stem}/{rel}" for rel in files]
            publish(built, out)
        else:
            files = [out.name, out.name + "." + POSTPROCESS_JSON]
            _write_json(work / "pp.json", pp)
            sidecar = out.with_name(files[1])
            publish(work / "pp.json", sidecar)
            try:
                publish(built, out)
            except BaseException:
                sidecar.unlink(missing_ok=True)
                raise
    kind = "zip" if zipped else ("folder" if out.is_dir() else "executable")
    return {"format": f.id, "arch": arch, "out": str(out), "kind": kind, "files": files, "postprocess": pp}

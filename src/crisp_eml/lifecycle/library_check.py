"""Check that a compiled library folder is exactly what ``eml compile`` writes for a model version.

A gate must not trust RAM/flash figures anyone can edit: ``MANIFEST.json`` is a plain file, and its
``sources_sha256`` does not cover the manifest itself. The compiler is deterministic, so the check re-derives
the library from the model bytes the registry holds (the blob named by the manifest's ``model_sha256``, which
must be the model version's own artifact) with the options the manifest states (name, labels, DSP spec,
linker sections, ``optimize``: ram | balanced | speed, balanced when absent),
and requires every generated file, ``MANIFEST.json`` included, to be byte-identical. A lowered ``ram_bytes``,
an edited source, an extra ``src/*.c`` or a library compiled by another crisp-eml version is refused, naming
the file (and field). The one thing the manifest does not state, the model name in the C source's first
comment (the stem of the path ``eml compile`` read), is taken from that comment. Files under ``tests/`` (test
vectors written at compile time) are not part of the library build; they are hashed into the library's
identity but not re-derived.

The result's :meth:`CheckedLibrary.identity` is what a gate records as its evidence and what ``eml deploy``
compares with the library it ships; :attr:`CheckedLibrary.files` holds the bytes that were checked, so the
caller ships exactly those (no second read that could see other bytes).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import InputError, NotFoundError, VerificationError

_MANIFEST_SIZES = ("arena_bytes", "ram_bytes", "weights_bytes")
_MANIFEST_OPTIONAL = ("flash_bytes", "latency_ms", "estimated_latency_ms")


def library_manifest(path: Path) -> dict[str, Any]:
    """Read ``MANIFEST.json`` from a compiled library folder (or the file itself)."""
    f = path / "MANIFEST.json" if path.is_dir() else path
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no MANIFEST.json: not a compiled library folder", source=str(path)) from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable MANIFEST.json: {exc}", source=str(f)) from exc
    if not isinstance(data, dict):
        raise InputError("MANIFEST.json is not an object", source=str(f))
    for key in _MANIFEST_SIZES:
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            what = "is missing" if key not in data else f"is {value!r}, not a byte count"
            raise InputError(f"MANIFEST.json field {key!r} {what}: not a library `eml compile` wrote",
                             source=str(f))
    for key in _MANIFEST_OPTIONAL:
        value = data.get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)
                                  or not math.isfinite(value) or value < 0):
            raise InputError(f"MANIFEST.json field {key!r} is {value!r}, not a non-negative number", source=str(f))
    return data


ANOMALY_ARTIFACT = "anomaly.json"
TESTS_DIR = "tests/"
#: The size figures a manifest carries (those present are part of the identity a gate records).
FIGURES = ("arena_bytes", "ram_bytes", "scratch_bytes", "weights_bytes", "flash_bytes", "stack_bytes_estimate")


@dataclass(frozen=True)
class CheckedLibrary:
    path: Path
    manifest: dict[str, Any]
    files: dict[str, bytes]  # every file of the folder, by posix path relative to it

    @property
    def sources_sha256(self) -> str:
        return str(self.manifest.get("sources_sha256"))

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.files["MANIFEST.json"]).hexdigest()

    @property
    def files_sha256(self) -> str:
        """One digest over every file (path and content), test vectors included."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(f"{rel}\0{hashlib.sha256(self.files[rel]).hexdigest()}\n".encode())
        return h.hexdigest()

    def identity(self) -> dict[str, Any]:
        """What a gate records about the library it checked, and what deploy compares."""
        out: dict[str, Any] = {"out": str(self.path), "name": self.manifest.get("name"),
                               "generator": self.manifest.get("generator"),
                               "model_sha256": self.manifest.get("model_sha256"),
                               "sources_sha256": self.sources_sha256, "manifest_sha256": self.manifest_sha256,
                               "files_sha256": self.files_sha256,
                               "verified": "re-derived from the model by the compiler: byte-identical"}
        out.update({k: self.manifest[k] for k in FIGURES if k in self.manifest})
        return out


def expected_model_digest(artifacts: Mapping[str, Any], kind: str | None) -> str | None:
    """The blob digest (sha256) of the artifact a library of ``kind`` is compiled from."""
    if kind == "anomaly":
        v = artifacts.get(ANOMALY_ARTIFACT)
        return v if isinstance(v, str) else None
    for name in ("model_int8.tflite", "int8.tflite", "model.tflite"):
        if isinstance(artifacts.get(name), str):
            return str(artifacts[name])
    return next((str(v) for k, v in sorted(artifacts.items())
                 if "int8" in k and k.endswith(".tflite") and isinstance(v, str)), None)


def read_folder(lib: Path) -> dict[str, bytes]:
    """Every regular file under ``lib`` by posix relative path; a symbolic link is refused."""
    files: dict[str, bytes] = {}
    try:
        for p in sorted(lib.rglob("*")):
            if p.is_symlink():
                raise InputError("the library folder contains a symbolic link", source=str(p))
            if p.is_file():
                files[p.relative_to(lib).as_posix()] = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the library: {exc.strerror or exc}", source=str(lib)) from exc
    return files


def _model_name(source_c: bytes | None) -> str | None:
    """The model name the C source's first-line comment states (the stem of the path ``eml compile`` read,
    which the manifest does not record; a comment, so it cannot change a figure)."""
    first = (source_c or b"").split(b"\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"; do not edit\. Model '(.*)', \d+ layers\. \*/$", first)
    return m.group(1) if m else None


def _render(manifest: Mapping[str, Any], data: bytes, digest: str, source: str,
            files: Mapping[str, bytes]) -> dict[str, str]:
    """The files the compiler writes for ``data`` with the options ``manifest`` states."""
    name, labels, dsp = manifest.get("name"), manifest.get("labels", []), manifest.get("dsp")
    if not isinstance(name, str) or not isinstance(labels, list) or not all(isinstance(x, str) for x in labels) \
            or not (dsp is None or isinstance(dsp, dict)):
        raise VerificationError(f"{source}: MANIFEST.json's name/labels/dsp are not what eml compile writes")
    try:
        if manifest.get("kind") == "anomaly":
            from crisp_eml.compiler.anomaly_lib import render_anomaly_library

            model = json.loads(data)
            if not isinstance(model, dict):
                raise InputError("anomaly.json is not an object")
            return render_anomaly_library(model, name=name, dsp=dsp, model_sha256=digest)
        from crisp_eml.compiler.model_render import render_model
        from crisp_eml.compiler.optimize import DEFAULT

        placed = manifest.get("flash") or {}  # named linker sections the library was compiled with
        if not isinstance(placed, dict):
            raise InputError("MANIFEST.json's flash block is not an object")
        optimize = manifest.get("optimize", DEFAULT)  # eml compile --optimize; older manifests: balanced
        if not isinstance(optimize, str):
            raise InputError(f"MANIFEST.json's optimize is {optimize!r}, not ram, balanced or speed")
        return render_model(data, name=name, labels=list(labels), model_sha256=digest, dsp=dsp, source=digest,
                            graph_name=_model_name(files.get(f"src/{name}.c")),
                            arena_section=placed.get("arena_section"), weights_section=placed.get("weights_section"),
                            optimize=optimize)[1]
    except (InputError, ValueError, TypeError, KeyError) as exc:
        raise VerificationError(f"{source}: cannot re-derive the library from the model with the options its "
                                f"MANIFEST.json states ({exc})") from exc


def _manifest_diff(have: bytes, want: str) -> str:
    try:
        got = json.loads(have)
    except ValueError:
        return "it is not JSON"
    exp = json.loads(want)
    keys = sorted(k for k in set(got) | set(exp) if got.get(k) != exp.get(k)) if isinstance(got, dict) else []
    shown = [f"{k!r} is {json.dumps(got.get(k))[:40]}, the compiler writes {json.dumps(exp.get(k))[:40]}"
             for k in keys[:4]]
    return "; ".join(shown) or "its bytes differ (formatting)"


def check_library(project: Any, artifacts: Mapping[str, Any], model_uri: str, path: Path) -> CheckedLibrary:
    """Refuse (InputError for another model's library, VerificationError for anything edited) unless ``path``
    is byte-identical to what the compiler writes for the model whose run ``artifacts`` are given."""
    manifest = library_manifest(path)  # schema: byte counts present and sane
    lib = path if path.is_dir() else path.parent
    kind = manifest.get("kind") if manifest.get("kind") == "anomaly" else None
    want = expected_model_digest(artifacts, kind)
    got = manifest.get("model_sha256")
    if want is None:
        what = ANOMALY_ARTIFACT if kind else "int8 .tflite"
        raise InputError(f"{model_uri} has no {what} artifact: cannot check a library against it", source=str(lib))
    if got != want:
        raise InputError(f"this library was compiled from model sha256 {str(got)[:12]}, not from {model_uri} "
                         f"({want[:12]})", source=str(lib))
    try:
        data = bytes(project.blobs.get(want))
    except NotFoundError as exc:
        raise VerificationError(f"{lib}: the bytes of {model_uri} (blob {want[:12]}) are missing from the blob "
                                "store: cannot re-derive the library's figures") from exc
    if hashlib.sha256(data).hexdigest() != want:
        raise VerificationError(f"{lib}: blob {want[:12]} of {model_uri} does not hash to its name")
    from crisp_eml.compiler.render import GENERATOR

    if manifest.get("generator") != GENERATOR:
        raise VerificationError(f"{lib / 'MANIFEST.json'}: compiled by {manifest.get('generator')!r}, this is "
                                f"{GENERATOR!r}: its figures cannot be re-derived; compile it again (eml compile)")
    files = read_folder(lib)
    rendered = _render(manifest, data, want, str(lib), files)
    for rel in sorted(rendered):
        have = files.get(rel)
        if have is None:
            raise VerificationError(f"{lib / rel}: missing: the library is not what eml compile wrote")
        if have != rendered[rel].encode("utf-8"):
            why = (_manifest_diff(have, rendered[rel]) if rel == "MANIFEST.json"
                   else "edited (or written by an older build: compile it again)")
            raise VerificationError(f"{lib / rel}: differs from what eml compile writes for {model_uri}: {why}")
    extra = sorted(r for r in files if r not in rendered and not r.startswith(TESTS_DIR))
    if extra:
        raise VerificationError(f"{lib / extra[0]}: not a file eml compile writes (remove it, e.g. 'make clean', "
                                "or compile again)")
    return CheckedLibrary(lib, dict(manifest), files)

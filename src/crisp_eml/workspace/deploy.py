"""Use case ``deploy``: a signed bundle of a gated model version for one target (Deployment, Support & Upgrade).

Needs DEPLOY. Refuses a version whose latest gate for that target did not pass (the rule production promotion
uses, :func:`crisp_eml.workspace.promotion.gate_refusal`). Uses the given compiled library, else the library the
gate checked, else the latest ``eml compile`` of the same model bytes that still exists, else compiles one now.

The library shipped must be what the compiler writes for the model (re-derived byte for byte by
:func:`crisp_eml.lifecycle.library_check.check_library`), must be the very library the gate checked when the
gate recorded one (same manifest and sources digests), and its figures must be within every RAM/flash limit the
gate passed, whatever evidence the gate used. ``--format`` other than ``c`` builds that checked library in the
format (:mod:`crisp_eml.runtime.formats`: ``.eim``, Linux runner, WebAssembly, Arduino, CMake) and ships it under
``<format>/`` with its ``postprocess.json``; BUNDLE.json then records ``deployment`` (format, arch,
post-processing source). The bundle is written to a temporary sibling and renamed; ``model.deploy`` is recorded
with the bundle's sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import ConflictError, InputError, VerificationError
from crisp_eml.core.personas import Permission
from crisp_eml.core.requirements import KPIS
from crisp_eml.lifecycle.evidence import manifest_evidence, resolve, run_artifacts
from crisp_eml.lifecycle.library_check import CheckedLibrary, check_library, library_manifest
from crisp_eml.store.outputs import make_dirs, remove_dirs
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.workspace.promotion import gate_refusal
from crisp_eml.workspace.requirements import canonical_target

KEY_DIR = "keys"


@dataclass
class DeployResult:
    bundle: str
    bundle_sha256: str
    size_bytes: int
    model: str
    model_sha256: str
    target: str
    gate: int
    library: str
    compiled_now: bool
    files: int
    key_fingerprint: str
    key_created: bool
    audit_seq: int
    format: str = "c"
    arch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_dir(project: Project) -> Path:
    return project.state_dir / KEY_DIR


def _compiled_library(project: Project, sha: str) -> Path | None:
    """The folder of the latest ``eml compile`` of these model bytes, if it is still on disk and unchanged."""
    with project.session() as s:
        rows = list(s.execute(select(AuditRow).where(AuditRow.action == "compiler.compile")
                              .order_by(AuditRow.seq.desc())).scalars())
    from crisp_eml.compiler.render import GENERATOR

    for row in rows:
        arts = row.artifacts or {}
        folder = arts.get("out_dir")
        if arts.get("model_sha256") != sha or not isinstance(folder, str):
            continue
        path = Path(folder)
        try:
            manifest = library_manifest(path)
        except InputError:
            continue
        if manifest.get("generator") != GENERATOR:
            continue  # written by another crisp-eml version: cannot be re-derived, compile afresh instead
        if manifest.get("model_sha256") == sha and manifest.get("sources_sha256") == arts.get("sources_sha256"):
            return path
    return None


def _gated_folder(gated: Any) -> Path | None:
    """The folder of the library the gate checked, if it still holds a library."""
    out = gated.get("out") if isinstance(gated, dict) else None
    return Path(out) if isinstance(out, str) and (Path(out) / "MANIFEST.json").is_file() else None


def _short(lib: Any) -> str:
    return (f"sources {str(lib.get('sources_sha256'))[:12]}, manifest {str(lib.get('manifest_sha256'))[:12]}, "
            f"ram_bytes {lib.get('ram_bytes')}, weights_bytes {lib.get('weights_bytes')}")


def match_gate(checked: CheckedLibrary, gate_id: int, gated: Any, rows: list[dict[str, Any]], uri: str) -> None:
    """Refuse a library other than the one gate ``gate_id`` checked, or one over a RAM/flash limit it passed."""
    lib = checked.path
    if isinstance(gated, dict) and (gated.get("manifest_sha256") != checked.manifest_sha256
                                    or gated.get("sources_sha256") != checked.sources_sha256):
        raise VerificationError(
            f"refusing to deploy {lib}: it is not the library gate #{gate_id} checked ({gated.get('out')}: "
            f"{_short(gated)}); this one has {_short(checked.identity())}. Gate it: "
            f"'eml gate {uri} --library {lib}'")
    figures = manifest_evidence(checked.manifest, str(lib / "MANIFEST.json"))
    for row in rows:
        kpi = KPIS.get(str(row.get("requirement")))
        item = figures.get(kpi.evidence) if kpi is not None and kpi.unit == "bytes" else None
        threshold = row.get("threshold")
        if kpi is None or item is None or not isinstance(threshold, int | float):
            continue
        if (item.value > threshold) if kpi.direction == "max" else (item.value < threshold):
            raise VerificationError(
                f"refusing to deploy {lib}: its {kpi.evidence} is {item.value} ({item.source}), over the limit "
                f"{kpi.name}={threshold} that gate #{gate_id} passed on other evidence ({row.get('source')}). "
                f"Gate this library: 'eml gate {uri} --library {lib}'")


def _format_files(project: Project, uri: str, lib: Path, fmt: str, arch: str | None, work: Path
                  ) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The bundle entries ``<fmt>/...`` of the library built as ``fmt``, and what BUNDLE.json records of it."""
    from crisp_eml.runtime.formats import POSTPROCESS_JSON, build_format
    from crisp_eml.workspace.formats import project_info, shipped_postprocess

    pp, source = shipped_postprocess(project, uri)
    name = str(library_manifest(lib).get("name"))
    out = work / "format" / (f"{name}.eim" if fmt == "eim" else name)
    built = build_format(fmt, lib, out, arch=arch, project_info=project_info(project, uri), postprocess=pp,
                         postprocess_source=source)
    if out.is_dir():
        files = {f"{fmt}/{p.relative_to(out).as_posix()}": p.read_bytes() for p in sorted(out.rglob("*"))
                 if p.is_file()}
    else:
        files = {f"{fmt}/{out.name}": out.read_bytes(),
                 f"{fmt}/{POSTPROCESS_JSON}": json.dumps(built["postprocess"], indent=2, sort_keys=True).encode()
                 + b"\n"}
    return files, {"format": fmt, "arch": arch, "postprocess": built["postprocess"]["source"],
                   "files": sorted(files)}


def deploy(project: Project, model: str, target: str, out: Path, *, library: Path | None = None,
           force: bool = False, fmt: str = "c", arch: str | None = None) -> DeployResult:
    """Build, sign and write the bundle of ``model`` for ``target`` to ``out``; a ``fmt`` other than ``c`` adds
    the library built in that format under ``<fmt>/`` (format ``c``: the bundle is exactly the library's)."""
    from crisp_eml.fleet import bundle
    from crisp_eml.fleet.keys import fingerprint, load_or_create
    from crisp_eml.runtime.formats import check_format, require_tools
    from crisp_eml.workspace.compile import _impulse_spec, _load_model, _refuse_external, compile_model
    from crisp_eml.workspace.model_resolution import resolve_model

    actor = project.require(Permission.DEPLOY)
    fmt_info, arch = check_format(fmt, arch)
    require_tools(fmt_info, arch)
    target_id = canonical_target(target)
    out = out.resolve()
    if out.exists() and not force:
        raise ConflictError(f"{out} exists (use --force to replace it)")
    with project.session() as s:
        ref = resolve(s, model)  # an unknown model is named with the registered ones listed
    _refuse_external(_impulse_spec(project, resolve_model(project, ref.uri).impulse_hash))  # before the gate's verdict
    with project.session() as s:
        gate, why = gate_refusal(s, ref.name, ref.version, target_id)
        if why is not None or gate is None:
            raise VerificationError(f"refusing to deploy {ref.uri} to {target_id}: {why}")
        gate_info = {"id": gate.id, "passed": gate.passed, "requirements_version": gate.requirements_version,
                     "target": gate.target}
        gated, rows, artifacts = (gate.evidence or {}).get("library"), list(gate.rows), run_artifacts(s, ref)
    data, _stem, _labels, _impulse = _load_model(ref.uri, project)
    sha = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="eml-deploy-") as tmp:
        lib = library.resolve() if library is not None else _gated_folder(gated) or _compiled_library(project, sha)
        compiled_now = lib is None
        if lib is None:
            lib = Path(tmp) / "lib"
            compile_model(ref.uri, lib, project=project, vectors=4)
        checked = check_library(project, artifacts, ref.uri, lib)
        match_gate(checked, gate.id, gated, rows, ref.uri)
        manifest = checked.manifest
        files = {"library/" + rel: content for rel, content in checked.files.items()}
        files["model.tflite"] = data
        files["MANIFEST.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        deployment: dict[str, Any] | None = None
        if fmt_info.id != "c":
            extra, deployment = _format_files(project, ref.uri, lib, fmt_info.id, arch, Path(tmp))
            files.update(extra)
    key, created = load_or_create(key_dir(project))
    info = {"project": project.name, "target": target_id, "gate": gate_info,
            "model": {"uri": ref.uri, "name": ref.name, "version": ref.version, "run": ref.run_id, "sha256": sha},
            "library": {"name": manifest.get("name"), "sources_sha256": manifest.get("sources_sha256"),
                        "manifest_sha256": checked.manifest_sha256, "files_sha256": checked.files_sha256,
                        "arena_bytes": manifest.get("arena_bytes"), "ram_bytes": manifest.get("ram_bytes"),
                        "weights_bytes": manifest.get("weights_bytes")}}
    if deployment is not None:
        info["deployment"] = deployment
    payload, doc = bundle.build(files, info, key)
    digest = hashlib.sha256(payload).hexdigest()
    made_dirs = make_dirs(out.parent, field="output")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    except OSError as exc:
        remove_dirs(made_dirs)
        raise InputError(f"cannot write the bundle: {exc.strerror or exc}", source=str(out)) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp_name, out)
        fp = fingerprint(doc["public_key"])
        with project.session() as s:
            row = project.record(s, "model.deploy", {
                "model": ref.uri, "run": ref.run_id, "model_sha256": sha, "target": target_id, "gate": gate.id,
                "bundle": str(out), "bundle_sha256": digest, "library": manifest.get("name"),
                "sources_sha256": manifest.get("sources_sha256"), "manifest_sha256": checked.manifest_sha256,
                "key_fingerprint": fp, **({"format": fmt_info.id, "arch": arch} if deployment else {})},
                actor=actor)
            seq = row.seq
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        out.unlink(missing_ok=True)
        raise
    return DeployResult(str(out), digest, len(payload), ref.uri, sha, target_id, gate.id,
                        str(manifest.get("name")), compiled_now, len(files), fp, created, seq, fmt_info.id, arch)

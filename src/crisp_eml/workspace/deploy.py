"""Use case ``deploy``: a signed bundle of a gated model version for one target (Deployment, Support & Upgrade).

Needs DEPLOY. Refuses a version whose latest gate for that target did not pass (the rule production promotion
uses, :func:`crisp_eml.workspace.promotion.gate_refusal`). Uses the given compiled library, else the latest
``eml compile`` of the same model bytes that still exists, else compiles one now. The bundle is written to a
temporary sibling and renamed; ``model.deploy`` is recorded with the bundle's sha256.
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
from crisp_eml.lifecycle.evidence import library_manifest, resolve
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_dir(project: Project) -> Path:
    return project.state_dir / KEY_DIR


def _compiled_library(project: Project, sha: str) -> Path | None:
    """The folder of the latest ``eml compile`` of these model bytes, if it is still on disk and unchanged."""
    with project.session() as s:
        rows = list(s.execute(select(AuditRow).where(AuditRow.action == "compiler.compile")
                              .order_by(AuditRow.seq.desc())).scalars())
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
        if manifest.get("model_sha256") == sha and manifest.get("sources_sha256") == arts.get("sources_sha256"):
            return path
    return None


def _library_files(lib: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for p in sorted(lib.rglob("*")):
        if p.is_symlink():
            raise InputError("the library folder contains a symbolic link", source=str(p))
        if p.is_file():
            files["library/" + p.relative_to(lib).as_posix()] = p.read_bytes()
    return files


def deploy(project: Project, model: str, target: str, out: Path, *, library: Path | None = None,
           force: bool = False) -> DeployResult:
    """Build, sign and write the bundle of ``model`` for ``target`` to ``out``."""
    from crisp_eml.fleet import bundle
    from crisp_eml.fleet.keys import fingerprint, load_or_create
    from crisp_eml.workspace.compile import _load_model, compile_model

    actor = project.require(Permission.DEPLOY)
    target_id = canonical_target(target)
    out = out.resolve()
    if out.exists() and not force:
        raise ConflictError(f"{out} exists (use --force to replace it)")
    with project.session() as s:
        ref = resolve(s, model)
        gate, why = gate_refusal(s, ref.name, ref.version, target_id)
        if why is not None or gate is None:
            raise VerificationError(f"refusing to deploy {ref.uri} to {target_id}: {why}")
        gate_info = {"id": gate.id, "passed": gate.passed, "requirements_version": gate.requirements_version,
                     "target": gate.target}
    data, _stem, _labels, _impulse = _load_model(ref.uri, project)
    sha = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="eml-deploy-") as tmp:
        lib = library.resolve() if library is not None else _compiled_library(project, sha)
        compiled_now = lib is None
        if lib is None:
            lib = Path(tmp) / "lib"
            compile_model(ref.uri, lib, project=project, vectors=4)
        manifest = library_manifest(lib)
        if manifest.get("model_sha256") != sha:
            raise InputError(f"this library was compiled from model sha256 {str(manifest.get('model_sha256'))[:12]}, "
                             f"not from {ref.uri} ({sha[:12]})", source=str(lib))
        files = _library_files(lib)
        files["model.tflite"] = data
        files["MANIFEST.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    key, created = load_or_create(key_dir(project))
    info = {"project": project.name, "target": target_id, "gate": gate_info,
            "model": {"uri": ref.uri, "name": ref.name, "version": ref.version, "run": ref.run_id, "sha256": sha},
            "library": {"name": manifest.get("name"), "sources_sha256": manifest.get("sources_sha256"),
                        "arena_bytes": manifest.get("arena_bytes"), "ram_bytes": manifest.get("ram_bytes")}}
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
                "sources_sha256": manifest.get("sources_sha256"), "key_fingerprint": fp}, actor=actor)
            seq = row.seq
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        out.unlink(missing_ok=True)
        raise
    return DeployResult(str(out), digest, len(payload), ref.uri, sha, target_id, gate.id,
                        str(manifest.get("name")), compiled_now, len(files), fp, created, seq)

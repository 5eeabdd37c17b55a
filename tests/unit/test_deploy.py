"""``deploy``: only a version whose latest gate for the target passed; signed bundle; audited; phases board."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import MANIFEST, add_model
from sqlalchemy import select

from crisp_eml.core.errors import ConflictError, VerificationError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import ModelVersionRow, RunRow

AD01 = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "mlperf-tiny" / "ad01_int8.tflite"
TARGET = "cortex-m4f-80mhz"


def gated_model(project: Project, *, max_ram: str = "1M", manifest: dict[str, int] | None = None) -> str:
    """A registered model whose int8 artifact is the real ad01 model, gated against ``max_ram`` on the figures of
    ``manifest`` (a compile audit entry holding them, no library folder)."""
    from crisp_eml.workspace.gate import run_gate
    from crisp_eml.workspace.requirements import set_requirements

    uri = add_model(project, manifest=manifest or MANIFEST)
    with project.session() as s:
        mv = s.execute(select(ModelVersionRow).order_by(ModelVersionRow.version.desc())).scalars().first()
        assert mv is not None
        run = s.get(RunRow, mv.run_id)
        assert run is not None
        run.artifacts = {"model_int8.tflite": project.blobs.put(AD01.read_bytes())}
    set_requirements(project, [f"target={TARGET}", f"max_ram={max_ram}"])
    run_gate(project, uri)
    return uri


def test_deploy_round_trip_audited_and_board_done(project: Project, tmp_path: Path) -> None:
    from crisp_eml.workspace.deploy import deploy
    from crisp_eml.workspace.status import status
    from crisp_eml.workspace.verify_bundle import verify_bundle

    uri = gated_model(project)
    out = tmp_path / "b.zip"
    r = deploy(project, uri, "cortex-m4", out)
    assert r.compiled_now and r.target == TARGET and r.key_created
    names = zipfile.ZipFile(out).namelist()
    assert "model.tflite" in names and "MANIFEST.json" in names and any(n.endswith(".h") for n in names)
    info = json.loads(zipfile.ZipFile(out).read("BUNDLE.json"))
    assert info["model"]["uri"] == uri and info["gate"]["passed"] and info["target"] == TARGET
    import hashlib

    assert info["model"]["sha256"] == hashlib.sha256(AD01.read_bytes()).hexdigest()
    entry = [e for e in project.audit_entries() if e.action == "model.deploy"][-1]
    assert entry.artifacts["bundle_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() == r.bundle_sha256
    check = verify_bundle(out)  # $EML_PROJECT not set: cwd is not the project, so no key is pinned
    assert not check.ok and not check.pinned and check.signature == "valid"
    assert "not pinned" in check.problems[0] and verify_bundle(out, allow_unpinned=True).ok
    key = project.state_dir / "keys" / "bundle-signing.pub"
    assert verify_bundle(out, key).ok
    with pytest.raises(ConflictError):
        deploy(project, uri, TARGET, out)
    # a second deploy reuses nothing compiled by hand, but the bundle stays byte-identical
    again = deploy(project, uri, TARGET, tmp_path / "c.zip")
    assert (tmp_path / "c.zip").read_bytes() == out.read_bytes() and not again.key_created
    deployment = {p.key: p for p in status(project).phases}["deployment"]
    assert deployment.state == "done" and uri in deployment.why


def test_deploy_uses_the_latest_compile_of_the_model(project: Project, tmp_path: Path) -> None:
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.deploy import deploy

    uri = gated_model(project)
    compile_model(uri, tmp_path / "lib", project=project, vectors=2)
    r = deploy(project, uri, TARGET, tmp_path / "b.zip")
    assert not r.compiled_now
    names = zipfile.ZipFile(tmp_path / "b.zip").namelist()
    vec = (tmp_path / "lib" / "tests").iterdir()
    assert {f"library/tests/{p.name}" for p in vec} <= set(names)


def test_refused_without_a_passing_gate_for_that_target(project: Project, tmp_path: Path) -> None:
    from crisp_eml.workspace.deploy import deploy
    from crisp_eml.workspace.gate import run_gate

    uri = gated_model(project, max_ram="1k")  # MANIFEST needs 14000 B: the gate fails
    before = len(project.audit_entries())
    with pytest.raises(VerificationError, match="failed on max_ram"):
        deploy(project, uri, TARGET, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists() and len(project.audit_entries()) == before
    assert not (project.state_dir / "keys").exists()
    other = add_model(project, manifest=MANIFEST)
    with pytest.raises(VerificationError, match="never been gated"):
        deploy(project, other, TARGET, tmp_path / "b.zip")
    from crisp_eml.workspace.requirements import set_requirements

    set_requirements(project, ["max_ram=1M"])
    run_gate(project, other, "cortex-m0plus")  # a passing gate, but for another target
    with pytest.raises(VerificationError, match=f"for target {TARGET}"):
        deploy(project, other, TARGET, tmp_path / "b.zip")


def test_cli_deploy_verify_and_tamper(project: Project, tmp_path: Path, run_cli: Any) -> None:
    uri = gated_model(project)
    code, out, err = run_cli(["deploy", uri, "--target", TARGET, "-o", str(tmp_path / "b.zip"), "--json"],
                             cwd=project.root)
    assert code == 0, err
    assert json.loads(out)["model"] == uri
    code, out, err = run_cli(["bundle", "verify", str(tmp_path / "b.zip"), "--json"], cwd=project.root)
    assert code == 0, err
    assert json.loads(out)["key_source"].startswith("project key")
    code, out, err = run_cli(["keys", "show"], cwd=project.root)
    assert code == 0 and len(out.strip()) == 64
    # tamper with one library file
    src = zipfile.ZipFile(tmp_path / "b.zip")
    victim = next(n for n in src.namelist() if n.endswith(".c"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for i in src.infolist():
            dst.writestr(i, src.read(i) + (b"/* x */" if i.filename == victim else b""))
    (tmp_path / "bad.zip").write_bytes(buf.getvalue())
    code, out, err = run_cli(["bundle", "verify", str(tmp_path / "bad.zip")], cwd=project.root)
    assert code != 0 and victim in err and "Traceback" not in err
    # a key that did not sign it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crisp_eml.fleet.keys import public_hex

    (tmp_path / "other.pub").write_text(public_hex(Ed25519PrivateKey.generate().public_key()))
    code, out, err = run_cli(["bundle", "verify", str(tmp_path / "b.zip"), "--public-key",
                              str(tmp_path / "other.pub")], cwd=project.root)
    assert code != 0 and "signature" in err


def _edit_manifest(lib: Path, **changes: object) -> None:
    m = json.loads((lib / "MANIFEST.json").read_text())
    m.update(changes)
    (lib / "MANIFEST.json").write_text(json.dumps(m, indent=2) + "\n")


def test_deploy_ships_only_the_library_the_gate_checked(project: Project, tmp_path: Path) -> None:
    import shutil

    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.deploy import deploy
    from crisp_eml.workspace.gate import run_gate

    uri = gated_model(project)
    lib, other = tmp_path / "lib", tmp_path / "other"
    compile_model(uri, lib, project=project, vectors=2)
    g = run_gate(project, uri, TARGET, library=lib)
    assert g.passed and g.evidence["library"]["out"] == str(lib)
    compile_model(uri, other, project=project, vectors=2, name="other")  # genuine, but not what was gated
    before = len(project.audit_entries())
    with pytest.raises(VerificationError, match=f"not the library gate #{g.id} checked"):
        deploy(project, uri, TARGET, tmp_path / "b.zip", library=other)
    copy = tmp_path / "copy"
    shutil.copytree(lib, copy)
    _edit_manifest(copy, ram_bytes=50)
    with pytest.raises(VerificationError, match="MANIFEST.json: differs .*'ram_bytes' is 50"):
        deploy(project, uri, TARGET, tmp_path / "b.zip", library=copy)
    (lib / "src" / "extra.c").write_text("int extra;\n")
    with pytest.raises(VerificationError, match="extra.c: not a file eml compile writes"):
        deploy(project, uri, TARGET, tmp_path / "b.zip")  # the gated folder, since changed
    assert not (tmp_path / "b.zip").exists() and len(project.audit_entries()) == before
    (lib / "src" / "extra.c").unlink()
    r = deploy(project, uri, TARGET, tmp_path / "b.zip")  # default: the folder the gate checked, not 'other'
    info = json.loads(zipfile.ZipFile(tmp_path / "b.zip").read("BUNDLE.json"))
    assert not r.compiled_now and r.library == "motion"
    assert info["library"]["manifest_sha256"] == g.evidence["library"]["manifest_sha256"]
    assert info["library"]["files_sha256"] == g.evidence["library"]["files_sha256"]


def test_deploy_refuses_a_library_over_a_limit_the_gate_passed_on_other_evidence(project: Project,
                                                                                 tmp_path: Path) -> None:
    from crisp_eml.workspace.deploy import deploy

    # the gate passed max_ram=500 on figures an audit entry holds (100 B); the real ad01 library needs more
    uri = gated_model(project, max_ram="500", manifest={"arena_bytes": 100, "ram_bytes": 100, "weights_bytes": 100})
    with pytest.raises(VerificationError, match=r"ram_bytes is (\d+) .*over the limit max_ram_bytes=500") as e:
        deploy(project, uri, TARGET, tmp_path / "b.zip")
    m = re.search(r"ram_bytes is (\d+) ", str(e.value))
    assert m is not None and int(m.group(1)) > 500  # the compiled library's figure, not the audit entry's 100
    assert not (tmp_path / "b.zip").exists()

"""Gate evidence from a compiled library cannot be edited into passing: the library is re-derived from the model
and must be byte-identical (lowered figures, edited sources, extra files, another compiler are refused)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lifecycle_helpers import add_model
from sqlalchemy import select

from crisp_eml.core.errors import InputError, VerificationError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import ModelVersionRow, RunRow
from crisp_eml.workspace.gate import gate_history, run_gate
from crisp_eml.workspace.requirements import set_requirements

KWS = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
TARGET = "cortex-m4f-80mhz"


def kws_model(project: Project, max_ram: str) -> str:
    """``models:/motion/1`` whose int8 artifact is the real KWS model (11,397 B of RAM compiled)."""
    uri = add_model(project, manifest=None)
    with project.session() as s:
        mv = s.execute(select(ModelVersionRow)).scalars().first()
        assert mv is not None
        run = s.get(RunRow, mv.run_id)
        assert run is not None
        run.artifacts = {"model_int8.tflite": project.blobs.put(KWS.read_bytes())}
    set_requirements(project, [f"target={TARGET}", f"max_ram={max_ram}"])
    return uri


def compiled(project: Project, uri: str, out: Path) -> Path:
    """``eml compile`` of ``uri`` to ``out`` (recorded in the audit trail, no test vectors)."""
    from crisp_eml.workspace.compile import compile_model

    compile_model(uri, out, project=project, vectors=0)
    return out


def edit_manifest(lib: Path, **changes: object) -> None:
    m = json.loads((lib / "MANIFEST.json").read_text())
    m.update(changes)
    (lib / "MANIFEST.json").write_text(json.dumps(m, indent=2) + "\n")


def test_figures_come_from_the_rederived_library_and_are_recorded(project: Project, tmp_path: Path) -> None:
    uri = kws_model(project, "64k")
    lib = compiled(project, uri, tmp_path / "lib")
    manifest = json.loads((lib / "MANIFEST.json").read_text())
    g = run_gate(project, uri, library=lib)
    rows = {r["requirement"]: r for r in g.rows}
    assert g.passed and rows["max_ram_bytes"]["measured"] == manifest["ram_bytes"] == 9601
    assert "re-derived" in rows["max_ram_bytes"]["source"]
    ev = g.evidence["library"]
    assert ev["sources_sha256"] == manifest["sources_sha256"] and ev["ram_bytes"] == 9601
    assert project.audit_entries()[-1].artifacts["library"]["manifest_sha256"] == ev["manifest_sha256"]


@pytest.mark.parametrize("field,value", [("ram_bytes", 50), ("arena_bytes", 10), ("weights_bytes", 1),
                                         ("scratch_bytes", 0)])
def test_lowered_figure_in_a_copied_library_is_refused(project: Project, tmp_path: Path, field: str,
                                                       value: int) -> None:
    uri = kws_model(project, "1k")
    lib = compiled(project, uri, tmp_path / "lib")
    assert not run_gate(project, uri, library=lib).passed  # the genuine library needs 11,397 B
    copy = tmp_path / "copy"
    shutil.copytree(lib, copy)
    edit_manifest(copy, **{field: value})
    with pytest.raises(VerificationError, match=rf"MANIFEST.json: differs .*'{field}' is {value}"):
        run_gate(project, uri, library=copy)
    assert len(gate_history(project, uri)) == 1  # nothing stored for the refused gate


def test_edited_sources_are_refused_even_with_a_recomputed_digest(project: Project, tmp_path: Path) -> None:
    import hashlib

    uri = kws_model(project, "64k")
    lib = compiled(project, uri, tmp_path / "lib")
    src = next((lib / "src").glob("motion.c"))
    src.write_text(src.read_text().replace("static", "static ", 1))
    with pytest.raises(VerificationError, match=r"src/motion.c: differs .*edited"):
        run_gate(project, uri, library=lib)
    names = json.loads((lib / "MANIFEST.json").read_text())["files"]
    digest = hashlib.sha256("".join((lib / n).read_text() for n in sorted(names) if n != "MANIFEST.json")
                            .encode()).hexdigest()
    edit_manifest(lib, sources_sha256=digest)  # consistent with the edited files, still not the compiler's
    with pytest.raises(VerificationError, match="sources_sha256"):
        run_gate(project, uri, library=lib)


def test_extra_source_missing_file_and_other_compiler_are_refused(project: Project, tmp_path: Path) -> None:
    uri = kws_model(project, "64k")
    lib = compiled(project, uri, tmp_path / "lib")
    (lib / "tests" / "notes.txt").write_text("test data is not part of the build")
    assert run_gate(project, uri, library=lib).passed
    (lib / "src" / "evil.c").write_text("char big[100000];\n")
    with pytest.raises(VerificationError, match=r"src/evil.c: not a file eml compile writes"):
        run_gate(project, uri, library=lib)
    (lib / "src" / "evil.c").unlink()
    (lib / "Makefile").unlink()
    with pytest.raises(VerificationError, match="Makefile: missing"):
        run_gate(project, uri, library=lib)
    edit_manifest(compiled(project, uri, tmp_path / "lib2"), generator="crisp-eml 0.0.1")
    with pytest.raises(VerificationError, match="compile it again"):
        run_gate(project, uri, library=tmp_path / "lib2")


def test_library_found_through_the_audit_trail_is_checked_too(project: Project, tmp_path: Path) -> None:
    uri = kws_model(project, "1k")
    lib = compiled(project, uri, tmp_path / "lib")  # recorded as compiler.compile with its out_dir
    g = run_gate(project, uri)
    assert not g.passed and g.evidence["library"]["out"] == str(lib)
    edit_manifest(lib, ram_bytes=50)
    with pytest.raises(VerificationError, match="ram_bytes"):
        run_gate(project, uri)


def test_another_models_library_is_an_input_error(project: Project, tmp_path: Path) -> None:
    uri = kws_model(project, "64k")
    lib = compiled(project, uri, tmp_path / "lib")
    edit_manifest(lib, model_sha256="b" * 64)
    with pytest.raises(InputError, match="compiled from model sha256 bbbbbbbbbbbb"):
        run_gate(project, uri, library=lib)

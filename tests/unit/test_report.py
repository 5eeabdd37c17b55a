"""The project report / model card: HTML and PDF carry requirements vs achieved, data, results, lineage."""

from __future__ import annotations

from pathlib import Path

from lifecycle_helpers import LABELS, MANIFEST, add_model, add_samples

from crisp_eml.store.project import Project
from crisp_eml.workspace.gate import run_gate
from crisp_eml.workspace.report import write_report
from crisp_eml.workspace.requirements import set_requirements


def test_report_html_and_pdf(project: Project, tmp_path: Path) -> None:
    add_samples(project, dict.fromkeys(LABELS, 8))
    uri = add_model(project, manifest=MANIFEST)
    set_requirements(project, ["target=cortex-m4f-80mhz", "min_accuracy=0.9", "max_ram=8k", "max_flash=64k"])
    run_gate(project, uri)
    r = write_report(project, tmp_path / "out")
    html = Path(r["html"]).read_text()
    assert r["model"] == "models:/motion/1" and r["gate_passed"] is False
    assert "does NOT meet 1 of 3 requirements: max_ram_bytes" in html
    assert "14000 B (13.7 KiB)" in html and "92.5%" in html  # RAM needed, int8 accuracy 37/40
    assert "data:image/png;base64," in html  # confusion matrix
    assert "Requirement max_ram_bytes is not met." in html
    pdf = Path(r["pdf"]).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    assert project.audit_entries()[-1].action == "report.write"


def test_report_without_a_model(project: Project, tmp_path: Path) -> None:
    r = write_report(project, tmp_path / "out", pdf=False)
    html = Path(r["html"]).read_text()
    assert r["model"] is None and "No model yet" in html and r["pdf"] is None

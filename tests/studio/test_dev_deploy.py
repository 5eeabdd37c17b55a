"""The Development & testing and Deployment pages in a real browser: the embedded developer compiles and verifies
the production model as a job, profiles it, compares it with TFLite Micro and downloads the C library; a member
without the compile permission sees no Compile button and is refused (403) when forcing the request; devops
promotes a version to an alias and sees it in the alias history, which the embedded developer may not do."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from playwright.sync_api import expect
from studio_helpers import Studio

JOB_TIMEOUT_MS = 240_000  # compile + verify (TFLite Micro, gcc, sanitizers) runs in a worker process


def test_embedded_developer_compiles_verifies_profiles_and_downloads_the_library(studio: Studio) -> None:
    studio.sign_in("eli", "/development")
    page = studio.page
    expect(page.get_by_role("heading", name="Development & testing", level=1)).to_be_visible()
    expect(page.get_by_label("Model version")).to_have_value("models:/motion/1")  # the production version
    expect(page.get_by_label("Verify bit-exact against TFLite Micro")).to_be_checked()
    page.get_by_role("button", name="Compile", exact=True).click()
    expect(page.get_by_role("progressbar", name="Compile and verify progress")).to_be_visible()
    verified = page.get_by_text("Verified bit-exact against TFLite Micro")
    expect(verified).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_text("host-gcc-vs-tflm")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Compile and verify progress")).to_have_attribute("value", "1")

    page.get_by_label("Target device").select_option("cortex-m4f-80mhz")
    page.get_by_role("button", name="Profile", exact=True).click()
    figures = page.locator("section.card", has=page.get_by_role("heading", name=re.compile("TensorFlow Lite Micro")))
    row = figures.get_by_role("row", name=re.compile("Cortex-M4F @ 80 MHz"))
    expect(row).to_be_visible(timeout=JOB_TIMEOUT_MS)
    headers = [h.inner_text() for h in figures.get_by_role("columnheader").all()]
    assert "Arena (TFLite Micro)" in headers and "RAM total (crisp-eml)" in headers and "Flash (crisp-eml)" in headers
    cells = row.get_by_role("cell").all_inner_texts()
    assert re.fullmatch(r"[\d.]+ (B|KiB)", cells[headers.index("Arena (TFLite Micro)")]), cells
    assert re.fullmatch(r"[\d.]+ (B|KiB)", cells[headers.index("Flash (crisp-eml)")]), cells
    expect(figures.locator(".plot .main-svg").first).to_be_attached()  # the grouped bar chart rendered
    gate_row = page.get_by_role("row", name=re.compile(r"^max_ram_bytes"))  # the gate, row by row, with evidence
    expect(gate_row.get_by_text("profile on cortex-m4f-80mhz (ram_bytes, cross build)")).to_be_visible()
    expect(gate_row.get_by_text("pass", exact=True)).to_be_visible()

    with page.expect_download() as info:
        page.get_by_role("button", name="Download C library (.zip)").click()
    download = info.value
    assert download.suggested_filename == "motion-c-library.zip"
    names = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())).namelist()
    assert "motion/src/motion.c" in names and "motion/src/motion.h" in names and "motion/MANIFEST.json" in names
    assert any(n.endswith(".c") for n in names) and any(n.endswith(".h") for n in names)
    studio.shot("development")


def test_no_compile_permission_no_button_and_a_forced_request_is_refused(studio: Studio) -> None:
    studio.sign_in("bea", "/development")
    page = studio.page
    expect(page.get_by_role("heading", name="Acceptance gate")).to_be_visible()
    expect(page.get_by_text("Compiling and profiling need the compile permission")).to_be_visible()
    assert page.get_by_role("button", name="Compile", exact=True).count() == 0
    assert page.get_by_role("button", name="Profile", exact=True).count() == 0
    assert page.get_by_role("button", name="Build signed bundle").count() == 0
    studio.shot("development-business-leader")

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "eml_csrf")
    body = {"model": "models:/motion@production", "verify": True}
    forced = page.request.post(f"{studio.url}/api/v1/compile", headers={"X-CSRF-Token": csrf}, data=body)
    assert forced.status == 403, forced.text()
    assert "compile" in forced.json()["error"]["message"]
    no_token = page.request.post(f"{studio.url}/api/v1/compile", data=body)
    assert no_token.status == 403
    assert "CSRF" in no_token.json()["error"]["message"]
    jobs = page.request.get(f"{studio.url}/api/v1/jobs", params={"kind": "compile"}).json()
    assert jobs["total"] == 0  # nothing was queued


def test_devops_promotes_a_version_and_the_alias_history_shows_it(studio: Studio) -> None:
    studio.sign_in("eli", "/deployment")
    page = studio.page
    expect(page.get_by_role("heading", name="Aliases and their history")).to_be_visible()
    assert page.get_by_role("button", name="Promote").count() == 0  # move-alias is not an embedded developer's
    assert page.get_by_role("heading", name="Promote a version").count() == 0

    studio.sign_in("dev", "/deployment")
    registry = page.locator("section.card", has=page.get_by_role("heading", name="Model registry"))
    expect(registry.get_by_role("row", name=re.compile(r"motion\s+1\s+production"))).to_be_visible()
    history = page.locator("section.card", has=page.get_by_role("heading", name="Aliases and their history"))
    expect(history.get_by_role("row", name=re.compile("staging"))).to_have_count(0)
    page.get_by_label("Version").select_option("1")
    page.get_by_label("Alias", exact=True).fill("staging")
    expect(page.get_by_text("'staging' is not gated")).to_be_visible()
    page.get_by_label("Note").fill("field trial")
    page.get_by_role("button", name="Promote").click()
    expect(page.get_by_text("staging of motion now points at v1.")).to_be_visible()
    moved = history.get_by_role("row", name=re.compile(r"staging\s+none → v1\s+dev\s+field trial"))
    expect(moved).to_be_visible()
    expect(history.get_by_text("models:/motion@staging")).to_be_visible()
    registry.get_by_role("row", name=re.compile(r"motion\s+1")).click()
    expect(page.get_by_text("production, staging")).to_be_visible()  # the version's lineage card
    studio.shot("deployment")

    audit = page.request.get(f"{studio.url}/api/v1/audit", params={"action": "model.alias", "newest_first": "true"})
    entry = audit.json()["entries"][0]
    assert entry["actor"] == "dev" and entry["artifacts"]["model"] == "models:/motion@staging"


def test_production_without_a_passing_gate_needs_an_audited_override(studio: Studio) -> None:
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.registry import register_model

    register_model(Project.open(studio.root).acting_as("demo"), None, "motion")  # v2: never gated
    studio.sign_in("dev", "/deployment")
    page = studio.page
    page.get_by_label("Version").select_option("2")
    page.get_by_label("Alias", exact=True).fill("production")
    expect(page.get_by_text("production needs a passing gate or an override")).to_be_visible()
    reason = page.get_by_label("Override reason (audited)")
    expect(reason).to_be_visible()
    studio.allow(409, 403, 422)  # the refused move below is shown on the page
    page.get_by_role("button", name="Promote").click()  # no reason: refused by the server
    expect(page.locator("#page .error")).to_contain_text("gate")
    reason.fill("field recall: ship the retrained model before the gate's profile is redone")
    page.get_by_role("button", name="Promote").click()
    expect(page.get_by_text("production of motion now points at v2 (was v1).")).to_be_visible()
    history = page.locator("section.card", has=page.get_by_role("heading", name="Aliases and their history"))
    expect(history.get_by_role("row", name=re.compile(r"production\s+v1 → v2\s+dev"))).to_be_visible()
    audit = page.request.get(f"{studio.url}/api/v1/audit", params={"action": "gate.override"})
    (entry,) = audit.json()["entries"]
    assert entry["actor"] == "dev" and entry["note"].startswith("field recall")
    assert entry["artifacts"]["model"] == "models:/motion/2" and entry["artifacts"]["alias"] == "production"
    studio.shot("deployment-override")

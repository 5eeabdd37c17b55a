"""The data scientist's whole journey in the Studio on a new, empty project: upload recordings through the
ingestion API, label the one whose name says nothing, design the impulse from the data, train while watching
the progress, and test the model, without the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import expect
from studio_helpers import Studio

from crisp_eml.data.samples import get_sample
from crisp_eml.store.project import Project

LABELS = ("badminton", "running", "standing", "walking")
JOB_TIMEOUT_MS = 300_000  # two shared cores in CI


def test_data_scientist_goes_from_an_empty_project_to_a_tested_model(empty_studio: Studio, tmp_path: Path) -> None:
    from conftest import BASIC_MOTIONS as data  # the real recordings of ../shared

    training = [data / "training" / f"{label}.{i:02d}.csv" for label in LABELS for i in (1, 2, 3, 4)]
    testing = [data / "testing" / f"{label}.{i:02d}.csv" for label in LABELS for i in (1, 2)]
    nameless = tmp_path / "recording-0417.csv"  # a name that says nothing: labelled "recording-0417"
    shutil.copy(data / "training" / "walking.05.csv", nameless)
    studio, page = empty_studio, empty_studio.page
    studio.allow_not_yet()
    studio.sign_in("demo", "/data")

    # upload: training files (and the nameless one), then the testing files
    page.get_by_label("Files to upload").set_input_files([str(f) for f in [*training, nameless]])
    expect(page.get_by_role("status").filter(has_text="17 of 17 file(s) uploaded")).to_be_visible()
    page.get_by_label("Upload to").select_option("testing")
    page.get_by_label("Files to upload").set_input_files([str(f) for f in testing])
    expect(page.get_by_role("status").filter(has_text="8 of 8 file(s) uploaded")).to_be_visible()

    # label the nameless recording in the viewer
    owner = Project.open(studio.root).acting_as("demo")
    sample = get_sample(owner, "recording-0417")
    studio.goto(f"/data?sample={sample.id}")
    viewer = page.get_by_role("region", name="sample viewer")
    viewer.get_by_label("Sample label").fill("walking")
    viewer.get_by_role("button", name="Save").click()
    expect(viewer.get_by_role("status")).to_contain_text("is walking in training")
    assert get_sample(owner, "recording-0417").label == "walking"
    studio.shot("labelled")

    # design the impulse from the data
    page.locator("#nav").get_by_role("link", name="Impulse design").click()
    page.get_by_role("button", name="Design the impulse from the data").click()
    expect(page.get_by_role("status").filter(has_text="Impulse design")).to_be_visible()  # the job's progress
    # when the job succeeds the page shows the design form of version 1
    expect(page.get_by_role("button", name="Save impulse")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    studio.shot("impulse-designed")
    # the designed blocks are at their latest implementation version, shown (and choosable) per block
    from crisp_eml.dsp.registry import latest_version
    from crisp_eml.workspace.impulse import current_impulse

    first = current_impulse(owner).blocks[0]
    assert first.implementation_version == latest_version(first.type)
    expect(page.get_by_label("Block 1 implementation version")).to_have_value(str(first.implementation_version))

    # train, watching the progress bar and the curves
    page.locator("#nav").get_by_role("link", name="Training").click()
    page.get_by_label("Epochs").fill("5")
    page.get_by_role("button", name="Start training").click()
    progress = page.get_by_role("status").filter(has_text="Training")
    expect(page.locator('[data-plot="loss"] .scatterlayer .point').first).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(progress).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    runs = page.locator(".card").filter(has=page.get_by_role("heading", name="Runs", exact=True))
    expect(runs.locator("tbody tr")).to_have_count(1)
    studio.shot("trained")

    # test the int8 model on the 8 testing recordings
    page.locator("#nav").get_by_role("link", name="Model testing").click()
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_role("status").filter(has_text="Test")).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_role("img", name="confusion matrix").or_(page.locator(".heatmaplayer")).first).to_be_visible()
    rows = page.locator("table:has(caption:has-text('misclassified')) tbody tr")
    expect(rows).to_have_count(8)
    studio.shot("tested")
    # all of it on the audit trail, as the member, through the Studio session
    entries = [e for e in owner.audit_entries() if e.actor == "demo"]
    actions = {e.action for e in entries}
    assert {"sample.ingest", "sample.label", "impulse.create", "learn.train", "learn.test"} <= actions, actions
    assert all(e.artifacts.get("via_token") for e in entries if e.action in ("impulse.create", "learn.train"))

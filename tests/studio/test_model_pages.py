"""The Studio's model pages in a real browser, as the data scientist's journey on the demo project: change the
impulse (a bad value is refused with its field named), preview a sample, generate features and open a sample from
the explorer scatter; train a short run watching its progress and loss curve; test it and read the confusion
matrix and the per-sample results, misclassified first. A business leader sees no training or test button."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from studio_helpers import Studio

from crisp_eml.data.samples import get_sample
from crisp_eml.store.project import Project

JOB_TIMEOUT_MS = 240_000  # a training or test job on the 2-core CI machine (TensorFlow import included)


def test_impulse_design_edit_preview_generate_and_explore(studio: Studio) -> None:
    studio.sign_in("demo", "/impulse")
    page = studio.page
    expect(page.get_by_role("heading", name="Impulse design")).to_be_visible()
    # the DSP preview of the first sample: its raw signal and the block's features are plotted
    expect(page.locator('[data-plot="raw"] .main-svg').first).to_be_visible()
    expect(page.locator('[data-plot="block-flatten"] .main-svg').first).to_be_visible()
    studio.shot("impulse")

    # a bad window size is refused by the server, the error names the field and the control is marked
    studio.allow(400)
    size = page.get_by_label("Window size (ms)")
    size.fill("-5")
    page.get_by_role("button", name="Save impulse").click()
    expect(page.get_by_role("alert")).to_contain_text("input.window_size_ms")
    expect(size).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Discard changes").click()

    # a block parameter change is saved as a new version: the history grows, features are missing again
    scale = page.get_by_label("Block 1 scale-axes")
    scale.fill("0.5")
    page.get_by_label("Change note").fill("scale axes by half")
    page.get_by_role("button", name="Save impulse").click()
    expect(page.locator(".okmsg")).to_contain_text("Saved as version 2")
    expect(page.get_by_role("cell", name="scale axes by half")).to_be_visible()
    expect(page.get_by_text("No features yet for 120 samples")).to_be_visible()

    # another sample in the preview
    page.get_by_label("Sample to preview").select_option(index=5)
    expect(page.locator(".preview")).to_contain_text(page.get_by_label("Sample to preview")
                                                    .evaluate("s => s.options[s.selectedIndex].text.split(' ')[0]"))
    expect(page.locator('.preview[data-ready="true"]')).to_be_visible()

    # generate features (a job), then the explorer scatter shows every window
    page.get_by_role("button", name="Generate features").click()
    expect(page.get_by_role("status").filter(has_text="Feature generation")).to_contain_text("succeeded",
                                                                                            timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_text("120 of 120 samples have features")).to_be_visible()
    points = page.locator('[data-plot="explorer"] .scatterlayer .point')
    expect(points).to_have_count(120)
    studio.shot("impulse-explorer")

    # clicking a point opens its sample on Data acquisition
    box = points.first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page).to_have_url(re.compile(r"/data\?sample=[0-9a-f]{16}$"))
    ref = page.url.rsplit("=", 1)[1]
    name = get_sample(Project.open(studio.root).acting_as("demo"), ref).name
    expect(page.locator("#page")).to_contain_text(name)


def test_train_watch_progress_then_test_misclassified_first(studio: Studio) -> None:
    studio.sign_in("demo", "/training")
    page = studio.page
    runs = page.locator(".card").filter(has=page.get_by_role("heading", name="Runs", exact=True))
    expect(runs.locator("tbody tr")).to_have_count(1)
    studio.shot("training")
    page.get_by_label("Epochs").fill("3")
    page.get_by_label("Learning rate").fill("0.00001")  # barely trained: some samples are misclassified
    page.get_by_role("button", name="Start training").click()
    progress = page.get_by_role("status").filter(has_text="Training")
    # the loss curve gets points as epochs stream in, and the bar advances
    expect(page.locator('[data-plot="loss"] .scatterlayer .point').first).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(progress).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    assert progress.locator("progress").evaluate("p => p.value") == 1
    expect(runs.locator("tbody tr")).to_have_count(2)
    new_run = page.locator(".okmsg").inner_text().split()[1]
    expect(page.locator(f'[data-run="{new_run}"]')).to_contain_text("Open the training report")
    epochs_run = page.locator(f'[data-run="{new_run}"] dt:text-is("Epochs run") + dd').inner_text()
    live = page.locator(".card").filter(has=page.get_by_role("heading", name="Start training"))
    # the final fit's curve has one point per epoch it ran (none lost to progress throttling), after the folds'
    expect(live.locator('[data-plot="loss"]')).to_have_attribute("data-points", epochs_run)
    link = page.get_by_role("link", name="Open the training report")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("href") == f"/api/v1/runs/{new_run}/report"
    studio.shot("training-run")

    # compare the two runs
    runs.get_by_label("select row 1").check()
    runs.get_by_label("select row 2").check()
    page.get_by_role("button", name="Compare selected runs").click()
    expect(page.get_by_role("cell", name="params.learning_rate")).to_be_visible()

    # test the new run's int8 model: metrics side by side, the confusion matrix and misclassified rows first
    studio.goto(f"/testing?run={new_run}")
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_role("status").filter(has_text="Test")).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.locator('[data-run] table caption').first).to_contain_text("test job")
    expect(page.locator('[data-plot="confusion"][data-ready="true"] .heatmaplayer')).to_be_visible()
    rows = page.locator("table:has(caption:has-text('misclassified')) tbody tr")
    results = [r.locator("td").last.inner_text() for r in rows.all()]
    assert len(results) == 24 and "misclassified" in results
    first_ok = results.index("correct") if "correct" in results else len(results)
    assert all(r == "misclassified" for r in results[:first_ok]) and "misclassified" not in results[first_ok:]
    studio.shot("testing")
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/data\?sample=[0-9a-f]{16}$"))


def test_business_leader_sees_no_training_or_test_button(studio: Studio) -> None:
    studio.sign_in("bea", "/training")
    page = studio.page
    expect(page.get_by_text("may look at runs but not train")).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_have_count(0)
    studio.goto("/testing")
    expect(page.get_by_role("heading", name="Confusion matrix", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Run test")).to_have_count(0)
    studio.goto("/impulse")
    expect(page.get_by_role("button", name="Save impulse")).to_have_count(0)
    expect(page.get_by_role("button", name="Generate features")).to_have_count(0)
    studio.shot("impulse-read-only")

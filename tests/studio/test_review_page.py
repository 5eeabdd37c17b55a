"""The Studio's Field data review page in a real browser: the empty state says how devices send windows; windows a
device flagged (sent over the device API, as ``eml run --review-server`` does) are listed with a plot, the model's
prediction and the reason; a domain expert labels one (the label box offers the project's labels) and dismisses
another; "Add labelled windows to the dataset" records a dataset version holding the labelled window. Members
without label-data see the queue but no controls."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from playwright.sync_api import expect
from studio_helpers import Studio

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message
from crisp_eml.data.samples import list_samples
from crisp_eml.store.project import Project
from crisp_eml.workspace.devices import register_device
from crisp_eml.workspace.ingest import ingest_paths
from crisp_eml.workspace.members import add_member
from crisp_eml.workspace.snapshot import list_versions

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[3] / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"
RATE = 50.0


def _owner(studio: Studio) -> Project:
    return Project.open(studio.root).acting_as("demo")


def _window(seed: int) -> dict[str, Any]:
    t = np.arange(100) / RATE
    values = np.stack([np.sin(2 * np.pi * (1 + seed) * t), np.cos(2 * np.pi * t) * seed, 0.1 * t], axis=1)
    return build_message(values.astype(np.float32), [Sensor(a, "m/s2") for a in ("accX", "accY", "accZ")], RATE,
                         device_type="TEST_BOARD", device_name="field-board")


def _send(url: str, key: str, flagged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        out = []
        for body in flagged:
            r = c.post("/device/review", json=body)
            assert r.status_code in (200, 201), r.text
            out.append(r.json())
        return out


def _queue(studio: Studio) -> Any:
    return studio.page.locator("section.card").filter(has=studio.page.get_by_role("heading", name="Flagged windows"))


def test_label_dismiss_and_commit_field_windows(empty_studio: Studio) -> None:
    studio = empty_studio
    studio.allow_not_yet()
    owner = _owner(studio)
    ingest_paths(owner, [BASIC_MOTIONS / "training" / f for f in ("badminton.01.csv", "running.02.csv")])
    before = len(list_versions(owner))
    studio.sign_in("demo", "/review")
    page = studio.page
    queue = _queue(studio)
    expect(queue.locator(".empty")).to_contain_text("No windows are waiting for a label.")
    expect(queue.locator(".empty")).to_contain_text("--review-server")
    studio.shot("empty")

    key = register_device(owner, "field-board", kind="linux-agent")["key"]
    _send(studio.url, key, [
        {"upload_id": "w-1", "reason": "low-confidence", "model": "motion@3", "predicted": "running",
         "confidence": 0.41, "scores": {"running": 0.41, "badminton": 0.39}, "sample": _window(1)},
        {"upload_id": "w-2", "reason": "low-confidence", "model": "motion@3", "predicted": "badminton",
         "confidence": 0.52, "sample": _window(2)},
        {"upload_id": "w-3", "reason": "anomaly", "model": "motion@3", "predicted": "running", "confidence": 0.9,
         "anomaly_score": 0.93, "sample": _window(3)},
    ])
    studio.goto("/review")
    items = queue.locator("article.review-item")
    expect(items).to_have_count(3)
    for i in range(3):
        expect(items.nth(i).locator(".mini-plot svg.main-svg").first).to_be_visible()
        expect(items.nth(i).locator(".mini-plot .scatterlayer .trace")).to_have_count(3)
    first = items.filter(has_text="(41% confident)")
    expect(first).to_contain_text("running")
    expect(first).to_contain_text("low-confidence")
    expect(first).to_contain_text("field-board")
    anomalous = items.filter(has_text="0.930")
    expect(anomalous).to_contain_text("anomaly")
    # the label box offers the project's labels
    options = page.locator("datalist#review-labels option")
    assert sorted(options.evaluate_all("os => os.map((o) => o.value)")) == ["badminton", "running"]
    studio.shot("pending")

    queue.get_by_label("Labelled windows go to").select_option("training")
    first.get_by_role("combobox").fill("badminton")
    first.get_by_role("button", name="Label").click()
    expect(queue.get_by_role("status")).to_contain_text("as badminton")
    expect(items).to_have_count(2)
    anomalous.get_by_role("button", name="Dismiss").click()
    expect(queue.get_by_role("status")).to_contain_text("Dismissed")
    expect(items).to_have_count(1)
    labelled = [s for s in list_samples(owner, label="badminton") if s.name != "badminton.01"]
    assert len(labelled) == 1 and labelled[0].category == "training"

    commit = page.locator("section.card").filter(has=page.get_by_role("heading",
                                                                     name="Add labelled windows to the dataset"))
    commit.get_by_label("Version message").fill("field windows from week 1")
    commit.get_by_role("button", name="Add labelled windows to the dataset").click()
    expect(commit.get_by_role("status")).to_contain_text("recorded")
    versions = list_versions(owner)
    assert len(versions) == before + 1 and versions[-1].message == "field windows from week 1"
    expect(commit.get_by_role("status")).to_contain_text(f"Dataset version {versions[-1].id} recorded")
    studio.shot("committed")

    queue.get_by_label("Show").select_option("labelled")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("labelled as badminton by demo")
    expect(items.first).to_contain_text(f"Dataset version{versions[-1].id}")
    expect(items.first.get_by_role("button", name="Label")).to_have_count(0)
    expect(items.first.get_by_role("link", name=labelled[0].id)).to_have_attribute(
        "href", f"/data?sample={labelled[0].id}")
    studio.shot("labelled")


def test_member_without_label_data_sees_the_queue_but_no_controls(empty_studio: Studio) -> None:
    studio = empty_studio
    studio.allow_not_yet()
    owner = _owner(studio)
    key = register_device(owner, "field-board", kind="linux-agent")["key"]
    _send(studio.url, key, [{"upload_id": "w-1", "reason": "low-confidence", "predicted": "idle", "confidence": 0.3,
                             "sample": _window(1)}])
    add_member(owner, "lea", "business-leader")
    studio.sign_in("lea", "/review")
    items = _queue(studio).locator("article.review-item")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("idle (30% confident)")
    for name in ("Label", "Dismiss", "Add labelled windows to the dataset"):
        expect(studio.page.get_by_role("button", name=name, exact=True)).to_have_count(0)

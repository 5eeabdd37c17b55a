"""The Studio's Data acquisition page in a real browser: uploads through the ingestion API with per-file results,
the sample viewer (plot per axis, ?sample= links), labelling and moving, filters, paging and bulk relabel,
dataset versions and their diff, the quality report, the empty state, and a persona without data permissions."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from studio_helpers import Studio

from crisp_eml.data.samples import get_sample, list_samples
from crisp_eml.store.project import Project
from crisp_eml.workspace.members import add_member

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[3] / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"


def _samples_card(studio: Studio) -> Any:
    return studio.page.locator("section.card").filter(has=studio.page.get_by_role("heading", name="Samples",
                                                                                  exact=True))


def _owner(studio: Studio) -> Project:
    return Project.open(studio.root).acting_as("demo")


def test_data_scientist_uploads_labels_and_moves(studio: Studio, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    files = [BASIC_MOTIONS / "training" / "badminton.01.csv", BASIC_MOTIONS / "training" / "running.02.csv", broken]
    studio.sign_in("demo", "/data")
    page = studio.page
    expect(page.get_by_role("heading", name="Data acquisition")).to_be_visible()
    page.get_by_label("Files to upload").set_input_files([str(f) for f in files])
    results = page.get_by_role("list", name="upload results")
    expect(page.get_by_role("status").filter(has_text="2 of 3 file(s) uploaded, 1 failed")).to_be_visible()
    expect(results.locator("li").filter(has_text="badminton.01.csv")).to_contain_text("uploaded")
    expect(results.locator("li").filter(has_text="running.02.csv")).to_contain_text("uploaded")
    expect(results.locator("li").filter(has_text="broken.json")).to_contain_text("failed")
    expect(results.locator("li").filter(has_text="broken.json")).to_contain_text("bad JSON")
    assert page.locator("progress[aria-label='upload progress']").evaluate("p => p.value === p.max")
    # the new samples are in the table, labelled from their file names: badminton sorts first, running is found
    samples = _samples_card(studio)
    row = samples.get_by_role("row").filter(has_text="badminton.01")
    expect(row).to_contain_text("badminton")
    expect(row).to_contain_text("training")
    expect(samples.get_by_role("navigation", name="sample pages")).to_contain_text("of 122 ·")
    samples.get_by_label("Name contains").fill("running")
    expect(samples.get_by_role("navigation", name="sample pages")).to_contain_text("of 1 ·")
    expect(samples.get_by_role("row").filter(has_text="running.02")).to_contain_text("running")
    samples.get_by_label("Name contains").fill("")
    studio.shot("uploaded")

    # open one in the viewer, relabel it and move it to testing
    row.click()
    viewer = page.get_by_role("region", name="sample viewer")
    expect(viewer.get_by_role("heading", name="Sample badminton.01")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/data\?sample="))
    viewer.get_by_label("Sample label").fill("smash")
    viewer.get_by_label("Sample category").select_option("testing")
    viewer.get_by_role("button", name="Save").click()
    expect(viewer.get_by_role("status")).to_contain_text("badminton.01 is smash in testing")
    expect(samples.get_by_role("row").filter(has_text="badminton.01")).to_contain_text("smash")
    expect(samples.get_by_role("row").filter(has_text="badminton.01")).to_contain_text("testing")
    studio.shot("relabeled")
    s = get_sample(_owner(studio), "badminton.01")
    assert (s.label, s.category) == ("smash", "testing")
    assert get_sample(_owner(studio), "running.02").category == "training"


def test_viewer_plots_each_axis_and_opens_from_its_url(studio: Studio) -> None:
    sample = list_samples(_owner(studio), label="wave")[0]
    studio.sign_in("demo", f"/data?sample={sample.id}")
    viewer = studio.page.get_by_role("region", name="sample viewer")
    expect(viewer.get_by_role("heading", name=f"Sample {sample.name}")).to_be_visible()
    plot = viewer.get_by_role("img", name=re.compile("values of accX, accY, accZ"))
    expect(plot.locator("svg.main-svg").first).to_be_visible()
    expect(plot.locator(".scatterlayer .trace")).to_have_count(3)  # one line per axis, each in its own subplot
    expect(viewer).to_contain_text("62.50 Hz")
    studio.shot("viewer")
    # a row of the table opens another sample and the URL follows
    viewer.get_by_role("button", name="Close the viewer").click()
    expect(viewer).to_have_count(0)
    assert "sample=" not in studio.page.url
    _samples_card(studio).get_by_role("row").filter(has_text="circle.s01-02").click()
    expect(viewer.get_by_role("heading", name="Sample circle.s01-02")).to_be_visible()
    assert "sample=" in studio.page.url


def test_filters_paging_and_bulk_relabel(studio: Studio) -> None:
    studio.sign_in("demo", "/data")
    page = studio.page
    samples = _samples_card(studio)
    pager = samples.get_by_role("navigation", name="sample pages")
    expect(pager).to_contain_text("Samples 1–20 of 120 · page 1 of 6")
    expect(pager.get_by_role("button", name="Previous")).to_be_disabled()
    pager.get_by_role("button", name="Next").click()
    expect(pager).to_contain_text("Samples 21–40 of 120 · page 2 of 6")
    assert "offset=20" in page.url
    samples.get_by_label("Label", exact=True).select_option("idle")
    samples.get_by_label("Category").select_option("testing")
    expect(pager).to_contain_text("Samples 1–6 of 6 · page 1 of 1")
    names = samples.locator("tbody tr td:nth-child(2)").all_inner_texts()
    want = [s.name for s in list_samples(_owner(studio), label="idle", category="testing")]
    assert names == want
    expect(samples.locator("tbody tr").filter(has_text="training")).to_have_count(0)
    samples.get_by_label("Name contains").fill(want[0])
    expect(pager).to_contain_text("of 1 ·")
    samples.get_by_label("Name contains").fill("")
    expect(pager).to_contain_text("of 6 ·")

    # bulk relabel of two selected samples
    samples.get_by_label("select row 1").check()
    samples.get_by_label("select row 2").check()
    samples.get_by_label("New label for the selected samples").fill("resting")
    samples.get_by_role("button", name="Relabel selected").click()
    expect(samples.get_by_role("status").filter(has_text="Relabeled")).to_contain_text("2 of 2 selected")
    expect(pager).to_contain_text("of 4 ·")  # two idle testing samples left
    studio.shot("bulk-relabeled")
    owner = _owner(studio)
    assert sorted(s.name for s in list_samples(owner, label="resting")) == sorted(want[:2])
    samples.get_by_label("Label", exact=True).select_option("resting")
    expect(pager).to_contain_text("Samples 1–2 of 2")
    balance = page.get_by_role("img", name="training and testing samples per label")
    expect(balance.locator("svg.main-svg").first).to_be_visible()
    expect(balance.locator(".xtick").filter(has_text="resting")).to_have_count(1)


def test_versions_snapshot_diff_and_quality_report(studio: Studio) -> None:
    owner = _owner(studio)
    moved = list_samples(owner, label="circle", category="training")[0]
    studio.sign_in("demo", "/data")
    page = studio.page
    versions = page.locator("section.card").filter(has=page.get_by_role("heading", name="Dataset versions"))
    # change the data through the page, then snapshot and compare with the demo's version 1
    page.goto(f"{studio.url}/data?sample={moved.id}")
    viewer = page.get_by_role("region", name="sample viewer")
    viewer.get_by_label("Sample category").select_option("testing")
    viewer.get_by_role("button", name="Save").click()
    expect(viewer.get_by_role("status")).to_contain_text("in testing")
    versions.get_by_label("Snapshot message").fill("one circle moved to testing")
    versions.get_by_role("button", name="Snapshot").click()
    expect(versions.get_by_role("status")).to_contain_text("Version 2 recorded (120 samples)")
    expect(versions.get_by_role("row").filter(has_text="one circle moved to testing")).to_be_visible()
    versions.get_by_label("From version").select_option("1")
    versions.get_by_label("To version").select_option("2")
    versions.get_by_role("button", name="Show differences").click()
    expect(versions).to_contain_text("From version 1 to 2: moved 1")
    expect(versions.get_by_role("row").filter(has_text=moved.name)).to_contain_text("training")
    studio.shot("versions-diff")

    quality = page.locator("section.card").filter(has=page.get_by_role("heading", name="Quality report"))
    expect(quality).to_contain_text("Latest score")
    expect(quality).to_contain_text("no: the samples changed since")
    quality.get_by_role("button", name="Run the quality check").click()
    expect(quality.get_by_role("img", name="sample score distribution").locator("svg.main-svg").first).to_be_visible()
    expect(quality.get_by_role("img", name="class balance").locator(".xtick")).to_have_count(4)
    expect(quality).to_contain_text("No sample has an issue.")
    expect(quality.locator("dd").filter(has_text="yes")).to_be_visible()  # the latest check is current again
    expect(_samples_card(studio).get_by_label("Quality issue")).to_be_enabled()
    studio.shot("quality")


def test_empty_project_shows_the_empty_state(empty_studio: Studio) -> None:
    empty_studio.sign_in("demo", "/data")
    page = empty_studio.page
    samples = _samples_card(empty_studio)
    expect(samples.locator(".empty")).to_have_text("No samples yet: upload or ingest.")
    expect(samples.get_by_role("navigation", name="sample pages")).to_have_count(0)
    expect(page.get_by_role("heading", name="Upload samples")).to_be_visible()  # the owner may ingest
    expect(page.get_by_text("No versions yet")).to_be_visible()
    expect(page.get_by_role("button", name="Show differences")).to_be_hidden()
    empty_studio.shot("empty")


def test_business_leader_sees_no_upload_or_label_controls(studio: Studio) -> None:
    add_member(_owner(studio), "lea", "business-leader")
    sample = list_samples(_owner(studio))[0]
    studio.sign_in("lea", f"/data?sample={sample.id}")
    page = studio.page
    viewer = page.get_by_role("region", name="sample viewer")
    expect(viewer.get_by_role("heading", name=f"Sample {sample.name}")).to_be_visible()
    expect(viewer.get_by_role("img", name=re.compile("values of")).locator("svg.main-svg").first).to_be_visible()
    samples = _samples_card(studio)
    expect(samples.get_by_role("row").filter(has_text=sample.name)).to_be_visible()
    for name in ("Files to upload", "Sample label", "Sample category", "New label for the selected samples",
                 "Snapshot message"):
        expect(page.get_by_label(name)).to_have_count(0)
    for name in ("Relabel selected", "Move selected", "Save", "Snapshot"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_role("heading", name="Upload samples")).to_have_count(0)
    expect(samples.get_by_role("checkbox")).to_have_count(0)
    # reading stays open: the table, the balance and the versions
    balance = page.get_by_role("img", name="training and testing samples per label")
    expect(balance.locator("svg.main-svg").first).to_be_visible()
    studio.shot("business-leader")


def test_viewer_plays_audio_with_its_spectrogram_and_shows_images(studio: Studio, tmp_path: Path) -> None:
    import wave as wavfile

    import numpy as np
    from PIL import Image

    rate = 8000
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * (300 + 1500 * t) * t) * 32767).astype("<i2")  # a rising chirp, one second
    with wavfile.open(str(tmp_path / "chirp.01.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone.tobytes())
    Image.fromarray(np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))).save(tmp_path / "gradient.01.png")
    studio.sign_in("demo", "/data")
    page = studio.page
    page.get_by_label("Files to upload").set_input_files([str(tmp_path / "chirp.01.wav"),
                                                          str(tmp_path / "gradient.01.png")])
    expect(page.get_by_role("status").filter(has_text="2 of 2 file(s) uploaded")).to_be_visible()
    owner = _owner(studio)
    chirp, gradient = get_sample(owner, "chirp.01"), get_sample(owner, "gradient.01")
    assert (chirp.kind, gradient.kind) == ("audio", "image")

    studio.goto(f"/data?sample={chirp.id}")
    viewer = page.get_by_role("region", name="sample viewer")
    player = viewer.get_by_label("play the sample")
    expect(player).to_be_visible()
    assert player.evaluate("a => a.src").endswith("format=wav")
    spectrogram = viewer.get_by_role("img", name="spectrogram")
    expect(spectrogram.locator(".heatmaplayer, .hm, image").first).to_be_attached()  # Plotly drew the heatmap
    duration = player.evaluate("a => new Promise((ok) => { a.preload = 'metadata'; a.onloadedmetadata = () => "
                               "ok(a.duration); a.load(); })")
    assert abs(duration - 1.0) < 0.05  # the browser decodes the served WAV: one second
    studio.shot("viewer-audio")

    studio.goto(f"/data?sample={gradient.id}")
    picture = page.get_by_role("img", name="sample gradient.01")
    expect(picture).to_be_visible()
    assert picture.evaluate("i => new Promise((ok) => i.complete ? ok(i.naturalWidth) : "
                            "(i.onload = () => ok(i.naturalWidth)))") == 32
    studio.shot("viewer-image")


def test_names_and_labels_are_shown_as_text_never_as_markup(studio: Studio, tmp_path: Path) -> None:
    from crisp_eml.workspace.ingest import ingest_paths

    label = '<img src=x onerror="window.pwned=1">'
    csv = tmp_path / "tags.csv"
    csv.write_text("timestamp,x\n0,1\n10,2\n20,3\n")
    report = ingest_paths(_owner(studio), [csv], label=label)
    assert not report.failures, report.failures
    studio.sign_in("demo", "/data")
    page = studio.page
    samples = _samples_card(studio)
    samples.get_by_label("Name contains").fill("tags")
    row = samples.get_by_role("row").filter(has_text="tags")
    expect(row.get_by_role("cell", name=label, exact=True)).to_be_visible()  # the literal text
    assert page.locator("#page img[src='x']").count() == 0
    assert page.evaluate("() => window.pwned") is None

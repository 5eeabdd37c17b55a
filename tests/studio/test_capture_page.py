"""The Data acquisition page's "Devices & live capture" card in a real browser: a registered device (a thread in the
test speaking the device API over loopback with httpx, as ``eml agent`` does) shows online with its sensor; the
member records a sample from the form; the live plot grows chunk by chunk while the device records (the device
waits for the page to have drawn each chunk before sending the next, so no timing is assumed); the stored sample
is linked, opens in the viewer and has the label, length and rate asked for. Members without ingest-data see the
devices but no recording form."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from playwright.sync_api import expect
from studio_helpers import Studio

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.data.samples import get_sample, list_samples
from crisp_eml.store.project import Project
from crisp_eml.workspace.devices import register_device
from crisp_eml.workspace.members import add_member

AXES = ["accX", "accY", "accZ"]
RATE = 50.0
LENGTH_MS = 2000
ROWS = int(LENGTH_MS / 1000 * RATE)  # 100
CHUNK = 25
SENSOR = {"name": "accelerometer", "kind": "timeseries", "axes": AXES, "units": ["m/s2"] * 3, "frequency_hz": RATE}


def _signal() -> np.ndarray:
    t = np.arange(ROWS) / RATE
    return np.stack([np.sin(2 * np.pi * 1.5 * t), np.cos(2 * np.pi * 1.5 * t), 9.8 + 0.1 * np.sin(2 * np.pi * 4 * t)],
                    axis=1).astype(np.float32)


@dataclass
class FakeDevice:
    """A device in a thread: hello, long poll for a capture, start, chunks (each only after the test says ``go``),
    then the sample as an Edge Impulse acquisition message."""

    url: str
    key: str
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    capture: dict[str, Any] | None = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as err:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(err))

    def _run(self) -> None:
        with httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {self.key}"},
                          timeout=40) as c:
            r = c.post("/device/hello", json={"sensors": [SENSOR], "info": {"host": "test-board"}})
            r.raise_for_status()
            while not self.stop.is_set():
                r = c.get("/device/commands", params={"wait": 3})
                r.raise_for_status()
                if r.json()["captures"]:
                    self.capture = r.json()["captures"][0]
                    break
            if self.capture is None:
                return
            cid = self.capture["id"]
            assert self.capture["label"] == "wave" and self.capture["length_ms"] == LENGTH_MS, self.capture
            c.post(f"/device/captures/{cid}/start", json={"axes": AXES, "frequency_hz": RATE}).raise_for_status()
            values = _signal()
            for seq, at in enumerate(range(0, ROWS, CHUNK)):
                if seq > 0:  # the page has drawn the chunk before: send the next one
                    while not self.go.acquire(timeout=0.5):
                        if self.stop.is_set():
                            return
                rows = values[at:at + CHUNK].tolist()
                c.post(f"/device/captures/{cid}/chunks", json={"seq": seq, "rows": rows}).raise_for_status()
            msg = build_message(values, [Sensor(a, "m/s2") for a in AXES], RATE, device_type="TEST_BOARD",
                                device_name="bench-board")
            r = c.post(f"/device/captures/{cid}/complete", content=encode(msg),
                       headers={"Content-Type": "application/json"})
            r.raise_for_status()


@contextmanager
def running(device: FakeDevice) -> Iterator[FakeDevice]:
    thread = threading.Thread(target=device.run, daemon=True)
    thread.start()
    try:
        yield device
    finally:
        device.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the simulated device did not stop"
    assert not device.errors, device.errors


def _owner(studio: Studio) -> Project:
    return Project.open(studio.root).acting_as("demo")


def _devices_card(studio: Studio) -> Any:
    return studio.page.locator("section.card").filter(
        has=studio.page.get_by_role("heading", name="Devices & live capture"))


def _points(studio: Studio) -> int:
    """How many points the live plot holds in its first trace (Plotly keeps the data on the plot's element)."""
    return int(studio.page.locator(".live-plot").evaluate("el => (el.data && el.data[0] ? el.data[0].x.length : 0)"))


def test_record_a_sample_from_a_device_with_its_live_signal(empty_studio: Studio) -> None:
    studio = empty_studio
    studio.allow_not_yet()
    reg = register_device(_owner(studio), "bench-board", kind="linux-agent")
    device = FakeDevice(studio.url, reg["key"])
    with running(device):
        studio.sign_in("demo", "/data")
        page = studio.page
        devices = _devices_card(studio)
        row = devices.get_by_role("row").filter(has_text="bench-board")
        expect(row).to_contain_text("online", timeout=20_000)  # the hello arrived; the table refreshes itself
        expect(row).to_contain_text("accelerometer (accX, accY, accZ) @ 50 Hz")
        form = devices.get_by_role("form", name="record new data")
        expect(form.get_by_label("Device")).to_have_value(reg["id"])
        expect(form.get_by_label("Sensor")).to_have_value("accelerometer")
        form.get_by_label("Recording label").fill("wave")
        form.get_by_label("Length (ms)").fill(str(LENGTH_MS))
        form.get_by_label("Add the sample to").select_option("training")
        form.get_by_role("button", name="Start recording").click()

        live = devices.locator(".capture-live")
        readings = live.locator("[data-readings]")
        status = live.locator(".capture-status")
        expect(readings).to_have_attribute("data-readings", str(CHUNK), timeout=20_000)
        expect(status).to_contain_text("Recording on bench-board")
        expect(live.locator(".live-plot .scatterlayer .trace")).to_have_count(3)  # one line per axis
        assert _points(studio) == CHUNK
        expect(form.get_by_role("button", name="Start recording")).to_be_disabled()
        studio.shot("recording")
        for n in range(2, ROWS // CHUNK):  # the plot grows with each chunk the device sends
            device.go.release()
            expect(readings).to_have_attribute("data-readings", str(n * CHUNK), timeout=20_000)
            assert _points(studio) == n * CHUNK
        device.go.release()  # the last chunk and at once the sample: the plot then shows the stored signal
        expect(status).to_have_text("Done: the sample is stored.", timeout=20_000)
        expect(readings).to_have_text(f"{ROWS} readings stored")
        assert _points(studio) == ROWS
        link = live.locator("a.sample-link")
        expect(link).to_be_visible()
        expect(live.get_by_role("button", name="Cancel the recording")).to_have_count(0)
        expect(form.get_by_role("button", name="Start recording")).to_be_enabled()
        studio.shot("recorded")

    owner = _owner(studio)
    stored = list_samples(owner, label="wave")
    assert len(stored) == 1
    sample = get_sample(owner, stored[0].id)
    assert (sample.category, sample.length, sample.frequency_hz) == ("training", ROWS, RATE)
    assert device.capture is not None
    # the table lists it, and the link opens it in the viewer
    samples = page.locator("section.card").filter(has=page.get_by_role("heading", name="Samples", exact=True))
    expect(samples.get_by_role("row").filter(has_text=sample.name)).to_contain_text("wave")
    link.click()
    viewer = page.get_by_role("region", name="sample viewer")
    expect(viewer.get_by_role("heading", name=f"Sample {sample.name}")).to_be_visible()
    expect(viewer.get_by_role("img", name="values of accX, accY, accZ over time").locator("svg.main-svg").first) \
        .to_be_visible()
    assert f"sample={sample.id}" in page.url
    studio.shot("viewer")


def test_cancel_a_recording_from_the_page(empty_studio: Studio) -> None:
    studio = empty_studio
    studio.allow_not_yet()
    reg = register_device(_owner(studio), "slow-board", kind="linux-agent", sensors=[SENSOR])
    studio.sign_in("demo", "/data")
    devices = _devices_card(studio)
    form = devices.get_by_role("form", name="record new data")
    expect(form.get_by_label("Device")).to_have_value(reg["id"])  # offline (it never said hello) yet listed
    expect(devices.get_by_role("row").filter(has_text="slow-board")).to_contain_text("offline")
    form.get_by_label("Recording label").fill("idle")
    form.get_by_role("button", name="Start recording").click()
    live = devices.locator(".capture-live")
    expect(live.locator(".capture-status")).to_contain_text("waiting for slow-board to start")
    live.get_by_role("button", name="Cancel the recording").click()
    expect(live.locator(".capture-status")).to_have_text("Cancelled.", timeout=20_000)
    expect(live.locator("a.sample-link")).to_have_count(0)
    assert list_samples(_owner(studio)) == []


def test_member_without_ingest_sees_devices_but_no_form(empty_studio: Studio) -> None:
    studio = empty_studio
    studio.allow_not_yet()
    register_device(_owner(studio), "bench-board", kind="linux-agent", sensors=[SENSOR])
    add_member(_owner(studio), "lea", "business-leader")
    studio.sign_in("lea", "/data")
    devices = _devices_card(studio)
    expect(devices.get_by_role("row").filter(has_text="bench-board")).to_be_visible()
    expect(devices.get_by_role("form", name="record new data")).to_have_count(0)
    expect(studio.page.get_by_role("button", name="Start recording")).to_have_count(0)


def test_register_a_device_from_the_page_shows_its_key_once(empty_studio: Studio) -> None:
    studio = empty_studio
    studio.allow_not_yet()
    studio.sign_in("demo", "/data")
    devices = _devices_card(studio)
    expect(devices.locator(".empty")).to_contain_text("No devices yet")
    expect(devices.locator(".empty")).to_contain_text("eml agent --server URL --key KEY")
    form = devices.get_by_role("form", name="register a device")
    form.get_by_label("Device name").fill("pi-1")
    form.get_by_role("button", name="Register").click()
    key = form.get_by_label("Device key (shown once)")
    expect(key).to_have_value(re.compile(r"^eml_d_"))
    expect(devices.get_by_role("row").filter(has_text="pi-1")).to_contain_text("offline")
    studio.shot("registered")
    with httpx.Client(base_url=f"{studio.url}/api/v1", headers={"Authorization": f"Bearer {key.input_value()}"}) as c:
        assert c.post("/device/hello", json={"sensors": [SENSOR], "info": {}}).status_code == 200
    expect(devices.get_by_role("row").filter(has_text="pi-1")).to_contain_text("online", timeout=20_000)
    expect(devices.get_by_role("form", name="record new data").get_by_label("Sensor")).to_have_value("accelerometer")

"""Devices and remote capture over HTTP: members register devices and ask for recordings; a simulated device
(httpx) says hello, long-polls for commands, starts, streams chunks and completes with an Edge Impulse
acquisition message, over the in-process app and over loopback against a real ``eml serve``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from server_helpers import OWNER, Api, api_for, live_server, make_project

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.store.project import Project
from crisp_eml.store.tables.devices import DeviceRow

V1 = "/api/v1"
AXES = ["accX", "accY", "accZ"]
SENSORS = [{"name": "accelerometer", "kind": "timeseries", "axes": AXES, "units": "m/s2", "frequency_hz": 100}]
WAIT_S = 60.0  # bound on every wait below (a hang fails the test instead of blocking it)


def _payload(n: int = 40, axes: list[str] | None = None, seed: int = 0) -> bytes:
    rows = np.random.default_rng(seed).normal(size=(n, len(axes or AXES))).astype(np.float32)
    return encode(build_message(rows, [Sensor(a) for a in axes or AXES], 100.0, device_name="pi-1"))


def _key(headers_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {headers_key}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_for(tmp_path / "proj") as a:
        yield a


def _register(api: Api, name: str = "pi-1") -> dict[str, Any]:
    r = api.client.post(f"{V1}/devices", json={"name": name}, headers=api.headers("dana"))
    assert r.status_code == 201, r.text
    d = r.json()
    r = api.client.post(f"{V1}/device/hello", json={"sensors": SENSORS, "info": {"host": "pi"}},
                        headers=_key(d["key"]))
    assert r.status_code == 200 and r.json()["device"]["online"], r.text
    return d


def _samples(api: Api) -> int:
    return int(api.client.get(f"{V1}/samples", headers=api.headers()).json()["total"])


def test_members_register_list_and_revoke_devices(api: Api) -> None:
    c = api.client
    assert c.post(f"{V1}/devices", json={"name": "x"}, headers=api.headers("bob")).status_code == 403
    d = _register(api)
    assert d["member"] == "dana" and d["key"].startswith("eml_d_")
    assert c.post(f"{V1}/devices", json={"name": "pi-1"}, headers=api.headers()).status_code == 409
    r = c.post(f"{V1}/devices", json={"name": "bad name!"}, headers=api.headers())
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    (listed,) = c.get(f"{V1}/devices", headers=api.headers("uma")).json()
    assert listed["online"] and listed["sensors"][0]["axes"] == AXES and "key" not in listed
    # a member token or an ingestion key is not a device key, and a device key is not a member token
    assert c.get(f"{V1}/device/commands", headers=api.headers()).status_code == 401
    assert c.get(f"{V1}/device/commands", headers={"x-api-key": api.ingest_key}).status_code == 401
    assert c.get(f"{V1}/devices", headers=_key(d["key"])).status_code == 401
    assert c.delete(f"{V1}/devices/pi-1", headers=api.headers()).json()["state"] == "revoked"
    assert c.get(f"{V1}/device/commands", headers=_key(d["key"])).status_code == 401
    assert c.delete(f"{V1}/devices/nope", headers=api.headers()).status_code == 404
    actions = [e.action for e in api.project.audit_entries()]
    assert "device.register" in actions and "device.revoke" in actions


def test_a_capture_from_request_to_stored_sample(api: Api) -> None:
    c = api.client
    d = _register(api)
    dev = _key(d["key"])
    assert c.get(f"{V1}/device/commands", params={"wait": 0}, headers=dev).json() == {"captures": []}
    r = c.post(f"{V1}/devices/pi-1/captures", json={"label": "wave", "length_ms": 400, "category": "testing"},
               headers=api.headers("dana"))
    assert r.status_code == 201, r.text
    cap = r.json()
    assert (cap["status"], cap["sensor"], cap["device"]) == ("requested", "accelerometer", "pi-1")
    (cmd,) = c.get(f"{V1}/device/commands", params={"wait": 5}, headers=dev).json()["captures"]
    assert cmd["id"] == cap["id"] and cmd["length_ms"] == 400
    cid = cap["id"]
    r = c.post(f"{V1}/device/captures/{cid}/start", json={"axes": AXES, "frequency_hz": 100}, headers=dev)
    assert r.status_code == 200 and r.json()["status"] == "recording", r.text
    for seq in (0, 1, 1):  # the resent chunk 1 is a no-op
        r = c.post(f"{V1}/device/captures/{cid}/chunks", json={"seq": seq, "rows": [[seq, 2, 3]] * 5}, headers=dev)
        assert r.status_code == 200, r.text
    assert r.json()["duplicate"] is True
    r = c.post(f"{V1}/device/captures/{cid}/chunks", json={"seq": 2, "rows": [[1, 2]]}, headers=dev)
    assert r.status_code == 400 and r.json()["error"]["field"] == "rows", r.text
    assert "2 values but the capture has 3 axes" in r.json()["error"]["message"]
    live = c.get(f"{V1}/captures/{cid}/live", params={"after": 0}, headers=api.headers("uma")).json()
    assert [k["seq"] for k in live["chunks"]] == [1] and live["capture"]["status"] == "recording"

    r = c.post(f"{V1}/device/captures/{cid}/complete", content=_payload(),
               headers={**dev, "content-type": "application/json"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "done" and done["sample_id"]
    sample = c.get(f"{V1}/samples/{done['sample_id']}", headers=api.headers()).json()
    assert (sample["label"], sample["category"], sample["length"]) == ("wave", "testing", 40)
    assert sample["source"].startswith("device:pi-1/")
    again = c.post(f"{V1}/device/captures/{cid}/complete", content=_payload(seed=3),
                   headers={**dev, "content-type": "application/json"})
    assert again.status_code == 200 and again.json() == done and _samples(api) == 1
    assert c.get(f"{V1}/captures/{cid}", headers=api.headers()).json() == done
    assert [x["id"] for x in c.get(f"{V1}/captures", params={"device": "pi-1", "status": "done"},
                                   headers=api.headers()).json()] == [cid]
    ingest = [e for e in api.project.audit_entries() if e.action == "sample.ingest"]
    assert len(ingest) == 1 and ingest[0].actor == "dana" and ingest[0].artifacts["via_token"] == d["id"]


def test_a_bad_sample_is_refused_and_nothing_is_stored(api: Api) -> None:
    c = api.client
    d = _register(api)
    dev = _key(d["key"])
    cid = c.post(f"{V1}/devices/pi-1/captures", json={"label": "wave", "length_ms": 400},
                 headers=api.headers()).json()["id"]
    c.post(f"{V1}/device/captures/{cid}/start", json={"axes": AXES, "frequency_hz": 100}, headers=dev)
    c.post(f"{V1}/device/captures/{cid}/chunks", json={"seq": 0, "rows": [[1, 2, 3]]}, headers=dev)
    blobs = sorted(api.project.blobs)
    r = c.post(f"{V1}/device/captures/{cid}/complete", content=_payload(axes=["x", "y", "z"]),
               headers={**dev, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "payload.sensors", r.text
    r = c.post(f"{V1}/device/captures/{cid}/complete", content=b"{not json",
               headers={**dev, "content-type": "application/json"})
    assert r.status_code == 400, r.text
    r = c.post(f"{V1}/device/captures/{cid}/complete", content=_payload(),
               headers={**dev, "content-type": "text/csv"})
    assert r.status_code == 415, r.text
    assert _samples(api) == 0 and sorted(api.project.blobs) == blobs
    live = c.get(f"{V1}/captures/{cid}/live", headers=api.headers()).json()
    assert live["capture"]["status"] == "recording" and len(live["chunks"]) == 1  # the device may retry
    r = c.post(f"{V1}/device/captures/{cid}/complete", content=_payload(),
               headers={**dev, "content-type": "application/json"})
    assert r.status_code == 200 and r.json()["status"] == "done", r.text


def test_a_device_cannot_touch_another_devices_capture(api: Api) -> None:
    c = api.client
    _register(api)
    other = _key(_register(api, "pi-2")["key"])
    cid = c.post(f"{V1}/devices/pi-1/captures", json={"label": "wave", "length_ms": 400},
                 headers=api.headers()).json()["id"]
    assert c.get(f"{V1}/device/commands", headers=other).json() == {"captures": []}
    for path, kwargs in (("start", {"json": {"axes": AXES, "frequency_hz": 100}}),
                         ("chunks", {"json": {"seq": 0, "rows": [[1, 2, 3]]}}),
                         ("complete", {"content": _payload(), "headers": {"content-type": "application/json"}}),
                         ("fail", {"json": {"error": "no"}})):
        headers = {**other, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        r = c.post(f"{V1}/device/captures/{cid}/{path}", headers=headers, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (path, r.text)
    assert c.get(f"{V1}/captures/{cid}", headers=api.headers()).json()["status"] == "requested"
    assert c.get(f"{V1}/captures/nope", headers=api.headers()).status_code == 404


def test_cancel_and_fail(api: Api) -> None:
    c = api.client
    dev = _key(_register(api)["key"])
    cid = c.post(f"{V1}/devices/pi-1/captures", json={"label": "wave", "length_ms": 400},
                 headers=api.headers()).json()["id"]
    assert c.post(f"{V1}/captures/{cid}/cancel", headers=api.headers("bob")).status_code == 403
    assert c.post(f"{V1}/captures/{cid}/cancel", headers=api.headers()).json()["status"] == "cancelled"
    r = c.post(f"{V1}/device/captures/{cid}/start", json={"axes": AXES, "frequency_hz": 100}, headers=dev)
    assert r.status_code == 409 and "cancelled" in r.json()["error"]["message"]
    cid = c.post(f"{V1}/devices/pi-1/captures", json={"label": "wave", "length_ms": 400},
                 headers=api.headers()).json()["id"]
    r = c.post(f"{V1}/device/captures/{cid}/fail", json={"error": "mic unplugged"}, headers=dev)
    assert (r.json()["status"], r.json()["error"]) == ("failed", "mic unplugged")
    r = c.post(f"{V1}/devices/pi-1/captures", json={"label": "w", "length_ms": 10, "sensor": "camera"},
               headers=api.headers())
    assert r.status_code == 400 and r.json()["error"]["field"] == "sensor"


def test_the_long_poll_answers_at_once_while_the_server_stops(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's SIGTERM handler sets its server's should_exit: a long poll then answers at its next read of
    the database instead of waiting out its 25 s (counted in reads, not timed)."""
    from crisp_eml.workspace import captures

    dev = _key(_register(api)["key"])
    reads: list[str] = []
    real = captures.pending_captures

    def counted(project: Project, device: str) -> list[dict[str, Any]]:
        reads.append(device)
        return real(project, device)

    monkeypatch.setattr(captures, "pending_captures", counted)

    class Server:
        should_exit = True

        def handle_exit(self, sig: int, frame: object) -> None:
            raise AssertionError("not called")

    previous = signal.signal(signal.SIGTERM, Server().handle_exit)
    try:
        r = api.client.get(f"{V1}/device/commands", params={"wait": 25}, headers=dev)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert r.json() == {"captures": [], "stopping": True} and len(reads) == 1


class SimulatedDevice(threading.Thread):
    """A device written with httpx: hello, long poll, then record the capture it is asked for at 100 Hz,
    streaming chunks and waiting (at most WAIT_S) for the test to have seen them live before completing."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=f"{url}{V1}", headers=_key(key), timeout=WAIT_S)
        self.polling, self.streamed, self.may_complete = threading.Event(), threading.Event(), threading.Event()
        self.result: dict[str, Any] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.http.post("/device/hello", json={"sensors": SENSORS, "info": {"host": "sim"}}).raise_for_status()
            self.polling.set()
            cmd = self.http.get("/device/commands", params={"wait": 20}).json()
            (cap,) = cmd["captures"]
            self.http.post(f"/device/captures/{cap['id']}/start",
                           json={"axes": AXES, "frequency_hz": 100}).raise_for_status()
            rows = np.random.default_rng(1).normal(size=(cap["length_ms"] // 10, 3)).astype(np.float32)
            for seq, start in enumerate(range(0, len(rows), 25)):
                self.http.post(f"/device/captures/{cap['id']}/chunks",
                               json={"seq": seq, "rows": rows[start:start + 25].tolist()}).raise_for_status()
            self.streamed.set()
            assert self.may_complete.wait(WAIT_S)
            body = encode(build_message(rows, [Sensor(a) for a in AXES], 100.0, device_name="sim"))
            r = self.http.post(f"/device/captures/{cap['id']}/complete", content=body,
                               headers={"content-type": "application/json"})
            r.raise_for_status()
            self.result = r.json()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.http.close()


def _member(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{url}{V1}", headers=_key(token), timeout=WAIT_S)


def test_remote_capture_over_loopback_then_sigterm_ends_a_long_poll(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    project, tokens, _ = make_project(root)
    with live_server(root) as server, _member(server.url, tokens[OWNER]) as member:
        key = member.post("/devices", json={"name": "sim"}).json()["key"]
        device = SimulatedDevice(server.url, key)
        device.start()
        assert device.polling.wait(WAIT_S)
        r = member.post("/devices/sim/captures", json={"label": "shake", "length_ms": 1000, "category": "training"})
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        assert device.streamed.wait(WAIT_S), device.error
        live = member.get(f"/captures/{cid}/live").json()  # seen live before the sample is complete
        assert live["capture"]["status"] == "recording" and live["capture"]["frequency_hz"] == 100
        assert sum(len(k["rows"]) for k in live["chunks"]) == 100
        device.may_complete.set()
        device.join(WAIT_S)
        assert device.error is None and device.result["status"] == "done", device.error
        sample = member.get(f"/samples/{device.result['sample_id']}").json()
        assert (sample["label"], sample["category"], sample["length"], sample["frequency_hz"]) == (
            "shake", "training", 100, 100.0)

        # a second device long-polls; SIGTERM makes the poll answer at once and the server exit cleanly
        quiet = member.post("/devices", json={"name": "quiet"}).json()
        answer: dict[str, Any] = {}

        def poll() -> None:
            with httpx.Client(base_url=f"{server.url}{V1}", headers=_key(quiet["key"]), timeout=WAIT_S) as h:
                answer.update(h.get("/device/commands", params={"wait": 25}).json())

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _wait_seen(project, quiet["id"])  # the poll is in the server: its heartbeat was written
        server.process.send_signal(signal.SIGTERM)
        poller.join(WAIT_S)
        assert answer == {"captures": [], "stopping": True}
        assert server.process.wait(WAIT_S) == 0


def _wait_seen(project: Project, device_id: str) -> None:
    import time

    deadline = time.monotonic() + WAIT_S
    while True:
        with project.read_session() as s:
            row = s.get(DeviceRow, device_id)
            if row is not None and row.last_seen_at is not None:
                return
        assert time.monotonic() < deadline, "the long poll never reached the server"
        time.sleep(0.05)

"""``eml agent`` against a real ``eml serve`` on loopback: a member asks for recordings, the agent records them.

The agent runs as a subprocess (``--json``: one event per line) with command sources printing readings at
100 Hz (tests/capture/reading_printer.py) and, for the serial bridge, a simulated board on a pty
(tests/capture/fake_board.py). Checked: the stored sample has the capture's label and category, exactly the
requested rows and the source's frequency (within 1 %), the values the source printed; the live chunks are
visible through ``GET /captures/{id}/live`` while the capture is recording; a source failure reaches the
capture as ``failed`` with the source's message and the agent goes on serving; SIGTERM stops it cleanly.
No wall-clock time is asserted: every wait is bounded only so that a hang fails instead of blocking.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from server_helpers import OWNER, live_server, make_project  # noqa: E402

HERE = Path(__file__).resolve().parent
PRINTER = HERE / "reading_printer.py"
EML = Path(sys.executable).with_name("eml")
WAIT_S = 60.0


class AgentProcess:
    """``eml agent ... --json`` in a subprocess; its events (one JSON object a line) read by a thread."""

    def __init__(self, url: str, key: str, sources: list[str], *extra: str, argv: list[str] | None = None) -> None:
        if argv is None:
            argv = [str(EML), "agent", "--server", url, "--poll-wait", "2", "--json", *extra]
            for spec in sources:
                argv += ["--source", spec]
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={"EML_DEVICE_KEY": key, "PATH": str(EML.parent)})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.events.put(json.loads(line))

    def wait_event(self, kind: str, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(event)
            if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event
        err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"no {kind} event {match}; events: {self.seen[-8:]}; exit {self.proc.poll()}: {err}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, httpx.Client]]:
    root = tmp_path / "proj"
    _, tokens, _ = make_project(root)
    with live_server(root) as server, httpx.Client(base_url=f"{server.url}/api/v1", timeout=WAIT_S,
                                                   headers={"Authorization": f"Bearer {tokens[OWNER]}"}) as member:
        yield server.url, member


def register(member: httpx.Client, name: str) -> str:
    r = member.post("/devices", json={"name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def request(member: httpx.Client, device: str, **body: Any) -> str:
    r = member.post(f"/devices/{device}/captures", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def follow(member: httpx.Client, cid: str) -> tuple[dict[str, Any], list[list[float]]]:
    """Poll the live view until the capture ends; the final capture and the rows seen while it recorded."""
    live_rows: list[list[float]] = []
    after = -1
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        r = member.get(f"/captures/{cid}/live", params={"after": after})
        assert r.status_code == 200, r.text
        view = r.json()
        if view["capture"]["status"] == "recording":
            for chunk in view["chunks"]:
                assert chunk["seq"] == after + 1, "chunks arrive in order, none missing"
                live_rows += chunk["rows"]
                after = chunk["seq"]
        if view["capture"]["status"] in ("done", "failed", "cancelled"):
            return view["capture"], live_rows
        time.sleep(0.05)
    raise AssertionError(f"capture {cid} did not end")


def test_agent_records_a_requested_capture_then_a_failing_source_then_stops(
        served: tuple[str, httpx.Client]) -> None:
    url, member = served
    key = register(member, "pi-agent")
    agent = AgentProcess(url, key, [f"cmd:{sys.executable} {PRINTER} 100 0",  # rate measured by the agent
                                    f"cmd:{sys.executable} {PRINTER} 100 50@100"])  # stops after 50 readings
    try:
        hello = agent.wait_event("hello")
        assert hello["device"]["name"] == "pi-agent"
        (device,) = member.get("/devices").json()
        assert [s["name"] for s in device["sensors"]] == ["command", "command-2"] and device["online"]
        assert device["sensors"][0]["frequency_hz"] == 100 and len(device["sensors"][0]["axes"]) == 3

        cid = request(member, "pi-agent", label="wave", length_ms=2000, category="training")
        capture, live_rows = follow(member, cid)
        assert capture["status"] == "done", capture
        assert live_rows, "no live chunk was seen while the capture recorded"
        sample = member.get(f"/samples/{capture['sample_id']}").json()
        assert (sample["label"], sample["category"], sample["length"]) == ("wave", "training", 200)
        assert abs(sample["frequency_hz"] - 100) <= 1
        data = member.get(f"/samples/{capture['sample_id']}/data").json()
        values = np.asarray(data["values"], dtype=np.float64)
        assert values.shape == (200, 3)
        np.testing.assert_array_equal(np.diff(values[:, 0]), np.ones(199))  # every line, in order
        np.testing.assert_array_equal(values[:, 1], 2 * values[:, 0])
        np.testing.assert_array_equal(np.asarray(live_rows), values[: len(live_rows)])  # live == stored
        assert agent.wait_event("capture-done", id=cid)["sample_id"] == capture["sample_id"]

        # the second source stops after 50 of 200 readings: the capture fails with its message...
        bad = request(member, "pi-agent", label="wave", length_ms=2000, sensor="command-2")
        capture, _ = follow(member, bad)
        assert capture["status"] == "failed" and capture["sample_id"] is None
        assert "exited with code 3 after 50 of 200 readings: sensor stopped after 50 readings" in capture["error"]
        # ...and the agent goes on serving
        again = request(member, "pi-agent", label="still", length_ms=500)
        capture, _ = follow(member, again)
        assert capture["status"] == "done", capture
        assert member.get(f"/samples/{capture['sample_id']}").json()["length"] == 50
    finally:
        code = agent.stop()
    assert code == 0, agent.proc.stderr.read() if agent.proc.stderr else ""


def test_agent_once_exits_after_one_capture_and_a_bad_key_is_refused(served: tuple[str, httpx.Client]) -> None:
    url, member = served
    key = register(member, "one-shot")
    agent = AgentProcess(url, key, [f"cmd:{sys.executable} {PRINTER} 100 0@100"], "--once")
    try:
        agent.wait_event("hello")
        cid = request(member, "one-shot", label="tap", length_ms=300)
        final = agent.wait_event("capture")
        assert agent.proc.wait(timeout=WAIT_S) == 0
        assert final["capture"]["id"] == cid and final["capture"]["status"] == "done"
    finally:
        agent.stop()
    bad = subprocess.run([str(EML), "agent", "--server", url, "--key", key[:-4] + "abcd", "--source",
                          f"cmd:{sys.executable} {PRINTER} 100 0@100"], capture_output=True, text=True,
                         timeout=WAIT_S)
    assert bad.returncode == 6, bad.stderr  # PermissionDeniedError: the server's 401 message, no retry loop
    assert "401" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("command", ["agent", "capture-serial"])
def test_serial_bridge_records_a_board_on_a_pty(served: tuple[str, httpx.Client], tmp_path: Path,
                                                command: str) -> None:
    """The bridge, both ways: ``eml agent --source serial:PORT`` and ``eml capture serial --server URL``."""
    from fake_board import FakeBoard

    url, member = served
    name = f"bench-board-{command}"
    key = register(member, name)
    with FakeBoard(tmp_path, [["line", "booting"], ["readings", -1, 3]], hz=200) as board:
        if command == "agent":
            agent = AgentProcess(url, key, [f"serial:{board.port}"], "--axes", "accX,accY,accZ")
        else:
            agent = AgentProcess(url, key, [], argv=[str(EML), "capture", "serial", "--server", url, "--port",
                                                     board.port, "--axes", "accX,accY,accZ", "--json"])
        try:
            agent.wait_event("hello")
            cid = request(member, name, label="bridge", length_ms=500)
            capture, _ = follow(member, cid)
        finally:
            assert agent.stop() == 0
        assert capture["status"] == "done", capture
        assert capture["axes"] == ["accX", "accY", "accZ"] and capture["frequency_hz"] == 200
        data = member.get(f"/samples/{capture['sample_id']}/data").json()
        values = np.asarray(data["values"], dtype=np.float32)
        assert values.shape == (100, 3)
        printed = np.asarray(board.readings(), dtype=np.float32)
        starts = [i for i in range(len(printed) - 99) if np.array_equal(printed[i:i + 100], values)]
        assert starts, "the sample is not 100 consecutive readings the board printed"

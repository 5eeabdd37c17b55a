"""Remote capture use cases (workspace.devices, workspace.captures) without a server: a device registered by a
member, its key authenticating as that member with scope ingest-data, then request -> start -> chunks ->
complete through the ingestion pipeline; bad payloads store nothing; stale, cancelled and revoked captures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from crisp_eml.core.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.data.samples import get_sample, list_samples
from crisp_eml.store.project import Project
from crisp_eml.store.tables.devices import CaptureChunkRow, CaptureRow, DeviceRow
from crisp_eml.workspace import captures as cap
from crisp_eml.workspace import devices as dev
from crisp_eml.workspace.credentials import authenticate
from crisp_eml.workspace.members import add_member

ACC = {"name": "accelerometer", "kind": "timeseries", "axes": ["accX", "accY", "accZ"], "frequency_hz": 100}
AXES = ["accX", "accY", "accZ"]


def _payload(n: int = 50, axes: list[str] | None = None, hz: float = 100.0, seed: int = 0) -> bytes:
    rows = np.random.default_rng(seed).normal(size=(n, len(axes or AXES))).astype(np.float32)
    return encode(build_message(rows, [Sensor(a, "m/s2") for a in axes or AXES], hz, device_name="board-1"))


def _device(project: Project, name: str = "board-1") -> tuple[dict[str, Any], Project]:
    """A registered device that said hello, and the project acting as its key does."""
    d = dev.register_device(project, name)
    cred = authenticate(project, d["key"])
    assert cred is not None and cred.kind == "device" and cred.credential_id == d["id"]
    dp = cred.project(project)
    dev.device_hello(dp, d["id"], [ACC], {"host": "pi"})
    return d, dp


def _recording(project: Project, dp: Project, d: dict[str, Any], label: str = "wave") -> dict[str, Any]:
    c = cap.request_capture(project, d["name"], label=label, length_ms=500, category="training")
    assert [p["id"] for p in cap.pending_captures(dp, d["id"])] == [c["id"]]
    return cap.start_capture(dp, d["id"], c["id"], AXES, 100.0)


def _samples(project: Project) -> int:
    return len(list_samples(project))


def test_register_list_hello_and_revoke(project: Project) -> None:
    d = dev.register_device(project, "board-1")
    assert d["key"].startswith(f"eml_d_{d['id']}_") and d["state"] == "active" and not d["online"]
    assert "key" not in dev.list_devices(project)[0]
    with pytest.raises(ConflictError, match="already exists"):
        dev.register_device(project, "board-1")
    with pytest.raises(InputError, match="field 'name'"):
        dev.register_device(project, "bad name!")
    with pytest.raises(InputError, match=r"field 'sensors\[0\].axes'"):
        dev.device_hello(project, d["id"], [{"name": "acc", "axes": []}], {})
    dev.device_hello(project, d["id"], [ACC], {"host": "pi"})
    (listed,) = dev.list_devices(project)
    assert listed["online"] and listed["sensors"][0]["axes"] == AXES and listed["info"] == {"host": "pi"}
    revoked = dev.revoke_device(project, "board-1")
    assert revoked["state"] == "revoked" and not revoked["online"]
    assert authenticate(project, d["key"]) is None
    again = dev.register_device(project, "board-1")  # a revoked device's name can be taken again
    assert again["id"] != d["id"] and {x["name"] for x in dev.list_devices(project)} == {"board-1",
                                                                                         f"board-1~{d['id']}"}
    actions = [e.action for e in project.audit_entries()]
    assert actions.count("device.register") == 2 and actions.count("device.revoke") == 1


def test_capture_is_ingested_through_the_pipeline(project: Project) -> None:
    d, dp = _device(project)
    c = _recording(project, dp, d)
    assert c["status"] == "recording" and c["axes"] == AXES and c["requested_by"] == "tester"
    assert cap.pending_captures(dp, d["id"]) == []
    first = cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3], [4, 5, 6]])
    assert not first["duplicate"]
    assert cap.add_chunk(dp, d["id"], c["id"], 0, [[9, 9, 9]])["duplicate"]  # resent: kept as first sent
    cap.add_chunk(dp, d["id"], c["id"], 1, [[7, 8, 9]])
    live = cap.capture_live(project, c["id"])
    assert [(k["seq"], k["rows"]) for k in live["chunks"]] == [(0, [[1, 2, 3], [4, 5, 6]]), (1, [[7, 8, 9]])]
    assert [k["seq"] for k in cap.capture_live(project, c["id"], after=0)["chunks"]] == [1]

    done = cap.complete_capture(dp, d["id"], c["id"], _payload())
    assert done["status"] == "done" and done["sample_id"] and done["frequency_hz"] == 100.0
    s = get_sample(project, done["sample_id"])
    assert (s.label, s.category, s.source, s.length) == ("wave", "training", f"device:board-1/wave.{c['id']}.json", 50)
    assert [x.name for x in s.sensors] == AXES and s.metadata["capture_id"] == c["id"]
    assert cap.capture_live(project, c["id"])["chunks"] == []  # dropped once done
    assert cap.complete_capture(dp, d["id"], c["id"], _payload(seed=5)) == done  # idempotent, nothing new stored
    assert _samples(project) == 1
    ingest = [e for e in project.audit_entries() if e.action == "sample.ingest"]
    assert len(ingest) == 1 and ingest[0].actor == "tester" and ingest[0].artifacts["via_token"] == d["id"]
    assert "capture.request" in [e.action for e in project.audit_entries()]


@pytest.mark.parametrize(("payload", "field"), [
    (_payload(axes=["x", "y", "z"]), "payload.sensors"),
    (_payload(axes=["accX", "accY"]), "payload.sensors"),
    (b'{"protected": {"ver": "v1", "alg": "none"}, "signature": "0", "payload": {"interval_ms": 10, '
     b'"sensors": [{"name": "accX"}, {"name": "accY"}, {"name": "accZ"}], "values": [[1, 2]]}}', "payload.values"),
    (b"not json", None),
    (b"", "body"),
])
def test_a_bad_payload_stores_nothing_and_leaves_the_capture_recording(project: Project, payload: bytes,
                                                                       field: str | None) -> None:
    d, dp = _device(project)
    c = _recording(project, dp, d)
    cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3]])
    blobs = sorted(project.blobs)
    with pytest.raises(InputError) as exc:
        cap.complete_capture(dp, d["id"], c["id"], payload)
    if field is not None:
        assert exc.value.field == field, exc.value
    assert _samples(project) == 0 and sorted(project.blobs) == blobs
    again = cap.capture_live(project, c["id"])
    assert again["capture"]["status"] == "recording" and len(again["chunks"]) == 1
    assert cap.complete_capture(dp, d["id"], c["id"], _payload())["status"] == "done"  # the device may retry


def test_a_duplicate_sample_is_refused(project: Project) -> None:
    d, dp = _device(project)
    first = _recording(project, dp, d)
    cap.complete_capture(dp, d["id"], first["id"], _payload())
    second = _recording(project, dp, d)
    with pytest.raises(ConflictError, match="duplicate"):
        cap.complete_capture(dp, d["id"], second["id"], _payload())
    assert cap.get_capture(project, second["id"])["status"] == "recording" and _samples(project) == 1


def test_a_resend_after_a_crash_between_ingest_and_done_marks_the_capture_done(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample is ingested, then the process dies before the capture is marked done: the device's resend is
    a duplicate of that very sample, so the capture becomes done with it (not a conflict, and no second one)."""
    d, dp = _device(project)
    c = _recording(project, dp, d)
    real = cap._own

    def crash_at_the_mark(s: Any, device_id: str, capture_id: str) -> Any:
        if _samples(project) == 1:  # the sample is in: die before the capture row is marked
            raise RuntimeError("killed")
        return real(s, device_id, capture_id)

    monkeypatch.setattr(cap, "_own", crash_at_the_mark)
    with pytest.raises(RuntimeError):
        cap.complete_capture(dp, d["id"], c["id"], _payload())
    monkeypatch.setattr(cap, "_own", real)
    assert cap.get_capture(project, c["id"])["status"] == "recording" and _samples(project) == 1
    done = cap.complete_capture(dp, d["id"], c["id"], _payload())
    assert done["status"] == "done" and _samples(project) == 1
    assert get_sample(project, done["sample_id"]).metadata["capture_id"] == c["id"]


def test_chunks_are_checked(project: Project) -> None:
    d, dp = _device(project)
    c = _recording(project, dp, d)
    with pytest.raises(InputError, match="row 1 has 2 values but the capture has 3 axes") as exc:
        cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3], [1, 2]])
    assert exc.value.field == "rows"
    with pytest.raises(InputError, match="field 'rows'"):
        cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, float("nan")]])
    with pytest.raises(InputError, match="field 'seq'"):
        cap.add_chunk(dp, d["id"], c["id"], -1, [[1, 2, 3]])
    assert cap.capture_live(project, c["id"])["chunks"] == []  # nothing half-written


def test_a_device_sees_only_its_own_captures(project: Project) -> None:
    d, dp = _device(project)
    other, op = _device(project, "board-2")
    c = cap.request_capture(project, "board-1", label="wave", length_ms=500)
    assert cap.pending_captures(op, other["id"]) == []
    for call in (lambda: cap.start_capture(op, other["id"], c["id"], AXES, 100.0),
                 lambda: cap.add_chunk(op, other["id"], c["id"], 0, [[1, 2, 3]]),
                 lambda: cap.complete_capture(op, other["id"], c["id"], _payload()),
                 lambda: cap.fail_capture(op, other["id"], c["id"], "no")):
        with pytest.raises(NotFoundError, match="no capture"):
            call()
    assert cap.get_capture(project, c["id"])["status"] == "requested"


def test_requests_are_checked(project: Project) -> None:
    d = dev.register_device(project, "quiet")
    with pytest.raises(ConflictError, match="announced no sensors"):
        cap.request_capture(project, "quiet", label="x", length_ms=100)
    dev.device_hello(project, d["id"], [ACC], {})
    with pytest.raises(InputError, match="no sensor 'camera'; its sensors: accelerometer"):
        cap.request_capture(project, "quiet", label="x", length_ms=100, sensor="camera")
    for kwargs, field in (({"length_ms": 0}, "length_ms"), ({"category": "bogus"}, "category"),
                          ({"label": ""}, "label")):
        with pytest.raises(InputError, match=f"field '{field}'"):
            cap.request_capture(project, "quiet", **{"label": "x", "length_ms": 100, **kwargs})  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no device 'nope'"):
        cap.request_capture(project, "nope", label="x", length_ms=100)
    dev.revoke_device(project, "quiet")
    with pytest.raises(ConflictError, match="revoked"):
        cap.request_capture(project, "quiet", label="x", length_ms=100)
    assert cap.list_captures(project) == []


def test_cancel_fail_and_revoke(project: Project) -> None:
    d, dp = _device(project)
    c = _recording(project, dp, d)
    cancelled = cap.cancel_capture(project, c["id"])
    assert cancelled["status"] == "cancelled" and "tester" in cancelled["error"]
    with pytest.raises(ConflictError, match="cancelled"):
        cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3]])
    with pytest.raises(ConflictError, match="cancelled"):
        cap.complete_capture(dp, d["id"], c["id"], _payload())
    assert cap.cancel_capture(project, c["id"]) == cancelled  # harmless again, audited once
    assert [e.action for e in project.audit_entries()].count("capture.cancel") == 1

    f = _recording(project, dp, d)
    failed = cap.fail_capture(dp, d["id"], f["id"], "sensor unplugged")
    assert (failed["status"], failed["error"]) == ("failed", "sensor unplugged")

    waiting = cap.request_capture(project, "board-1", label="wave", length_ms=500)
    dev.revoke_device(project, "board-1")
    assert cap.get_capture(project, waiting["id"])["status"] == "cancelled"
    assert {c["status"] for c in cap.list_captures(project, device="board-1")} == {"cancelled", "failed"}
    assert [c["id"] for c in cap.list_captures(project, status="failed")] == [f["id"]]


def test_a_capture_recording_too_long_becomes_failed_when_read(project: Project) -> None:
    d, dp = _device(project)
    c = _recording(project, dp, d)
    cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3]])
    assert cap.get_capture(project, c["id"])["status"] == "recording"
    with project.session() as s:  # started length + 61 s ago
        row = s.get(CaptureRow, c["id"])
        assert row is not None and row.started_at is not None
        row.started_at -= timedelta(milliseconds=row.length_ms, seconds=cap.STALE_GRACE_S + 1)
    (listed,) = cap.list_captures(project)
    assert listed["status"] == "failed" and "stale" in listed["error"]
    with project.read_session() as s:
        assert s.query(CaptureChunkRow).count() == 0


def test_wait_capture_follows_it_to_the_end(project: Project) -> None:
    d, dp = _device(project)
    c = _recording(project, dp, d)
    cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3], [4, 5, 6]])
    seen: list[tuple[str, int]] = []
    assert cap.wait_capture(project, c["id"], 0, on_update=lambda x, n: seen.append((x["status"], n)))[
        "status"] == "recording"
    assert seen == [("recording", 2)]
    cap.complete_capture(dp, d["id"], c["id"], _payload())
    assert cap.wait_capture(project, c["id"], 5)["status"] == "done"


def test_members_without_ingest_data_are_refused(project: Project) -> None:
    d, dp = _device(project)
    add_member(project, "bob", "business-leader")
    bob = project.acting_as("bob")
    with pytest.raises(PermissionDeniedError):
        dev.register_device(bob, "x")
    with pytest.raises(PermissionDeniedError):
        cap.request_capture(bob, "board-1", label="x", length_ms=100)
    assert dev.list_devices(bob)[0]["name"] == "board-1"  # reading is open to every member
    with project.read_session() as s:
        assert s.query(DeviceRow).count() == 1 and s.query(CaptureRow).count() == 0


def test_cli_capture_waits_for_the_device(project: Project, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``eml devices capture NAME --wait --json`` follows the request until the device (a thread calling the
    device-side use cases) has stored the sample, and prints the capture."""
    import json
    import threading
    import time

    d, dp = _device(project)
    errors: list[BaseException] = []

    def device() -> None:
        try:
            deadline = time.monotonic() + 60
            while not (waiting := cap.pending_captures(dp, d["id"])):
                assert time.monotonic() < deadline, "no capture requested"
                time.sleep(0.02)
            c = waiting[0]
            cap.start_capture(dp, d["id"], c["id"], AXES, 100.0)
            cap.add_chunk(dp, d["id"], c["id"], 0, [[1, 2, 3]] * 10)
            cap.complete_capture(dp, d["id"], c["id"], _payload(n=c["length_ms"] // 10))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=device, daemon=True)
    t.start()
    code, out, err = run_cli(["devices", "capture", "board-1", "--label", "knock", "--length-ms", "300",
                              "--category", "testing", "--wait", "--timeout", "60", "--json"], cwd=project.root)
    t.join(60)
    assert not errors, errors
    assert code == 0, err
    got = json.loads(out)
    assert got["status"] == "done" and got["device"] == "board-1"
    s = get_sample(project, got["sample_id"])
    assert (s.label, s.category, s.length) == ("knock", "testing", 30)
    code, out, _ = run_cli(["devices", "ls", "--json"], cwd=project.root)
    assert code == 0 and [x["name"] for x in json.loads(out)] == ["board-1"]

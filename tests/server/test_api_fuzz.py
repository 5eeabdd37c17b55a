"""Every route of the API, fuzzed from its own OpenAPI schema with schemathesis: valid and invalid requests
alike get a 2xx/4xx with the JSON error shape, never a 5xx or a stack trace.

The project holds a few samples so sample routes reach their real code; jobs are accepted but never run
(``job_workers=0``), so fuzzed training requests cost nothing. Examples per operation are bounded (CI time).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from server_helpers import Api, api_for

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = int(os.environ.get("EML_FUZZ_EXAMPLES", "12"))


def _seed(api: Api, tmp: Path) -> None:
    """A few labelled samples through the ingest use case."""
    from crisp_eml.workspace.ingest import ingest_paths

    folder = tmp / "csv"
    folder.mkdir()
    for i in range(4):
        rows = "\n".join(f"{t * 10},{(i + t) % 7},{t % 3},{i}" for t in range(50))
        (folder / f"{'idle' if i % 2 else 'wave'}.{i}.csv").write_text("timestamp,accX,accY,accZ\n" + rows + "\n")
    report = ingest_paths(api.project, [folder])
    assert report.ok, report.failures


def _check(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert status < 500, f"{status}: {text[:500]}"
    assert "Traceback" not in text
    ctype = response.headers.get("content-type") or [""]  # type: ignore[attr-defined]
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    if status >= 400 and ctype.startswith("application/json"):
        payload = response.json()  # type: ignore[attr-defined]
        assert "error" in payload, payload


def _fuzz(operations: list, auth: dict[str, str]) -> list[str]:  # type: ignore[type-arg]
    """Fuzz each operation (valid and invalid requests) with ``auth``; the labels of those fuzzed."""
    from schemathesis import GenerationMode

    seen: list[str] = []
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def fuzz(case: object) -> None:
                headers = dict(auth)
                extra = getattr(case, "headers", None) or {}
                headers.update({k: v for k, v in extra.items() if k.lower() != "authorization"})
                _check(case.call(headers=headers))  # type: ignore[attr-defined]

            try:
                fuzz()
            except Exception as exc:  # noqa: BLE001 - name the operation that failed
                raise AssertionError(f"{op.label} ({mode.value}): {exc}") from exc
        seen.append(op.label)
    return seen


def test_every_operation_survives_fuzzing(tmp_path: Path) -> None:
    with api_for(tmp_path / "proj", job_workers=0) as api:
        _seed(api, tmp_path)
        auth = api.headers()
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app, headers=auth)
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 3
        seen = _fuzz(operations, auth)
        assert "GET /health" in seen


def test_device_operations_survive_fuzzing_with_a_device_key(tmp_path: Path) -> None:
    """The device-facing routes refuse a member token, so the pass above only reaches their 401: here they are
    fuzzed again as a registered device that said hello and has a capture recording (ids in the paths are
    mostly unknown, so bodies and queries are checked before the 404)."""
    from crisp_eml.workspace import captures, devices

    with api_for(tmp_path / "proj", job_workers=0) as api:
        d = devices.register_device(api.project, "fuzz-board")
        auth = {"Authorization": f"Bearer {d['key']}"}
        sensor = {"name": "accelerometer", "kind": "timeseries", "axes": ["x", "y"], "frequency_hz": 50}
        assert api.client.post("/api/v1/device/hello", json={"sensors": [sensor]}, headers=auth).status_code == 200
        c = captures.request_capture(api.project, "fuzz-board", label="wave", length_ms=200)
        started = api.client.post(f"/api/v1/device/captures/{c['id']}/start", headers=auth,
                                  json={"axes": ["x", "y"], "frequency_hz": 50})
        assert started.status_code == 200, started.text
        captures.request_capture(api.project, "fuzz-board", label="idle", length_ms=200)  # the long poll answers
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app, headers=api.headers())
        operations = [op for op in (r.ok() for r in schema.get_all_operations())
                      if op.path.startswith("/api/v1/device/")]
        seen = _fuzz(operations, auth)
        assert {"POST /api/v1/device/hello", "GET /api/v1/device/commands", "POST /api/v1/device/review"} <= set(seen)
        assert captures.get_capture(api.project, c["id"])["status"] in ("recording", "done", "failed")

"""The device client retries what is transient, reports what the server refused, and the agent reconnects.

Over ``httpx.MockTransport`` (no server): a 503 or a refused connection is retried with back-off, a 4xx is
the project's error class carrying the server's own message, and the agent loop greets the server again
after it was away, recording a capture requested once it is back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from crisp_eml.capture.agent import Agent
from crisp_eml.capture.client import DeviceClient, ServerUnavailableError, backoff
from crisp_eml.capture.sources.base import BaseSource
from crisp_eml.core.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, **kw: Any) -> DeviceClient:
    return DeviceClient("http://eml.test:4800/", "eml_d_abc_secret", transport=httpx.MockTransport(handler),
                        backoff_s=0.001, **kw)


def error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": "x", "message": message, "field": None}})


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(i, 0.5, 3.0) for i in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_transient_failures_are_retried() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            return error(503, "busy")
        assert request.headers["authorization"] == "Bearer eml_d_abc_secret"
        return httpx.Response(200, json={"capture": "c1", "seq": 0, "duplicate": False})

    assert client(handler).chunk("c1", 0, [[1.0, 2.0]])["seq"] == 0
    assert calls == ["/api/v1/device/captures/c1/chunks"] * 3


def test_a_server_that_stays_away_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ServerUnavailableError, match=r"cannot reach http://eml.test:4800 .*after 3 attempt"):
        client(handler, retries=3).hello([])


@pytest.mark.parametrize(("status", "cls"), [(400, InputError), (422, InputError), (401, PermissionDeniedError),
                                             (404, NotFoundError), (409, ConflictError)])
def test_refusals_carry_the_server_message(status: int, cls: type[Exception]) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return error(status, "rows: row 3 has 2 values, the capture has 3 axes")

    with pytest.raises(cls, match=rf"row 3 has 2 values.*answered {status} to POST /api/v1/device/captures/c9/"):
        client(handler).chunk("c9", 3, [[1, 2]])
    assert len(calls) == 1  # never retried


def test_complete_and_review_bodies() -> None:
    seen: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers["content-type"], request.content))
        return httpx.Response(200, json={"id": "x", "status": "done"})

    c = client(handler)
    c.complete("c1", b'{"payload": {}}')
    c.upload_review("u-1", "low-confidence", {"payload": {}}, predicted="idle", confidence=0.4)
    assert seen[0] == ("/api/v1/device/captures/c1/complete", "application/json", b'{"payload": {}}')
    assert seen[1][0] == "/api/v1/device/review"
    assert json.loads(seen[1][2]) == {"upload_id": "u-1", "reason": "low-confidence", "sample": {"payload": {}},
                                      "predicted": "idle", "confidence": 0.4}


@pytest.mark.parametrize(("url", "key", "field"), [("ftp://x", "k", "server"), ("http://x", "", "key"),
                                                   ("http://x", "a b", "key")])
def test_bad_settings(url: str, key: str, field: str) -> None:
    with pytest.raises(InputError, match=f"field '{field}'"):
        DeviceClient(url, key)


class Counter(BaseSource):
    """A 3-axis source giving rows 0, 1, 2... at 50 Hz, two per chunk."""

    name = "counter"

    @property
    def axes(self) -> list[str]:
        return ["a", "b", "c"]

    @property
    def frequency_hz(self) -> float:
        return 50.0

    def read(self, rows: int, chunk_s: float = 0.25) -> Iterator[np.ndarray]:
        values = np.repeat(np.arange(rows, dtype=np.float64)[:, None], 3, axis=1)
        for i in range(0, rows, 2):
            yield values[i:i + 2]


def test_agent_reconnects_and_serves_a_capture() -> None:
    log: list[str] = []
    state = {"down": 2, "served": False}
    body: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        log.append(path)
        if path == "/device/hello" and state["down"]:
            state["down"] -= 1
            raise httpx.ConnectError("refused", request=request)
        if path == "/device/hello":
            return httpx.Response(200, json={"device": {"id": "d1", "name": "pi"}})
        if path == "/device/commands":
            fresh = not state["served"]
            state["served"] = True
            return httpx.Response(200, json={"captures": [{"id": "c1", "sensor": None, "length_ms": 100}] * fresh})
        if path.endswith("/complete"):
            body.update(json.loads(request.content))
            return httpx.Response(200, json={"id": "c1", "status": "done", "sample_id": "s1"})
        return httpx.Response(200, json={"ok": True})

    events: list[str] = []
    agent = Agent(client(handler, retries=1), [Counter()], on_event=lambda k, _d: events.append(k),
                  reconnect_max_s=0.001)
    result = agent.run(once=True)
    assert result == {"id": "c1", "status": "done", "sample_id": "s1"}
    assert events[:3] == ["disconnected", "disconnected", "hello"]
    assert log[3:] == ["/device/commands", "/device/captures/c1/start", "/device/captures/c1/chunks",
                       "/device/captures/c1/chunks", "/device/captures/c1/chunks", "/device/captures/c1/complete"]
    payload = body["payload"]
    assert payload["device_name"] == "pi" and payload["device_type"] == "crisp-eml-agent"
    assert payload["interval_ms"] == 20 and [s["name"] for s in payload["sensors"]] == ["a", "b", "c"]
    assert [row[0] for row in payload["values"]] == [0, 1, 2, 3, 4]  # 100 ms at 50 Hz


def test_the_agent_key_comes_from_one_place(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisp_eml.cli.agent import KEY_ENV, read_key

    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(InputError, match="no device key"):
        read_key(None, None)
    monkeypatch.setenv(KEY_ENV, "eml_d_env_secret")
    assert read_key(None, None) == "eml_d_env_secret"
    assert read_key("eml_d_opt_secret", None) == "eml_d_opt_secret"
    (tmp_path / "key").write_text("eml_d_file_secret\n")
    assert read_key(None, tmp_path / "key") == "eml_d_file_secret"
    with pytest.raises(InputError, match="not both"):
        read_key("k", tmp_path / "key")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InputError, match="key file is empty"):
        read_key(None, tmp_path / "empty")

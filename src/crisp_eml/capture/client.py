"""The device side of the server's device API: what ``eml agent`` and the serial bridge say to ``eml serve``.

One small class over httpx with the device key: hello (sensors, a heartbeat), the long poll for capture
requests, start / chunk / complete / fail of a recording, and the upload of a window flagged for review.
Connection errors and 5xx/429 answers are retried with exponential back-off (every device call is
idempotent on the server: a resent chunk or complete changes nothing); a 4xx answer becomes the project's
own error class carrying the server's message, so the agent reports what the server said.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from crisp_eml.core.errors import (
    ConflictError,
    EmlError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    ProjectError,
)

API = "/api/v1"
RETRIES = 5  # attempts of one call before giving up (connection errors, 5xx, 429)
BACKOFF_S = 0.5  # first back-off; doubled each attempt up to MAX_BACKOFF_S
MAX_BACKOFF_S = 15.0


class ServerUnavailableError(ProjectError):
    """The server could not be reached, or kept answering 5xx, after the retries."""


class ClientStoppedError(EmlError):
    """The client's stop event was set while it waited to retry."""


def backoff(attempt: int, first: float = BACKOFF_S, cap: float = MAX_BACKOFF_S) -> float:
    """The wait before retry ``attempt`` (0, 1, 2...): ``first`` doubled each time, at most ``cap``."""
    return float(min(cap, first * (2 ** attempt)))


def _error(status: int, message: str, field: str | None = None) -> EmlError:
    if status in (401, 403):
        return PermissionDeniedError(message)
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return ConflictError(message)
    return InputError(message, field=field)


class DeviceClient:
    """The device API of the server at ``server_url`` (``http://host:8000``), authenticated by ``key``."""

    def __init__(self, server_url: str, key: str, *, timeout: float = 30.0, retries: int = RETRIES,
                 backoff_s: float = BACKOFF_S, stop: threading.Event | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        url = server_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"the server URL must start with http:// or https://, got {server_url!r}",
                             field="server")
        if not key or any(c.isspace() for c in key):
            raise InputError("the device key is empty or holds spaces", field="key")
        self.server_url = url
        self.retries = max(1, retries)
        self.backoff_s = backoff_s
        self.stop = stop or threading.Event()
        self._http = httpx.Client(base_url=url + API, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {key}", "User-Agent": "crisp-eml-agent"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls --------------------------------------------------------------------------------------------
    def hello(self, sensors: list[dict[str, Any]], info: dict[str, Any] | None = None) -> dict[str, Any]:
        """Announce the device's sensors; the device record (``{"id", "name", ...}``)."""
        answer = self._call("POST", "/device/hello", json={"sensors": sensors, "info": info or {}})
        return dict(answer["device"])

    def commands(self, wait_s: float = 25.0) -> list[dict[str, Any]]:
        """The captures requested of this device (long poll of up to ``wait_s`` seconds); tried once."""
        answer = self._call("GET", "/device/commands", params={"wait": wait_s}, timeout=wait_s + 15.0, retries=1)
        return list(answer.get("captures", []))

    def start(self, capture_id: str, axes: list[str], frequency_hz: float) -> dict[str, Any]:
        return self._call("POST", f"/device/captures/{capture_id}/start",
                          json={"axes": list(axes), "frequency_hz": float(frequency_hz)})

    def chunk(self, capture_id: str, seq: int, rows: list[list[float]]) -> dict[str, Any]:
        return self._call("POST", f"/device/captures/{capture_id}/chunks", json={"seq": seq, "rows": rows})

    def complete(self, capture_id: str, payload: bytes, *, cbor: bool = False) -> dict[str, Any]:
        """Send the recorded sample (an Edge Impulse acquisition message, encoded); the finished capture."""
        ctype = "application/cbor" if cbor else "application/json"
        return self._call("POST", f"/device/captures/{capture_id}/complete", content=payload,
                          headers={"Content-Type": ctype}, timeout=120.0)

    def fail(self, capture_id: str, error: str) -> dict[str, Any]:
        return self._call("POST", f"/device/captures/{capture_id}/fail", json={"error": error[:2000]})

    def upload_review(self, upload_id: str, reason: str, sample: dict[str, Any], *, model: str | None = None,
                      predicted: str | None = None, confidence: float | None = None,
                      anomaly_score: float | None = None, scores: dict[str, float] | None = None,
                      metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a window the model flagged (``sample``: an acquisition message object) to the review queue;
        a resend with the same ``upload_id`` returns the first item."""
        body: dict[str, Any] = {"upload_id": upload_id, "reason": reason, "sample": sample}
        extra = {"model": model, "predicted": predicted, "confidence": confidence, "anomaly_score": anomaly_score,
                 "scores": scores, "metadata": metadata}
        body.update({k: v for k, v in extra.items() if v is not None})
        return self._call("POST", "/device/review", json=body)

    # -- transport --------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, retries: int | None = None, timeout: float | None = None,
              **kwargs: Any) -> dict[str, Any]:
        attempts = self.retries if retries is None else max(1, retries)
        if timeout is not None:
            kwargs["timeout"] = timeout
        last = ""
        for attempt in range(attempts):
            if attempt:
                self._wait(backoff(attempt - 1, self.backoff_s))
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                last = f"cannot reach {self.server_url} ({type(exc).__name__}: {exc})"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last = f"{self.server_url} answered {response.status_code}: {_message(response)}"
                continue
            if response.status_code >= 400:
                raise _error(response.status_code,
                             f"{_message(response)} (the server answered {response.status_code} to {method} "
                             f"{API}{path})", _field(response))
            try:
                data = response.json()
            except ValueError:
                raise ServerUnavailableError(f"{method} {API}{path}: the server's answer is not JSON "
                                             f"(is {self.server_url} an eml server?)") from None
            if not isinstance(data, dict):
                raise ServerUnavailableError(f"{method} {API}{path}: unexpected answer {str(data)[:80]}")
            return data
        raise ServerUnavailableError(f"{last} after {attempts} attempt(s)")

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise ClientStoppedError("stopped")


def _field(response: httpx.Response) -> str | None:
    """The field the server's error names (``{"error": {"field"}}``), if any."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    field = error.get("field") if isinstance(error, dict) else None
    return field if isinstance(field, str) else None


def _message(response: httpx.Response) -> str:
    """The server's error message (``{"error": {"message"}}``), else the start of the body."""
    try:
        data = response.json()
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    except ValueError:
        pass
    return response.text[:200].strip() or response.reason_phrase

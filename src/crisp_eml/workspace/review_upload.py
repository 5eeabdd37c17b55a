"""The device side of the review queue: ``eml run ... --review-server URL`` uploads the windows its model flags.

A window is flagged when a classifier's top score is below ``flag_below`` (``low-confidence``) or an anomaly
model's score is above ``flag_anomaly_above`` (``anomaly``). The uploader keeps the tail of the raw input so it
can send the exact rows the model saw, as an Edge Impulse acquisition message, with the prediction, to
``POST /api/v1/device/review`` through the device client (:class:`crisp_eml.capture.client.DeviceClient`, the
device's key as a bearer token). Each window's ``upload_id`` is a hash of the input's name, the model and the
window's end row, so running the same recording again sends the same ids and the server stores nothing twice.
Network errors and 5xx answers are retried a few times, then counted as failed (a long live run keeps going); a
refused key or a refused window (4xx) stops the run with the server's message, since every later upload would
fail the same way.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.capture.client import DeviceClient, ServerUnavailableError
from crisp_eml.core.errors import EmlError, InputError, PermissionDeniedError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message

TRIES = 3  # attempts of one upload (connection errors, 5xx) before it counts as failed
BACKOFF_S = 0.2  # the first wait between them, doubled each time


@dataclass(frozen=True)
class ReviewOptions:
    """What ``eml run`` was asked to flag, and where to send it."""

    server: str
    device_key: str
    flag_below: float | None = None
    flag_anomaly_above: float | None = None

    def check(self, is_classifier: bool) -> None:
        if not self.server.startswith(("http://", "https://")):
            raise InputError(f"must be an http:// or https:// URL, got {self.server[:80]!r}", field="review_server")
        if not self.device_key.strip():
            raise InputError("a device key is needed to upload (eml devices add NAME)", field="device_key")
        if self.flag_below is None and self.flag_anomaly_above is None:
            raise InputError("say which windows to upload: --flag-below P (classifiers) or --flag-anomaly-above X "
                             "(anomaly models)", field="flag_below")
        if self.flag_below is not None:
            if not is_classifier:
                raise InputError("the model is an anomaly model: use --flag-anomaly-above", field="flag_below")
            if not 0 < self.flag_below <= 1:
                raise InputError(f"must be a probability in (0, 1], got {self.flag_below}", field="flag_below")
        if self.flag_anomaly_above is not None:
            if is_classifier:
                raise InputError("the model is a classifier: use --flag-below", field="flag_anomaly_above")
            if not math.isfinite(self.flag_anomaly_above):
                raise InputError("must be a finite number", field="flag_anomaly_above")


@dataclass
class ReviewUploader:
    """Flags windows from ``eml run``'s records and uploads their raw rows; :meth:`feed` each chunk's rows first,
    then :meth:`offer` the records that chunk completed."""

    options: ReviewOptions
    model: str  # what the device ran (the model argument), sent as the item's ``model``
    source: str  # the input's name: part of each window's upload id
    sensors: tuple[Sensor, ...]
    frequency_hz: float
    window_rows: int
    flagged: int = 0
    uploaded: int = 0
    failed: int = 0
    items: list[str] = field(default_factory=list)
    _tail: np.ndarray | None = None
    _fed: int = 0  # rows fed so far (the absolute row after the tail's last one)
    _client: DeviceClient | None = None

    def feed(self, rows: np.ndarray) -> None:
        """Keep the last ``window_rows`` rows plus this chunk: every window it completes lies within them."""
        if not len(rows):
            return
        rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        self._tail = rows if self._tail is None else np.concatenate([self._tail[-self.window_rows:], rows])
        self._fed += len(rows)

    def window(self, end_row: int) -> np.ndarray | None:
        """The raw rows ``[end_row - window_rows, end_row)``, if still held."""
        if self._tail is None:
            return None
        start = len(self._tail) - (self._fed - end_row) - self.window_rows
        if start < 0 or end_row > self._fed:
            return None
        return self._tail[start:start + self.window_rows]

    def offer(self, records: Iterable[dict[str, Any]], end_rows: Iterable[int]) -> None:
        """Upload each record's window that the flags select (records and their windows' end rows, in order)."""
        for rec, end in zip(records, end_rows, strict=True):
            reason = self._flag(rec)
            if reason is None:
                continue
            rows = self.window(int(end))
            if rows is None:
                continue
            self.flagged += 1
            self._upload(rec, int(end), reason, rows)

    def _flag(self, rec: dict[str, Any]) -> str | None:
        o = self.options
        if "anomaly" in rec:
            return "anomaly" if o.flag_anomaly_above is not None and rec["anomaly"] > o.flag_anomaly_above else None
        scores = rec.get("classification") or {}
        if o.flag_below is not None and scores and max(scores.values()) < o.flag_below:
            return "low-confidence"
        return None

    def upload_id(self, end_row: int) -> str:
        return hashlib.sha256(f"{self.source}\n{self.model}\n{end_row}".encode()).hexdigest()[:32]

    def body(self, rec: dict[str, Any], end_row: int, reason: str, rows: np.ndarray) -> dict[str, Any]:
        meta = {"source": self.source[:4000], "end_row": end_row, "window": rec["window"]}
        if rec.get("t") is not None:
            meta["t"] = rec["t"]
        msg = build_message(rows, self.sensors, self.frequency_hz, device_type="crisp-eml-run", metadata=meta)
        out: dict[str, Any] = {"upload_id": self.upload_id(end_row), "reason": reason, "model": self.model[:300],
                               "sample": msg}
        if "anomaly" in rec:
            out["anomaly_score"] = rec["anomaly"]
        else:
            scores = rec["classification"]
            top = max(scores, key=scores.__getitem__)
            out.update(predicted=top, confidence=min(1.0, max(0.0, scores[top])), scores=scores)
        return out

    def _upload(self, rec: dict[str, Any], end_row: int, reason: str, rows: np.ndarray) -> None:
        body = self.body(rec, end_row, reason, rows)
        if self._client is None:
            self._client = DeviceClient(self.options.server, self.options.device_key.strip(), retries=TRIES,
                                        backoff_s=BACKOFF_S)
        url = self._client.server_url
        try:
            item = self._client.upload_review(**body)
        except ServerUnavailableError:
            self.failed += 1
            return
        except PermissionDeniedError as exc:
            raise PermissionDeniedError(f"{url}: the device key was refused ({exc}); make one with "
                                        "'eml devices add NAME'") from exc
        except EmlError as exc:
            raise InputError(f"{url} refused the window: {exc.reason if isinstance(exc, InputError) else exc}",
                             field=getattr(exc, "field", None)) from exc
        self.uploaded += 1
        self.items.append(str(item["id"]))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def report(self) -> dict[str, Any]:
        return {"server": self.options.server, "flagged": self.flagged, "uploaded": self.uploaded,
                "failed": self.failed, "items": list(self.items)}


def axes_of(library: Any, n_axes: int, audio: bool) -> tuple[Sensor, ...]:
    """The library's input axes (names from its manifest's DSP spec), audio marked with units ``wav``."""
    from crisp_eml.runtime.glue import read_manifest

    spec = read_manifest(library).get("dsp") or {}
    names = [str(a) for a in (spec.get("input") or {}).get("axes") or []]
    if len(names) != n_axes:
        names = [f"axis{i}" for i in range(n_axes)]
    return tuple(Sensor(n, "wav" if audio else None) for n in names)


def make_uploader(loaded: Any, options: ReviewOptions, source: str) -> ReviewUploader:
    """The uploader for an ``eml run`` of ``loaded`` (a :class:`~crisp_eml.workspace.run_stream.LoadedModel`)
    over the input named ``source``; a library without a raw signal input (features, images) is refused."""
    shape = loaded.shape
    options.check(shape.is_classifier)
    if not shape.dsp_in_c or shape.frequency_hz <= 0 or shape.image != (0, 0, 0):
        raise InputError("uploading windows for review needs a library that takes a raw time series or audio "
                         "signal (this one takes features or images)", field="review_server")
    audio = shape.sensor == "microphone"
    return ReviewUploader(options, loaded.source, source, axes_of(loaded.library, shape.n_axes, audio),
                          shape.frequency_hz, shape.window_rows)

"""The device agent: serve a project's capture requests from a Linux device's sensors (``eml agent``).

It says hello with its sources' sensors, long-polls the server for capture requests, and records each one
from the requested sensor (the first by default): ``start`` with the axes and rate, live chunks about every
quarter of a second while exactly ``round(length_ms * frequency / 1000)`` rows are read, then ``complete``
with the sample as an Edge Impulse acquisition message, which the server stores through its ingestion
pipeline. A source that fails is reported with ``fail`` (the server shows the message) and the agent goes on
serving; a server that goes away is retried with back-off, then greeted again. The serial bridge
(``eml capture serial --server``) runs this same loop over a serial source.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from crisp_eml import __version__
from crisp_eml.capture.client import ClientStoppedError, DeviceClient, ServerUnavailableError, backoff
from crisp_eml.capture.sources.base import CHUNK_S, Source
from crisp_eml.core.errors import ConflictError, EmlError, InputError, NotFoundError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message, encode

DEVICE_TYPE = "crisp-eml-agent"
POLL_WAIT_S = 25.0
RECONNECT_MAX_S = 30.0

Event = Callable[[str, dict[str, Any]], None]


def _quiet(_kind: str, _data: dict[str, Any]) -> None:
    return None


class Agent:
    """Serves capture requests for ``sources`` through ``client`` until stopped (``stop()``, or ``once``)."""

    def __init__(self, client: DeviceClient, sources: Sequence[Source], *, info: dict[str, Any] | None = None,
                 on_event: Event | None = None, poll_wait_s: float = POLL_WAIT_S, chunk_s: float = CHUNK_S,
                 reconnect_max_s: float = RECONNECT_MAX_S, device_type: str = DEVICE_TYPE) -> None:
        if not sources:
            raise InputError("give at least one source (--source cmd:..., iio:..., alsa:...)", field="source")
        names = [s.name for s in sources]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(f"two sources are named {twice[0]!r}", field="source")
        self.client = client
        self.sources = list(sources)
        self.info = {"host": platform.node(), "agent": f"crisp-eml {__version__}", **(info or {})}
        self.on_event = on_event or _quiet
        self.poll_wait_s = poll_wait_s
        self.chunk_s = chunk_s
        self.reconnect_max_s = reconnect_max_s
        self.device_type = device_type
        self.device: dict[str, Any] = {}
        self.stop_event = client.stop

    def stop(self) -> None:
        self.stop_event.set()

    def probe(self) -> list[dict[str, Any]]:
        """Check every source (learning axes and rates); their sensor descriptions."""
        for source in self.sources:
            source.probe()
        return [s.sensor() for s in self.sources]

    # -- the loop ---------------------------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> dict[str, Any] | None:
        """Serve until stopped; with ``once``, return the first capture handled (done, failed or cancelled).

        A rejected key (401/403) or an unknown device (404) at hello ends the loop with that error."""
        attempt = 0
        greeted = False
        try:
            while not self.stop_event.is_set():
                try:
                    if not greeted:
                        self.device = self.client.hello([s.sensor() for s in self.sources], self.info)
                        greeted, attempt = True, 0
                        self.on_event("hello", {"device": self.device, "server": self.client.server_url})
                    captures = self.client.commands(self.poll_wait_s)
                except ServerUnavailableError as exc:
                    greeted = False
                    wait = backoff(attempt, cap=self.reconnect_max_s)
                    attempt += 1
                    self.on_event("disconnected", {"error": str(exc), "retry_in_s": wait})
                    if self.stop_event.wait(wait):
                        break
                    continue
                for capture in captures:
                    if self.stop_event.is_set():
                        break
                    result = self.record(capture)
                    if once:
                        return result
        except (ClientStoppedError, KeyboardInterrupt):
            pass
        self.on_event("stopped", {})
        return None

    # -- one capture ------------------------------------------------------------------------------------------
    def pick(self, sensor: str | None) -> Source:
        if not sensor:
            return self.sources[0]
        for source in self.sources:
            if source.name == sensor:
                return source
        raise NotFoundError(f"this device has no sensor named {sensor!r} (it has: "
                            f"{', '.join(s.name for s in self.sources)})")

    def record(self, capture: dict[str, Any]) -> dict[str, Any]:
        """Record one requested capture and send it; the capture as the server has it at the end."""
        cid = str(capture["id"])
        try:
            return self._record(cid, capture)
        except ConflictError as exc:  # cancelled meanwhile (or already ended): drop it
            self.on_event("capture-dropped", {"id": cid, "reason": str(exc)})
            return {**capture, "status": "cancelled", "error": str(exc)}
        except ServerUnavailableError:
            raise  # the server went away: the loop reconnects (the server fails the capture once stale)
        except KeyboardInterrupt:
            self._fail(cid, "the agent was stopped while recording")
            raise
        except EmlError as exc:
            return self._fail(cid, str(exc))
        except Exception as exc:  # a source broke in a way it did not foresee: still tell the server
            return self._fail(cid, f"{type(exc).__name__}: {exc}")

    def _record(self, cid: str, capture: dict[str, Any]) -> dict[str, Any]:
        source = self.pick(capture.get("sensor"))
        length_ms = float(capture["length_ms"])
        with source:
            frequency, axes = source.frequency_hz, list(source.axes)
            units = source.units()
            self.client.start(cid, axes, frequency)
            rows = source.rows_for(length_ms)
            self.on_event("capture-start", {"id": cid, "sensor": source.name, "label": capture.get("label"),
                                            "rows": rows, "frequency_hz": frequency, "axes": axes})
            parts: list[np.ndarray] = []
            for seq, chunk in enumerate(source.read(rows, self.chunk_s)):
                if self.stop_event.is_set():
                    raise KeyboardInterrupt
                self.client.chunk(cid, seq, chunk.tolist())
                parts.append(chunk)
        array = np.concatenate(parts, axis=0) if parts else np.zeros((0, len(axes)))
        if len(array) != rows:
            raise InputError(f"the source gave {len(array)} readings, {rows} were asked for", source=source.name)
        sensors = [Sensor(a, u) for a, u in zip(axes, units, strict=True)]
        message = build_message(array, sensors, frequency, device_type=self.device_type,
                                device_name=self.device.get("name"),
                                metadata={"capture_id": cid, "sensor": source.name})
        done = self.client.complete(cid, encode(message))
        self.on_event("capture-done", {"id": cid, "sample_id": done.get("sample_id"), "rows": rows})
        return done

    def _fail(self, cid: str, error: str) -> dict[str, Any]:
        self.on_event("capture-failed", {"id": cid, "error": error})
        try:
            return self.client.fail(cid, error)
        except EmlError as exc:
            return {"id": cid, "status": "failed", "error": error, "report_error": str(exc)}


__all__ = ["DEVICE_TYPE", "Agent"]

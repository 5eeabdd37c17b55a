"""What every capture source offers the agent: a sensor description and rows read in live chunks.

A source wraps one thing on a Linux device that produces readings (a command's output, an IIO accelerometer,
a microphone, a serial board). The agent only sees this small interface, so a capture is recorded the same
way whatever the hardware: open, learn the axes and the rate, read exactly the rows asked for in chunks of
about a quarter of a second (the live signal), close.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from crisp_eml.capture.lines import default_axes
from crisp_eml.core.errors import InputError

CHUNK_S = 0.25  # how often a source hands over what it read (the live plot's refresh)
KINDS = ("timeseries", "audio", "image")


@runtime_checkable
class Source(Protocol):
    """A device's sensor as the agent drives it (see :class:`BaseSource` for the shared parts)."""

    name: str

    def sensor(self) -> dict[str, Any]:
        """``{"name", "kind", "axes", "units", "frequency_hz"}`` as sent in the device's hello."""
        ...

    def probe(self) -> None:
        """Check the source works (and learn its axes and rate) before the agent serves; raises if not."""
        ...

    def open(self) -> None:
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> Source:
        ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        ...

    @property
    def axes(self) -> list[str]:
        ...

    @property
    def frequency_hz(self) -> float:
        ...

    def units(self) -> list[str]:
        """One unit per axis (``"N/A"`` when unknown)."""
        ...

    def rows_for(self, length_ms: float) -> int:
        """The rows a recording of ``length_ms`` holds at this source's rate."""
        ...

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        """Exactly ``rows`` readings, as float arrays of shape ``(n, len(axes))`` about every ``chunk_s``."""
        ...


class BaseSource:
    """Shared parts: context manager, per-capture row count and the sensor dict."""

    name: str = "source"
    kind: str = "timeseries"

    def sensor(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "axes": list(self.axes), "units": self.units(),
                "frequency_hz": self.known_frequency()}

    def units(self) -> list[str]:
        return ["N/A"] * len(self.axes)

    def known_frequency(self) -> float | None:
        """The rate when known without reading (given, or measured by an earlier probe)."""
        return self.frequency_hz

    def probe(self) -> None:
        with self:
            pass

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def axes(self) -> list[str]:
        raise NotImplementedError

    @property
    def frequency_hz(self) -> float:
        raise NotImplementedError

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def rows_for(self, length_ms: float) -> int:
        """The rows a recording of ``length_ms`` holds at this source's rate."""
        return max(1, round(length_ms * self.frequency_hz / 1000.0))

    def __enter__(self) -> BaseSource:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ReadingSource(BaseSource):
    """A source of text readings (a command's output, a serial board): its axes are named by the user or
    ``value1``... once the first reading tells how many there are, and its rate is given or measured on open."""

    def __init__(self, *, frequency_hz: float | None, axes: Sequence[str] | None) -> None:
        self._given_hz = frequency_hz
        self._measured_hz: float | None = None
        self._axes = list(axes) if axes else None
        self._width: int | None = len(self._axes) if self._axes else None

    def _where(self) -> str:
        """How errors name the source."""
        return self.name

    @property
    def axes(self) -> list[str]:
        if self._axes is not None:
            return list(self._axes)
        return default_axes(self._width or 0)

    def known_frequency(self) -> float | None:
        return self._given_hz or self._measured_hz

    @property
    def frequency_hz(self) -> float:
        hz = self.known_frequency()
        if hz is None:
            raise InputError(f"{self._where()}: the rate is not known yet (open the source first)", field="source")
        return hz


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """End a source's process (terminate, then kill after 3 s) and close its output."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def stack(rows: list[list[float]], width: int) -> np.ndarray:
    """Readings as a float array of shape ``(len(rows), width)`` (also when there are none)."""
    if not rows:
        return np.zeros((0, width), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)

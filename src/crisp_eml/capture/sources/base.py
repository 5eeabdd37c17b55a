"""What every capture source offers the agent: a sensor description and rows read in live chunks.

A source wraps one thing on a Linux device that produces readings (a command's output, an IIO accelerometer,
a microphone, a serial board). The agent only sees this small interface, so a capture is recorded the same
way whatever the hardware: open, learn the axes and the rate, read exactly the rows asked for in chunks of
about a quarter of a second (the live signal), close.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import numpy as np

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

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        """Exactly ``rows`` readings, as float arrays of shape ``(n, len(axes))`` about every ``chunk_s``."""
        ...


class BaseSource:
    """Shared parts: context manager, per-capture row count, ``chunks(duration_s)`` and the sensor dict."""

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

    def chunks(self, duration_s: float, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        """The readings of ``duration_s`` seconds, in chunks (the source must be open)."""
        return self.read(self.rows_for(duration_s * 1000.0), chunk_s)

    def __enter__(self) -> BaseSource:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def stack(rows: list[list[float]], width: int) -> np.ndarray:
    """Readings as a float array of shape ``(len(rows), width)`` (also when there are none)."""
    if not rows:
        return np.zeros((0, width), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)

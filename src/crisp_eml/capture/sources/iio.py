"""An accelerometer through the Linux Industrial I/O (IIO) sysfs interface, polled at a steady rate.

Linux exposes many boards' accelerometers (and those of phones, laptops, Raspberry Pi hats) as
``/sys/bus/iio/devices/iio:deviceN`` with one file per axis (``in_accel_x_raw``...) and a scale to m/s^2
(``in_accel_scale``, or one per axis). Reading the files at the capture's rate needs no driver-specific code
and no buffer set-up; it suits the 10-200 Hz rates of motion recordings. ``root`` is where device names are
looked up, so tests point it at a fake sysfs tree.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from crisp_eml.capture.sources.base import CHUNK_S, BaseSource, stack
from crisp_eml.core.errors import InputError

SYSFS_IIO = Path("/sys/bus/iio/devices")
DEFAULT_HZ = 100.0
AXES = ("x", "y", "z")
EI_AXES = {"x": "accX", "y": "accY", "z": "accZ"}  # Edge Impulse's names for accelerometer axes


class IioSource(BaseSource):
    """The accelerometer channels of one IIO device folder, as m/s^2."""

    kind = "timeseries"

    def __init__(self, device: str | Path, *, frequency_hz: float | None = None, root: str | Path = SYSFS_IIO,
                 name: str = "accelerometer") -> None:
        self.name = name
        self.folder = _resolve(Path(device), Path(root))
        self.channels = [a for a in AXES if (self.folder / f"in_accel_{a}_raw").is_file()]
        if not self.channels:
            raise InputError("no in_accel_x_raw/in_accel_y_raw/in_accel_z_raw file: not an IIO accelerometer",
                             source=str(self.folder), field="source")
        if frequency_hz is None:
            frequency_hz = self._device_rate()
        if not 0 < frequency_hz <= 10_000:
            raise InputError(f"absurd frequency {frequency_hz:g} Hz for a polled IIO device", field="source")
        self._hz = float(frequency_hz)
        self._scales = [self._number(f"in_accel_{a}_scale", "in_accel_scale", default=1.0) for a in self.channels]
        self._offsets = [self._number(f"in_accel_{a}_offset", "in_accel_offset", default=0.0)
                         for a in self.channels]

    @property
    def axes(self) -> list[str]:
        return [EI_AXES[a] for a in self.channels]

    def units(self) -> list[str]:
        return ["m/s2"] * len(self.channels)

    @property
    def frequency_hz(self) -> float:
        return self._hz

    def _device_rate(self) -> float:
        for fname in ("in_accel_sampling_frequency", "sampling_frequency"):
            path = self.folder / fname
            if path.is_file():
                return self._read_float(path)
        return DEFAULT_HZ

    def _number(self, *names: str, default: float) -> float:
        for fname in names:
            path = self.folder / fname
            if path.is_file():
                return self._read_float(path)
        return default

    def _read_float(self, path: Path) -> float:
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from exc
        try:
            return float(text.split()[0])
        except (ValueError, IndexError):
            raise InputError(f"not a number: {text[:40]!r}", source=str(path)) from None

    def reading(self) -> list[float]:
        """One reading now: (raw + offset) * scale for each axis."""
        return [(self._read_float(self.folder / f"in_accel_{a}_raw") + off) * scale
                for a, scale, off in zip(self.channels, self._scales, self._offsets, strict=True)]

    def open(self) -> None:
        self.reading()  # fails now, before the capture starts, if the device went away

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        period = 1.0 / self._hz
        start = time.monotonic()
        buf: list[list[float]] = []
        due = start + chunk_s
        for i in range(rows):
            wait = start + i * period - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            buf.append(self.reading())
            if time.monotonic() >= due:
                yield stack(buf, len(self.channels))
                buf, due = [], due + chunk_s
        if buf:
            yield stack(buf, len(self.channels))


def _resolve(device: Path, root: Path) -> Path:
    """A device folder given as a path, a folder name under ``root`` (``iio:device0``) or the device's
    ``name`` (``lis3dh``)."""
    if device.is_dir():
        return device
    candidate = root / device
    if not device.is_absolute() and candidate.is_dir():
        return candidate
    if root.is_dir() and len(device.parts) == 1:
        for folder in sorted(root.iterdir()):
            name_file = folder / "name"
            try:
                if name_file.is_file() and name_file.read_text().strip() == str(device):
                    return folder
            except OSError:
                continue
    raise InputError(f"no IIO device folder {str(device)!r} (looked in {root})", field="source")

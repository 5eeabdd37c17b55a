"""A microphone through ALSA's ``arecord``: 16-bit mono PCM read from its standard output.

``arecord`` (Debian package alsa-utils) is on nearly every Linux board with a sound card and handles the
device names (``default``, ``hw:1,0``, ``plughw:CARD=Device``) and the rate conversion, so no audio library is
needed. A capture runs ``arecord -q -t raw -f S16_LE -r RATE -c 1 -D DEVICE``, reads exactly the samples
asked for and stops it. The values are the signed 16-bit samples, with units "wav" (an audio sensor, as
Edge Impulse marks it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from typing import IO

import numpy as np

from crisp_eml.capture.sources.base import CHUNK_S, BaseSource, stop_process
from crisp_eml.core.errors import InputError, ToolMissingError

DEFAULT_HZ = 16000.0


class AlsaSource(BaseSource):
    """One ALSA capture device (``default``, ``hw:1,0``...) recorded mono at ``frequency_hz``."""

    kind = "audio"

    def __init__(self, device: str = "default", *, frequency_hz: float | None = None, name: str = "microphone",
                 arecord: str = "arecord") -> None:
        if not device or any(c.isspace() for c in device):
            raise InputError(f"bad ALSA device name {device!r}", field="source")
        hz = DEFAULT_HZ if frequency_hz is None else frequency_hz
        if hz != int(hz) or not 1000 <= hz <= 192_000:
            raise InputError(f"audio rate must be a whole number of Hz between 1000 and 192000, got {hz:g}",
                             field="source")
        self.device = device
        self.name = name
        self.arecord = arecord
        self._hz = float(hz)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def axes(self) -> list[str]:
        return ["audio"]

    def units(self) -> list[str]:
        return ["wav"]

    @property
    def frequency_hz(self) -> float:
        return self._hz

    def _where(self) -> str:
        return f"ALSA device {self.device!r}"

    def open(self) -> None:
        if self._proc is not None:
            return
        exe = shutil.which(self.arecord)
        if exe is None:
            raise ToolMissingError(f"{self.arecord!r} not found: install alsa-utils to record from {self._where()}")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        argv = [exe, "-q", "-t", "raw", "-f", "S16_LE", "-r", str(int(self._hz)), "-c", "1", "-D", self.device]
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
                                      bufsize=0)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        if self._proc is None:
            self.open()
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        per_chunk = max(1, round(self._hz * chunk_s))
        fd = proc.stdout.fileno()
        got = 0
        while got < rows:
            want = min(per_chunk, rows - got) * 2
            data = b""
            while len(data) < want:
                more = os.read(fd, want - len(data))
                if not more:
                    raise self._ended(got + len(data) // 2, rows)
                data += more
            samples = np.frombuffer(data[:want], dtype="<i2").astype(np.float64).reshape(-1, 1)
            got += len(samples)
            yield samples

    def _ended(self, done: int, wanted: int) -> InputError:
        code = self._proc.wait(timeout=3) if self._proc is not None else None
        err = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            err = self._stderr.read()[-600:].decode("utf-8", "replace").strip()
        last = err.splitlines()[-1] if err else "no message"
        return InputError(f"arecord stopped (exit code {code}) after {done} of {wanted} samples: {last}",
                          source=self._where())

"""A simulated development board on a pseudo-terminal, for testing serial capture without hardware.

:class:`FakeBoard` opens a pty pair: the test (or the CLI under test) opens the slave (``board.port``, a
``/dev/pts/N`` path pyserial reads like a USB CDC port) and a separate board process writes to the master,
following a script of steps:

- ``["wait_open"]``: wait until a reader opens the port (pyserial turns echo off on open), like a board that
  resets when the port opens (Arduino auto-reset);
- ``["bytes", "latin-1 text"]``: raw bytes (start-up garbage at a wrong baud rate, half lines);
- ``["line", "text"]``: a text line (a boot banner, a reset message);
- ``["readings", count, width]``: readings at the board's rate (``count`` -1: forever), noisy sine waves printed
  with 4 decimals, separated by ``sep``;
- ``["exit"]``: the board goes away (the master closes: the reader sees a disconnect).

Readings are paced on an absolute schedule (``start + i / hz``) so the long-run rate is exact even when the
process is briefly descheduled. Every line written is logged to ``board.log`` (``R <time> <line>`` for a
reading, ``L <time> <line>`` otherwise) so a test compares recorded samples with what the board printed.
Run as ``python fake_board.py FD LOG HZ SEP SCRIPT_JSON``.
"""

from __future__ import annotations

import json
import math
import os
import pty
import random
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


class FakeBoard:
    """A board process writing ``script`` to a pty at ``hz``; use as a context manager."""

    def __init__(self, tmp: Path, script: list[list[Any]], *, hz: float = 200.0, sep: str = ",") -> None:
        self.log = tmp / f"board-{time.monotonic_ns()}.log"
        self.hz = hz
        master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        attrs = termios.tcgetattr(self._slave)
        attrs[3] |= termios.ECHO  # echo on until a reader opens the port and turns it off (the board's cue)
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.port = os.ttyname(self._slave)
        self.proc = subprocess.Popen([sys.executable, str(HERE), str(master), str(self.log), str(hz), sep,
                                      json.dumps(script)], pass_fds=(master,))
        os.close(master)  # only the board holds the master: when it exits, the reader sees a disconnect

    def __enter__(self) -> FakeBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1

    def printed(self) -> list[tuple[str, float, str]]:
        """What the board wrote: (kind "R" reading or "L" other line, time, line)."""
        out = []
        for raw in self.log.read_text().splitlines():
            kind, t, line = raw.split(" ", 2)
            out.append((kind, float(t), line))
        return out

    def readings(self) -> list[list[float]]:
        return [[float(v) for v in line.replace("\t", ",").replace(" ", ",").split(",")]
                for kind, _, line in self.printed() if kind == "R"]


# -- the board process --------------------------------------------------------------------------------------
def _value(i: int, k: int, rng: random.Random) -> float:
    return round(1.5 * k + math.sin(2 * math.pi * i / 40 + k) + rng.gauss(0, 0.05), 4)


def _run(fd: int, log_path: str, hz: float, sep: str, script: list[list[Any]]) -> None:
    rng = random.Random(42)
    log = open(log_path, "w", buffering=1)  # noqa: SIM115 - open for the board's whole life
    index = 0  # readings printed, across steps

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    for step in script:
        op = step[0]
        if op == "wait_open":
            while termios.tcgetattr(fd)[3] & termios.ECHO:
                time.sleep(0.01)
            time.sleep(0.1)  # let the reader finish opening (pyserial flushes the input after configuring)
        elif op == "bytes":
            write(step[1].encode("latin-1"))
        elif op == "line":
            log.write(f"L {time.monotonic():.6f} {step[1]}\n")
            write(step[1].encode() + b"\r\n")
        elif op == "readings":
            count, width = int(step[1]), int(step[2])
            start = time.monotonic()
            n = 0
            while count < 0 or n < count:
                delay = start + n / hz - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                line = sep.join(f"{_value(index, k, rng):.4f}" for k in range(width))
                log.write(f"R {time.monotonic():.6f} {line}\n")
                write(line.encode() + b"\r\n")
                n += 1
                index += 1
        elif op == "exit":
            break
        else:
            raise SystemExit(f"unknown step {op!r}")
    log.close()
    os.close(fd)


if __name__ == "__main__":
    _run(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5]))

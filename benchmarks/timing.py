"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, so this directory is on
``sys.path``): the best of several wall-clock runs, which is what every ratio against an anchor is built from."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Smallest wall-clock time in seconds of ``repeat`` calls of ``fn`` (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)

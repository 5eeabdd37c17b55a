"""Checks that golden vectors exercise a model rather than pin it in a saturated corner.

A byte-exact comparison on inputs that drive every output to -128/127 and every row to the same class proves
little about the kernels' working range; the in-distribution golden tests assert this on their outputs.
"""

from __future__ import annotations

import numpy as np


def assert_exercised(out: np.ndarray, *, max_saturated: float, min_classes: int, min_distinct: float = 1.0) -> None:
    """Int8 outputs ``[rows, classes]`` are not stuck: at most ``max_saturated`` of the codes at -128/127, at
    least ``min_classes`` argmax classes, at least ``min_distinct`` of the rows distinct (1.0: no repeats; a
    confident classifier on many real windows repeats its one-hot rows, so it gets a fraction)."""
    saturated = float(np.isin(out, (-128, 127)).mean())
    assert saturated <= max_saturated, f"{saturated:.0%} of output codes at -128/127"
    classes = len(set(out.argmax(axis=1).tolist()))
    assert classes >= min_classes, f"only {classes} distinct argmax classes"
    distinct = len({bytes(r) for r in out})
    assert distinct >= min_distinct * len(out), f"only {distinct} distinct rows of {len(out)}"

"""The C twin of raw and flatten at Edge Impulse's version 1 gives Edge Impulse's features (golden vectors).

Each golden case's window goes through the generated C (gcc, warnings as errors) and is compared with the
features Edge Impulse's own block produced (``tests/data/ei_golden``), with the golden tolerance rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dsp_c_helpers import build, run, spec_of

from ei_golden import Case, assert_features_close, load_cases


def _cases() -> list[Case]:
    picked = []
    for block in ("raw", "flatten"):
        cases = [c for c in load_cases(block) if c.error is None and c.features is not None and c.features.size]
        # every constant-axis case (Edge Impulse's kurtosis -3) and every third other case: distinct geometries
        picked += [c for i, c in enumerate(cases) if "const" in c.id or i % 3 == 0]
    return picked


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.id)
def test_c_twin_gives_edge_impulse_features(case: Case, tmp_path: Path) -> None:
    n, length, n_axes = case.window.shape
    spec = spec_of({"window_size_ms": length / case.sampling_freq * 1000.0, "frequency_hz": case.sampling_freq,
                    "axes": [f"a{i}" for i in range(n_axes)]},
                   [{"type": case.block, "params": case.params, "implementation_version": case.version}])
    exe = build(spec, tmp_path, sanitize="const" in case.id and case.block == "flatten")
    assert case.features is not None
    assert_features_close(run(exe, case.window, case.features.size)[0], case.features, case.id)

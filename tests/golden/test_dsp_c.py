"""The float32 C twin of raw / flatten / spectral-analysis matches the Python blocks within 1e-4 relative.

Each case renders C with ``crisp_eml.compiler.dsp_c``, compiles it with gcc (``-std=c99 -Wall -Wextra
-Werror -pedantic``) together with a tiny file-in/file-out harness, runs it on random windows and compares
with ``apply_impulse``. A missing gcc fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.dsp.pipeline import apply_impulse

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "twin_dsp.h"
int main(int argc, char **argv)
{
    static float raw[TWIN_DSP_INPUT_LEN], feat[TWIN_DSP_N_FEATURES];
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    int rc = 0;
    (void)argc;
    if (!in || !out) { return 10; }
    while (fread(raw, sizeof(float), TWIN_DSP_INPUT_LEN, in) == TWIN_DSP_INPUT_LEN) {
        rc |= twin_dsp(raw, TWIN_DSP_INPUT_LEN, feat);
        fwrite(feat, sizeof(float), TWIN_DSP_N_FEATURES, out);
    }
    rc |= (twin_dsp(raw, 3, feat) == TWIN_DSP_ERR_LENGTH) ? 0 : 64;
    fclose(in); fclose(out);
    return rc;
}
"""

CASES = {
    "basic-motions-like": ({"window_size_ms": 2000, "frequency_hz": 10, "axes": ["ax", "ay", "az"]},
                           [{"type": "spectral-analysis", "params": {"filter-type": "low", "filter-cutoff": 3.0,
                                                                     "filter-order": 6, "fft-length": 16}},
                            {"type": "flatten"}, {"type": "raw", "axes": ["ay"], "params": {"scale-axes": 0.5}}]),
    "highpass-peaks-edges": ({"window_size_ms": 1000, "frequency_hz": 100, "axes": ["x", "y"]},
                             [{"type": "spectral-analysis", "axes": ["y"],
                               "params": {"filter-type": "high", "filter-cutoff": 5.0, "filter-order": 4,
                                          "fft-length": 64, "do-fft-overlap": False, "spectral-peaks-count": 3,
                                          "spectral-peaks-threshold": 0.0,
                                          "spectral-power-edges": [0, 5, 20, 50]}}]),
    "no-log-zero-padded": ({"window_size_ms": 500, "frequency_hz": 40, "axes": ["x"]},
                           [{"type": "spectral-analysis", "params": {"fft-length": 32, "do-log": False,
                                                                     "scale-axes": 3.0}},
                            {"type": "flatten", "params": {"kurtosis": False, "minimum": False}}]),
}


def _spec(inp: dict[str, object], blocks: list[dict[str, object]]) -> ImpulseSpec:
    return ImpulseSpec.from_dict({"input": {"type": "time-series", **inp}, "blocks": blocks})


def _gcc() -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is required for the C twin tests")
    return gcc


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_twin_matches_python(case: str, tmp_path: Path) -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    spec = _spec(*CASES[case])
    files = render_dsp_c(spec, prefix="twin")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "twin"
    subprocess.run([_gcc(), "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-o", str(exe),
                    str(tmp_path / "main.c"), str(tmp_path / "twin_dsp.c"), "-lm"], check=True, capture_output=True)
    inp = spec.input
    rng = np.random.default_rng(sorted(CASES).index(case))
    t = np.arange(inp.window_len) / inp.frequency_hz  # type: ignore[union-attr]
    n_axes = len(inp.axes)
    windows = (np.sin(2 * np.pi * rng.uniform(0.5, 15, (6, 1, n_axes)) * t[None, :, None])
               + 0.3 * rng.standard_normal((6, len(t), n_axes)) + rng.uniform(-2, 2, (6, 1, n_axes)))
    windows = windows.astype(np.float32)
    windows.tofile(tmp_path / "in.bin")
    run = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True)
    assert run.returncode == 0, run.stderr
    c_out = np.fromfile(tmp_path / "out.bin", dtype=np.float32).reshape(6, -1)
    py = apply_impulse(spec, windows)
    assert c_out.shape == py.shape
    np.testing.assert_allclose(c_out, py, rtol=1e-4, atol=1e-4 * float(np.abs(py).max()))


def test_c_twin_rejects_unsupported_blocks() -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    spec = _spec({"window_size_ms": 1000, "frequency_hz": 100, "axes": ["x"]},
                 [{"type": "spectral-analysis", "params": {"analysis-type": "wavelet"}}])
    with pytest.raises(InputError) as exc:
        render_dsp_c(spec)
    assert exc.value.field == "blocks.0.params.analysis-type"

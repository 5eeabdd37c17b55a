"""The DSP twin compiles warning-free for a Cortex-M4F (compile only; QEMU runs belong to the library tests).

Every block family in one impulse, ``arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard
-mfpu=fpv4-sp-d16 -std=c99 -Wall -Wextra -Werror -pedantic -c``; also checks the object calls nothing outside
libm (no malloc, no stdio; gcc may emit memset/memcpy itself). A missing cross compiler fails the test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dsp_c_helpers import WARN, spec_of, tool

M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# libm, plus memset/memcpy that gcc itself may emit for loops (required even when freestanding)
ALLOWED = {"sqrtf", "log10f", "logf", "memset", "memcpy"}


@pytest.mark.cross
def test_twin_cross_compiles_for_cortex_m4(tmp_path: Path) -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    spec = spec_of({"window_size_ms": 1000, "frequency_hz": 16000, "axes": ["a", "b"]},
                   [{"type": "mfcc", "axes": ["a"]}, {"type": "mfe", "axes": ["b"]},
                    {"type": "spectrogram", "axes": ["a"], "params": {"fft_length": 512, "frame_length": 0.032}},
                    {"type": "spectral-analysis", "params": {"filter-type": "low", "filter-cutoff": 3000,
                                                             "fft-length": 64, "spectral-peaks-count": 2}},
                    {"type": "spectral-analysis", "name": "wavelets", "axes": ["b"],
                     "params": {"analysis-type": "wavelet", "wavelet-level": 3}},
                    {"type": "flatten"}, {"type": "raw", "axes": ["b"]}])
    for name, text in render_dsp_c(spec, prefix="m4").items():
        (tmp_path / name).write_text(text)
    obj = tmp_path / "m4_dsp.o"
    r = subprocess.run([tool("arm-none-eabi-gcc"), *M4, *WARN, "-O2", "-c", "-o", str(obj),
                        str(tmp_path / "m4_dsp.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    nm = subprocess.run([tool("arm-none-eabi-nm"), "-u", str(obj)], capture_output=True, text=True, check=True)
    undefined = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    assert undefined <= ALLOWED, undefined
    assert {"sqrtf", "log10f", "logf"} <= undefined  # the audio and wavelet tails really are in the object

"""Build and run the DSP C twin in tests: a file-in/file-out harness, gcc flags, the tolerance rule.

Tolerance rule for every twin test: ``|c - py| <= 1e-4 * |py| + 1e-4 * max|py|`` elementwise
(``numpy.testing.assert_allclose(c, py, rtol=1e-4, atol=1e-4 * max|py|)``), max over the whole feature vector.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.core.impulse import ImpulseSpec

WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]

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
    rc |= (twin_dsp(NULL, TWIN_DSP_INPUT_LEN, feat) == TWIN_DSP_ERR_NULL) ? 0 : 128;
    fclose(in); fclose(out);
    return rc;
}
"""


def spec_of(inp: dict[str, object], blocks: list[dict[str, object]]) -> ImpulseSpec:
    return ImpulseSpec.from_dict({"input": {"type": "time-series", **inp}, "blocks": blocks})


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for the C twin tests")
    return path


def build(spec: ImpulseSpec, tmp_path: Path, *, sanitize: bool = False) -> Path:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    for name, text in render_dsp_c(spec, prefix="twin").items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "twin"
    cmd = [tool("gcc"), *WARN, "-O1" if sanitize else "-O2", *(SANITIZE if sanitize else []), "-o", str(exe),
           str(tmp_path / "main.c"), str(tmp_path / "twin_dsp.c"), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def run(exe: Path, windows: np.ndarray, n_features: int) -> np.ndarray:
    d = exe.parent
    np.ascontiguousarray(windows, dtype=np.float32).tofile(d / "in.bin")
    r = subprocess.run([str(exe), str(d / "in.bin"), str(d / "out.bin")], capture_output=True, text=True)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return np.fromfile(d / "out.bin", dtype=np.float32).reshape(len(windows), n_features)


def assert_twin_close(c_out: np.ndarray, py: np.ndarray) -> None:
    assert c_out.shape == py.shape
    np.testing.assert_allclose(c_out, py, rtol=1e-4, atol=1e-4 * float(np.abs(py).max()))

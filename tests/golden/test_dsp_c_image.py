"""The ``image`` block's C twin matches the Python block within 1e-4 (gcc, ASan/UBSan) and cross-compiles.

The device side gets frames already at the impulse's size (resizing stays on the host), so the Python
windows are produced by :func:`crisp_eml.core.impulse.windows_for` from larger/odd-sized pictures and
the same float pixels are fed to the C function.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from dsp_c_helpers import WARN, assert_twin_close, build, run, tool

from crisp_eml.core.impulse import ImpulseSpec, windows_for
from crisp_eml.dsp.pipeline import apply_impulse, n_features

CASES: dict[str, tuple[dict[str, object], list[dict[str, object]]]] = {
    "rgb-same": ({"width": 12, "height": 8, "channels": "RGB"}, [{"type": "image"}]),
    "rgb-to-gray": ({"width": 10, "height": 10, "channels": "RGB"},
                    [{"type": "image", "params": {"channels": "Grayscale"}}]),
    "gray-input": ({"width": 9, "height": 7, "channels": "Grayscale"}, [{"type": "image"}]),
    "two-blocks": ({"width": 6, "height": 5, "channels": "RGB", "resize_mode": "fit-short"},
                   [{"type": "image", "name": "gray", "params": {"channels": "Grayscale"}},
                    {"type": "image", "name": "rgb", "params": {"channels": "RGB"}}]),
}


def _spec(case: str) -> ImpulseSpec:
    inp, blocks = CASES[case]
    return ImpulseSpec.from_dict({"input": {"type": "image", **inp}, "blocks": blocks})


def _frames(spec: ImpulseSpec, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(7)
    pics = [rng.integers(0, 256, (int(rng.integers(4, 40)), int(rng.integers(4, 40)), 3), dtype=np.uint8)
            for _ in range(n)]
    pics.append(np.full((3, 3, 3), 255, dtype=np.uint8))  # the extremes
    pics.append(np.zeros((20, 20, 3), dtype=np.uint8))
    return np.concatenate([windows_for(spec, p) for p in pics])


@pytest.mark.parametrize("case", sorted(CASES))
def test_image_twin_matches_python(case: str, tmp_path: Path) -> None:
    spec = _spec(case)
    frames = _frames(spec)
    py = apply_impulse(spec, frames)
    assert py.shape[1] == n_features(spec) and py.max() > 0.9  # real pictures, not all zeros
    exe = build(spec, tmp_path, sanitize=case == "two-blocks")
    c_out = run(exe, frames.reshape(len(frames), -1), n_features(spec))
    assert_twin_close(c_out, py)


def test_image_twin_header_states_the_frame_layout() -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    header = render_dsp_c(_spec("rgb-same"), prefix="cam")["cam_dsp.h"]
    for line in ("#define CAM_DSP_IMAGE_WIDTH 12", "#define CAM_DSP_IMAGE_HEIGHT 8", "#define CAM_DSP_IMAGE_CHANNELS 3",
                 "#define CAM_DSP_N_FEATURES 288", "#define CAM_DSP_INPUT_LEN (8 * 36)"):
        assert line in header, line


@pytest.mark.cross
def test_image_twin_cross_compiles_for_cortex_m4(tmp_path: Path) -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    for name, text in render_dsp_c(_spec("two-blocks"), prefix="m4").items():
        (tmp_path / name).write_text(text)
    obj = tmp_path / "m4_dsp.o"
    r = subprocess.run([tool("arm-none-eabi-gcc"), "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                        "-mfpu=fpv4-sp-d16", *WARN, "-O2", "-c", "-o", str(obj), str(tmp_path / "m4_dsp.c")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    nm = subprocess.run([tool("arm-none-eabi-nm"), "-u", str(obj)], capture_output=True, text=True, check=True)
    undefined = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    assert undefined <= {"memset", "memcpy"}, undefined

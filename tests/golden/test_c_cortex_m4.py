"""Generated C on a Cortex-M4 (QEMU mps2-an386, arm-none-eabi-gcc): byte-identical to TFLite Micro."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from c_helpers import compile_to, io_sizes, tiny_c_models  # noqa: F401 (fixture)

from conftest import MLPERF_TINY
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4, tflm_outputs


@pytest.mark.cross
@pytest.mark.parametrize("model", ["kws_ref_model", "ad01_int8"])
def test_mlperf_on_cortex_m4_qemu(model: str, tmp_path: Path) -> None:
    data = (MLPERF_TINY / f"{model}.tflite").read_bytes()
    g, _ = compile_to(data, tmp_path / "lib", model)
    n_in, _ = io_sizes(g)
    vec = random_vectors(n_in, 2, seed=5)
    res = run_cortex_m4(tmp_path / "lib", vec, tmp_path / "m4")
    want = tflm_outputs(data, vec)
    assert res["outputs"].shape == want.shape
    assert np.array_equal(res["outputs"], want)
    # SysTick calibration: 25 MHz SysTick, 1 instruction per ns under -icount shift=0
    assert res["ticks_per_instruction"] == pytest.approx(0.025, rel=0.01)
    assert res["instructions_per_inference"] > 100_000
    assert res["sizes"]["rodata"] > 10_000  # the weights are const, in flash


@pytest.mark.cross
def test_tiny_models_on_cortex_m4(tiny_c_models: dict[str, bytes], tmp_path: Path) -> None:  # noqa: F811
    """The Arm DSP (SMLAD) paths and every other kernel, on the emulated M4."""
    for name, data in tiny_c_models.items():
        g, _ = compile_to(data, tmp_path / name, name)
        n_in, _ = io_sizes(g)
        vec = random_vectors(n_in, 6, seed=11)
        res = run_cortex_m4(tmp_path / name, vec, tmp_path / f"{name}-m4")
        assert np.array_equal(res["outputs"], tflm_outputs(data, vec)), name


@pytest.mark.cross
@pytest.mark.parametrize("flags", ["-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft",
                                   "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16",
                                   "-mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16"])
def test_library_compiles_warning_free_for_other_cores(flags: str, tiny_c_models: dict[str, bytes],  # noqa: F811
                                                      tmp_path: Path) -> None:
    import subprocess

    from crisp_eml.compiler.build import WARNINGS, tool

    cc = tool("arm-none-eabi-gcc")
    for name, data in {"kws": (MLPERF_TINY / "kws_ref_model.tflite").read_bytes(), **tiny_c_models}.items():
        compile_to(data, tmp_path / name, name)
        for src in sorted((tmp_path / name / "src").glob("*.c")):
            r = subprocess.run([cc, *flags.split(), *WARNINGS, "-O2", f"-I{src.parent}", "-c", str(src), "-o",
                                str(tmp_path / "x.o")], capture_output=True, text=True)
            assert r.returncode == 0, f"{name}/{src.name} ({flags}):\n{r.stderr}"

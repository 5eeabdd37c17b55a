"""Generated C on every core QEMU emulates here (``compiler/c/boards.py``): byte-identical to TFLite Micro, and
instruction counts measured per core (exact QEMU plugin window, cross-checked against SysTick).

Cortex-M0 (micro:bit), M3 (AN385), M4 (AN386), M7 (AN500), M33 (AN505, secure), M55 with Helium (AN547) and
RISC-V rv32imac (``virt``, picolibc). The DSP kernels run on M4/M7/M33/M55; M0/M3/RISC-V take the portable C.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from c_helpers import compile_to, io_sizes, tiny_c_models  # noqa: F401 (fixture)

from conftest import MLPERF_TINY
from crisp_eml.compiler import build
from crisp_eml.compiler.c.boards import BOARDS
from crisp_eml.compiler.verify import random_vectors, tflm_outputs, verify_library
from crisp_eml.targets.catalog import TARGETS

CORES = list(BOARDS)


@pytest.mark.cross
@pytest.mark.parametrize("core", CORES)
def test_stored_expectations_on_every_core(core: str, tiny_c_models: dict[str, bytes],  # noqa: F811
                                           tmp_path: Path) -> None:
    """``eml verify --target <core>``'s path: the library's tests/vectors.bin through the core's build equals
    tests/expected.bin (stored TFLite Micro outputs) and TFLite Micro now."""
    from crisp_eml.workspace.compile import compile_model

    for name in ("tiny_conv", "dw_variants", "dense_mix"):
        model = tmp_path / f"{name}.tflite"
        model.write_bytes(tiny_c_models[name])
        compile_model(str(model), tmp_path / name, vectors=4, use_project=False)
        rep = verify_library(tmp_path / name, host=False, target=core, work=tmp_path / f"{name}-work")
        assert [c.name for c in rep.checks][-1] == f"{core}-qemu-vs-tflm"
        assert rep.ok, (name, rep.to_dict())
        assert rep.checks[-1].detail["instructions_per_inference"] > 0


@pytest.fixture(scope="module")
def kws_counts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    tmp = tmp_path_factory.mktemp("kws-cores")
    data = (MLPERF_TINY / "kws_ref_model.tflite").read_bytes()
    g, _ = compile_to(data, tmp / "lib", "kws")
    n_in, _ = io_sizes(g)
    vec = random_vectors(n_in, 2, seed=5)
    want = tflm_outputs(data, vec)
    out = {}
    for core in CORES:
        res = build.run_board(tmp / "lib", vec, tmp / core, board=core, iterations=2)
        assert np.array_equal(res["outputs"], want), core
        out[core] = res
    return out


@pytest.mark.cross
def test_kws_fits_and_is_exact_on_every_core(kws_counts: dict[str, dict[str, object]]) -> None:
    """KWS runs byte-exact on every core, the Cortex-M0 included (nRF51: 256 KB flash, 16 KB RAM)."""
    assert set(kws_counts) == set(CORES)


@pytest.mark.cross
def test_counts_are_exact_and_per_core(kws_counts: dict[str, dict[str, object]]) -> None:
    """The plugin window's count agrees with SysTick on every M-profile core (within SysTick's resolution:
    40 instructions a tick on the 25 MHz MPS2 boards); and the counts are the cores' own:
    without the DSP extension (M3) KWS needs far more instructions than on the M4, Thumb-1 (M0) more again."""
    counts = {}
    for core, res in kws_counts.items():
        assert res["count_method"] == "plugin", core
        n = int(res["instructions_per_inference"])  # type: ignore[call-overload]
        counts[core] = n
        if BOARDS[core].systick:
            ticks = [int(t) for t in res["systick_instructions"]]  # type: ignore[attr-defined]
            tpi = float(res["ticks_per_instruction"])  # type: ignore[arg-type]
            # SysTick's error: +-1 tick at each end (1/tpi instructions) and +-1 tick of the 200,003-instruction
            # calibration, scaled to the count; plus the timing call's own instructions
            bound = 100 + 2 / tpi + n / (200_003 * tpi)
            assert all(abs(t - n) <= bound for t in ticks), (core, n, ticks, bound)
    assert counts["cortex-m0"] > 1.5 * counts["cortex-m3"] > 1.5 * 1.5 * counts["cortex-m4"], counts
    for dsp in ("cortex-m7", "cortex-m33", "cortex-m55"):
        assert counts[dsp] < 0.7 * counts["cortex-m3"], counts
    assert counts["riscv32"] > counts["cortex-m4"], counts


@pytest.mark.cross
def test_profile_says_measured_or_estimated(tiny_c_models: dict[str, bytes], tmp_path: Path) -> None:  # noqa: F811
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.profile import profile

    model = tmp_path / "m.tflite"
    model.write_bytes(tiny_c_models["tiny_conv"])
    compile_model(str(model), tmp_path / "lib", vectors=2, use_project=False)
    m0 = profile(str(tmp_path / "lib"), "rp2040", use_project=False)
    assert m0["instruction_count"] == "measured" and m0["measured_on"] == "microbit"
    assert m0["latency_method"].startswith("measured on QEMU microbit (Cortex-M0)")
    m4 = profile(str(tmp_path / "lib"), "cortex-m4", use_project=False)
    assert m4["instructions_per_inference"] < m0["instructions_per_inference"]
    s3 = profile(str(tmp_path / "lib"), "esp32-s3", use_project=False)
    assert s3["instruction_count"] == "estimated" and s3["latency_method"].startswith("estimated (CPI x count)")
    assert s3["instructions_per_inference"] == m4["instructions_per_inference"]


def test_catalog_names_a_board_for_every_mcu_target() -> None:
    for t in TARGETS.values():
        if t.kind == "mcu":
            assert t.board in BOARDS, t.id
            assert t.count in ("measured", "estimated"), t.id
            assert t.to_dict()["instruction_count"].startswith("measured on QEMU " if t.count == "measured"
                                                                else "estimated"), t.id
        else:
            assert t.count == "host" and t.board is None
    assert TARGETS["cortex-m0plus-48mhz"].board == "cortex-m0"  # not the Cortex-M4 count x CPI any more

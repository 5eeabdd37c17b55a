"""The small-K convolution kernel (``eml_conv2d_tk*_s8``, K = k_h * k_w * in_c <= 12) and the small-depth
fully-connected kernel (``eml_fc_small_s8``, depth <= 12) on the geometries their paths split on: kinds 0 and 1
(K <= 4: doubled int16 weight pairs, the assembly pixel loops on Cortex-M4; 3x1 / 4x1 one-channel windows filled
from the rows) and 2, 3 (byte weights), flat 1x1 inputs read in place and gathered windows (padded, strided,
dilated; tap runs along long rows, pixel by pixel on short ones; chunks of the stack col and rows split across
them), odd channel and pixel counts, clamped activations.
C byte-identical to the numpy reference (itself byte-exact with TFLite Micro) on QEMU Cortex-M4 and on the host
(SSE2 / NEON build, portable EML_NO_SIMD, ASan/UBSan)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conv_golden import cases_of, check_cortex_m4, check_host, check_sanitized, reference, vectors

from crisp_eml.compiler import build
from crisp_eml.compiler.build import M4_FLAGS, WARNINGS
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph

C, F = "CONV_2D", "FULLY_CONNECTED"
SPECS = [
    ConvSpec(C, 12, 10, 2, 16),                                     # kind 0 flat, in_c 2, even channels
    ConvSpec(C, 7, 5, 2, 9),                                        # kind 0: odd out_c, odd pixel count
    ConvSpec(C, 9, 7, 1, 6),                                        # kind 0, K = 1: flat tail through the gather
    ConvSpec(C, 6, 7, 2, 5, activation="RELU6"),                    # kind 0 clamped (the C channel loop)
    ConvSpec(C, 17, 15, 2, 3),                                      # kind 0, 255 pixels: two gather chunks
    ConvSpec(C, 12, 10, 1, 8, 3, 1),                                # kind 1, 3x1 SAME: padded rows
    ConvSpec(C, 8, 6, 1, 7, 3, 1, stride=2),                        # kind 1, 3x1 strided, odd out_c
    ConvSpec(C, 5, 5, 3, 6, activation="RELU"),                     # kind 1 flat K = 3, clamped
    ConvSpec(C, 9, 9, 4, 11),                                       # kind 1 flat K = 4, odd out_c, odd pixels
    ConvSpec(C, 9, 7, 3, 5, stride=2),                              # kind 1, 1x1 strided: gathered
    ConvSpec(C, 10, 9, 1, 4, 1, 3, dilation=2),                     # kind 1, 1x3 dilated: column borders
    ConvSpec(C, 11, 13, 1, 3, 2, 2, stride=2, padding="VALID"),     # kind 1, 2x2 valid strided
    ConvSpec(C, 22, 24, 6, 20),                                     # kind 2 flat (K = 6)
    ConvSpec(C, 6, 5, 7, 7),                                        # kind 2, K = 7
    ConvSpec(C, 7, 6, 2, 5, 2, 2, dilation=2, activation="RELU6"),  # kind 2, dilated, clamped
    ConvSpec(C, 6, 5, 9, 7),                                        # kind 3 flat, odd out_c
    ConvSpec(C, 8, 7, 1, 6, 3, 3, stride=2, activation="RELU6"),    # kind 3, 3x3 in_c 1 strided, clamped
    ConvSpec(C, 12, 10, 1, 16, 3, 3),                               # kind 3, 3x3 in_c 1 SAME
    ConvSpec(C, 13, 11, 1, 5, 3, 3, stride=3, padding="VALID"),     # kind 3, stride 3, window past no border
    ConvSpec(C, 9, 5, 1, 6, 4, 1, padding="VALID"),                 # kind 1, 4x1 (the fourth row read)
    ConvSpec(C, 10, 7, 1, 9, 4, 1, dilation=2),                     # kind 1, 4x1 dilated SAME, odd out_w
    ConvSpec(C, 9, 20, 1, 6, 1, 3, stride=2),                       # row-run gather: strided, right border
    ConvSpec(C, 8, 14, 2, 5, stride=2, activation="RELU"),          # row-run gather: kind 0, in_c 2, strided
    ConvSpec(F, 1, 1, 10, 8),                                       # small FC: classifier head, K % 4 == 2
    ConvSpec(F, 1, 1, 1, 7),                                        # small FC depth 1
    ConvSpec(F, 1, 1, 4, 5, activation="RELU"),                     # small FC one whole word, clamped
    ConvSpec(F, 1, 1, 7, 9, activation="RELU"),                     # small FC, 2 groups, clamped
    ConvSpec(F, 1, 1, 12, 13),                                      # small FC 3 whole words
    ConvSpec(F, 1, 1, 9, 2),                                        # small FC 3 groups, K % 4 == 1
    # clamped variants (tk0c / tk1c: the Cortex-M4 assembly with the USAT / UQADD8 / UXTAB16 clamp)
    ConvSpec(C, 12, 10, 2, 16, activation="RELU6"),                 # kind 0 flat, even channels
    ConvSpec(C, 7, 5, 2, 9, activation="RELU"),                     # kind 0 flat, odd out_c, odd pixel count
    ConvSpec(C, 9, 7, 1, 6, activation="RELU6"),                    # kind 0, K = 1 gathered
    ConvSpec(C, 9, 7, 2, 7, activation="RELU_N1_TO_1"),             # kind 0, act_min below the zero point
    ConvSpec(C, 12, 10, 1, 8, 3, 1, activation="RELU6"),            # kind 1, 3x1 columns
    ConvSpec(C, 9, 5, 1, 7, 4, 1, padding="VALID", activation="RELU"),  # kind 1, 4x1 columns, odd out_c
    ConvSpec(C, 9, 9, 4, 11, activation="RELU6"),                   # kind 1 flat K = 4, odd out_c, odd pixels
    ConvSpec(C, 9, 7, 3, 5, stride=2, activation="RELU6"),          # kind 1 K = 3 gathered, odd out_c
    ConvSpec(C, 11, 13, 1, 3, 2, 2, stride=2, padding="VALID", activation="RELU_N1_TO_1"),  # kind 1 K = 4, 2x2
    ConvSpec(C, 8, 14, 1, 5, 1, 3, activation="RELU"),              # kind 1, 1x3 tap runs
    ConvSpec(C, 12, 10, 3, 16, activation="RELU"),                  # kind 1 flat K = 3, even channels
]


def test_specs_take_the_tiny_kernel() -> None:
    """Each spec compiles to eml_fc_small_s8 or the eml_conv2d_tk*_s8 of its kind (else it would test another
    kernel) and its outputs spread over many int8 values (a saturated output would hide bugs)."""
    for i, spec in enumerate(SPECS):
        g = conv_graph(spec, seed=i)
        k = spec.k_h * spec.k_w * spec.in_c
        files = render_library(g, plan_memory(g), RenderOptions(name="k"))
        fn = "eml_fc_small_s8" if spec.kind == F else f"eml_conv2d_tk{0 if k <= 2 else -(-k // 4)}"
        assert fn in files["src/k.c"], spec.label()
        out = reference(g, vectors(g, 8, seed=i))  # 8 vectors: a small FC has few outputs a vector
        assert np.unique(out).size > min(20, out.size // 4), spec.label()


@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_conv_tiny_on_host(defines: tuple[str, ...], tmp_path: Path) -> None:
    check_host(cases_of(SPECS), tmp_path, defines=defines)


def test_conv_tiny_under_sanitizers(tmp_path: Path) -> None:
    check_sanitized(cases_of(SPECS), tmp_path)


@pytest.mark.cross
def test_conv_tiny_on_cortex_m4(tmp_path: Path) -> None:
    check_cortex_m4(cases_of(SPECS), tmp_path)


@pytest.mark.cross
def test_assembly_fits_with_the_frame_pointer(tmp_path: Path) -> None:
    """The Cortex-M4 assembly loops leave the frame pointer (r7) alone: a build keeping it (-fno-omit-frame-pointer,
    as profilers and unwinders want) still has registers for every operand. Every kernel of the runtime (the
    package's whole C sources, all sections) builds at every optimization level a firmware project may use,
    -O0 debug builds included (they take the portable loops)."""
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    src = Path(build.__file__).parent / "c"
    c_files = sorted(src.glob("*.c"))
    with_asm = [f for f in c_files if "__asm__" in f.read_text()]
    assert with_asm, "no runtime file holds inline assembly: the test checks nothing"
    for c_file in c_files:
        # register allocation only binds the files with inline assembly; the others at -O0 (no DSP paths)
        opts = ("-O0", "-Og", "-O1", "-O2", "-Os", "-O3") if c_file in with_asm else ("-O0",)
        for opt in opts:
            for fp in ([], ["-fno-omit-frame-pointer"]) if c_file in with_asm else ([],):
                cmd = [cc, *M4_FLAGS, *WARNINGS, opt, *fp, f"-I{src}", "-c", str(c_file), "-o", str(tmp_path / "k.o")]
                r = subprocess.run(cmd, capture_output=True, text=True)
                assert r.returncode == 0, (c_file.name, opt, fp, r.stderr[:2000])

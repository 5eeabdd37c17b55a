"""Convolution / depthwise / FC kernels on many geometries: C byte-identical to the numpy reference on QEMU
Cortex-M4 (the DSP paths: SMLAD/SXTB16, the channel-planar depthwise 3x3 ring) and on the host (SSE2 or NEON
build, the portable EML_NO_SIMD build, ASan/UBSan).

The graphs are single ops built by ``compiler.synth_graphs`` (seeded random weights and quantization, no
TensorFlow); the reference interpreter they are checked against is itself byte-exact with TFLite Micro
(tests/golden/test_reference_tflm.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conv_golden import cases_of, check_cortex_m4, check_host, check_sanitized, reference, render_spec, vectors

from crisp_eml.compiler.layer_profile import instrument, profile_m4
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph, macs

C, D, F = "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"
SPECS = [
    ConvSpec(C, 7, 5, 15, 17),                                      # 1x1, odd channels
    ConvSpec(C, 9, 7, 8, 6, 3, 3, stride=2, activation="RELU"),     # strided, padded
    ConvSpec(C, 9, 8, 5, 4, 3, 3, dilation=2, padding="VALID"),     # dilated, K % 4 != 0
    ConvSpec(C, 11, 6, 1, 20, 4, 4, stride=2),                      # in_c 1 (byte stage), 2 blocks of channels
    ConvSpec(C, 7, 7, 3, 5, 3, 3, stride=2, activation="RELU6"),    # 3-channel stem, K = 27, odd out_c
    ConvSpec(C, 6, 5, 12, 34, 3, 3, padding="VALID"),               # direct runs, 3 blocks, K % 8 == 4
    ConvSpec(D, 7, 5, 12, 12, 3, 3),                                # ring path: odd width, pad 1
    ConvSpec(D, 6, 6, 8, 8, 3, 3, padding="VALID", activation="RELU6"),  # ring path: pad 0
    ConvSpec(D, 5, 1, 4, 4, 3, 3),                                  # ring path: width 1
    ConvSpec(D, 8, 7, 6, 12, 3, 3),                                 # multiplier 2
    ConvSpec(D, 8, 7, 5, 5, 3, 3, stride=2),                        # direct strided: odd channels
    ConvSpec(D, 9, 8, 8, 8, 3, 3, stride=2, activation="RELU"),     # direct strided: 4k channels
    ConvSpec(D, 8, 9, 4, 4, 3, 3, dilation=2),                      # planar ring: dilation 2 (pair + byte tap)
    ConvSpec(D, 6, 7, 8, 8, 3, 3, dilation=2, activation="RELU6"),  # dilation 2, clamped
    ConvSpec(D, 10, 9, 3, 3, 3, 3, dilation=3, activation="RELU6"),  # planar ring: dilation 3 (byte taps)
    ConvSpec(D, 9, 11, 5, 10, 3, 3, dilation=2, padding="VALID"),  # dilation 2 split rows: multiplier 2, odd
    ConvSpec(D, 9, 10, 4, 4, 3, 3, stride=2, dilation=2),           # dilation 2, strided (not split)
    ConvSpec(D, 6, 12, 8, 8, 3, 3),                                 # records after a 4-row ring
    ConvSpec(D, 5, 12, 6, 6, 3, 3, activation="RELU6"),             # records, clamped, 6 channels
    ConvSpec(D, 7, 14, 4, 4, 3, 3, dilation=2),                     # records, dilation 2 split
    ConvSpec(D, 7, 48, 2, 6, 3, 3, stride=2),                       # records, strided ring (multiplier 3)
    ConvSpec(D, 7, 9, 3, 9, 3, 3, stride=2, activation="RELU6"),    # strided ring: multiplier 3, no records
    ConvSpec(D, 5, 20, 3, 6, 3, 3),                                 # records, multiplier 2
    ConvSpec(D, 6, 3, 7, 7, 3, 3),                                  # planar ring: odd channels, width 3
    ConvSpec(D, 4, 2, 5, 10, 3, 3, activation="RELU"),              # multiplier 2, width 2
    ConvSpec(D, 7, 6, 5, 10, 3, 3, stride=2, padding="VALID"),      # direct strided: multiplier 2, valid
    ConvSpec(D, 3, 1, 6, 6, 3, 3, stride=2),                        # direct strided: width 1
    ConvSpec(D, 7, 13, 4, 4, 3, 3, stride=2),                       # direct strided: 4 channels, pad 1 all round
    ConvSpec(D, 6, 12, 36, 36, 3, 3, stride=2, activation="RELU6"),  # direct strided: 36 channels, clamped
    ConvSpec(D, 8, 14, 8, 8, 3, 3, stride=2, padding="VALID"),      # direct strided: no border
    ConvSpec(D, 9, 20, 4, 4, 3, 3, stride=3),                       # direct: stride 3
    ConvSpec(D, 5, 6, 16, 16, 3, 3, stride=2),                      # direct strided: narrow rows, patches on 3 sides
    ConvSpec(D, 7, 9, 5, 10, 3, 3, stride=2, activation="RELU6"),   # direct strided: multiplier 2, odd, padded
    ConvSpec(D, 6, 5, 3, 6, 3, 3, stride=2, activation="RELU"),     # direct strided: multiplier 2, 3 channels
    ConvSpec(D, 9, 11, 7, 7, 3, 3, stride=2, activation="RELU6"),   # direct strided: 4 channels + a 3-channel tail
    ConvSpec(D, 8, 9, 3, 3, 3, 3, stride=2),                        # direct strided: 3 channels, all tail
    ConvSpec(F, 1, 1, 37, 9),                                       # FC odd depth
    ConvSpec(C, 7, 5, 2, 9),                                        # tiny K = 2: odd out_c, odd pixel count
    ConvSpec(C, 5, 5, 3, 6, activation="RELU"),                     # tiny K = 3, clamped
    ConvSpec(C, 6, 5, 7, 7),                                        # tiny K = 7 (two weight words)
    ConvSpec(C, 9, 7, 3, 5, stride=2),                              # tiny 1x1 strided: gathered windows
    ConvSpec(C, 8, 6, 1, 8, 3, 1),                                  # tiny 3x1, in_c 1: padded windows
    ConvSpec(C, 7, 6, 2, 5, 2, 2, dilation=2, activation="RELU6"),  # tiny K = 8, dilated, clamped
    ConvSpec(C, 6, 5, 9, 7),                                        # tiny K = 9 (three weight words), odd out_c
    ConvSpec(C, 8, 7, 1, 6, 3, 3, stride=2, activation="RELU6"),    # tiny 3x3 in_c 1 (K = 9): strided, clamped
    ConvSpec(F, 1, 1, 1, 7),                                        # FC depth 1: the input tail word alone
    ConvSpec(F, 1, 1, 3, 7, activation="RELU"),                     # FC depth 3, one 4-row group + 3, clamped
    ConvSpec(F, 1, 1, 10, 8),                                       # FC classifier head: 2 groups, K % 4 == 2
    ConvSpec(F, 1, 1, 18, 37, activation="RELU6"),                  # FC 9 groups + 1 row, clamped
    ConvSpec(F, 1, 1, 24, 33),                                      # FC whole words, 8 groups + 1
    ConvSpec(F, 1, 1, 40, 3, activation="RELU"),                    # FC no 4-row group
    ConvSpec(F, 1, 1, 25, 13),                                      # FC K % 4 == 1, odd rows
    ConvSpec(D, 7, 6, 7, 7, 5, 5),                                  # direct 5x5: 4 channels + a 3-channel tail
    ConvSpec(D, 6, 5, 5, 10, 5, 5, activation="RELU6"),             # direct 5x5: multiplier 2, odd, clamped
    ConvSpec(D, 9, 8, 6, 12, 5, 5, stride=2),                       # direct 5x5: multiplier 2, strided
    ConvSpec(D, 4, 1, 8, 8, 5, 5),                                  # direct 5x5: width 1, all patches
    ConvSpec(D, 5, 3, 3, 3, 5, 5, activation="RELU"),               # direct 5x5: width 3, all tail
    ConvSpec(D, 9, 9, 9, 9, 5, 5, padding="VALID"),                 # direct 5x5: valid, no border
    ConvSpec(D, 8, 5, 4, 8, 5, 5, padding="VALID"),                 # direct 5x5: multiplier 2, width 5
    ConvSpec(D, 7, 2, 6, 6, 5, 5, stride=2),                        # direct 5x5: width 2, 2-channel tail
    ConvSpec(D, 9, 10, 6, 6, 7, 7),                                 # direct 7x7 (the per-tap row loop)
    ConvSpec(D, 6, 7, 3, 6, 5, 3, stride=2, activation="RELU6"),    # direct 5x3: multiplier 2, 1 input channel tail
]


def test_synthetic_graphs_are_nontrivial() -> None:
    """The random quantization spreads outputs over many int8 values (a saturated output would hide bugs)."""
    for i, spec in enumerate(SPECS):
        g = conv_graph(spec, seed=i)
        out = reference(g, vectors(g, 2, seed=i))
        assert np.unique(out).size > min(20, out.size // 2), spec.label()
        assert macs(spec) > 0


@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_kernels_on_host(defines: tuple[str, ...], tmp_path: Path) -> None:
    check_host(cases_of(SPECS), tmp_path, defines=defines)


def test_kernels_under_sanitizers(tmp_path: Path) -> None:
    check_sanitized(cases_of(SPECS), tmp_path)


@pytest.mark.cross
def test_kernels_on_cortex_m4(tmp_path: Path) -> None:
    check_cortex_m4(cases_of(SPECS), tmp_path)


@pytest.mark.cross
def test_layer_profile_counts_each_layer(tmp_path: Path) -> None:
    """The per-layer profiler: outputs unchanged by the instrumentation, a count per layer, in line with the
    whole-inference count, and a bigger layer costs more."""
    counts = []
    for i, spec in enumerate([ConvSpec(D, 6, 5, 8, 8, 3, 3), ConvSpec(D, 12, 10, 8, 8, 3, 3)]):
        g = render_spec(spec, i, tmp_path / f"lib{i}")
        vec = vectors(g, 1, seed=i)
        prof = profile_m4(tmp_path / f"lib{i}", vec[0], tmp_path / f"p{i}")
        assert np.array_equal(prof.outputs, reference(g, vec)[0])
        assert len(prof.layers) == 1 and prof.layers[0][1] == D
        assert 0 < prof.layers[0][2] <= prof.total
        counts.append(prof.layers[0][2])
    assert counts[1] > 3 * counts[0]  # 4x the pixels


def test_instrument_wraps_every_layer_call() -> None:
    g = conv_graph(ConvSpec(C, 5, 5, 4, 4), seed=0)
    files = render_library(g, plan_memory(g), RenderOptions(name="k"))
    text, layers = instrument(files["src/k.c"], "k")
    assert layers == [(0, C)]
    assert text.count("k_prof[0] +=") == 1 and "eml_prof_t0 = EML_SYST_CVR;" in text

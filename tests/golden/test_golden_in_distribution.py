"""Golden vectors that exercise the KWS model: synthesised speech, byte for byte in C, Python and TFLite Micro.

Uniform random int8 vectors leave the MLPerf Tiny KWS network in its saturated corner (92 % of the output
codes at a rail, two argmax classes over eight rows), so a kernel bug that only shows in the network's
working range could pass. These tests feed it MFCCs of ten spoken keywords (``kws_speech``: espeak-ng ->
the MLPerf Tiny frontend -> the model's input quantisation), check that they really are in its distribution
(it recognises most words) and that the outputs vary, then compare generated C (SSE2 and portable), the
numpy reference interpreter and TFLite Micro byte for byte on them, random rows included.

Measured on the ten words: 9 recognised, 9 distinct argmax classes, 10 distinct rows, 79 % of output codes
at a rail (a confident 12-class softmax has 11 of 12 codes at -128 by nature: 92 %), no input code at a rail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from c_helpers import compile_to, io_sizes
from golden_checks import assert_exercised
from kws_speech import KWS_LABELS, WORDS, kws_speech  # noqa: F401 (fixture)

from conftest import MLPERF_TINY
from crisp_eml.compiler import build
from crisp_eml.compiler.verify import random_vectors, tflm_outputs

KWS = MLPERF_TINY / "kws_ref_model.tflite"


def test_speech_vectors_are_in_distribution(kws_speech: np.ndarray) -> None:  # noqa: F811
    assert kws_speech.shape == (len(WORDS), 490)
    assert np.isin(kws_speech, (-128, 127)).mean() < 0.02  # features inside the input quantisation range
    out = tflm_outputs(KWS.read_bytes(), kws_speech)
    heard = [KWS_LABELS[i] for i in out.argmax(axis=1)]
    assert sum(h == w for h, w in zip(heard, WORDS, strict=True)) >= 7, heard
    assert_exercised(out, max_saturated=0.85, min_classes=6)
    assert (out.max(axis=1) < 127).mean() >= 0.5  # most rows hedge: the softmax is not pinned at 1


def test_random_vectors_do_not_exercise_kws() -> None:
    """Why the speech rows exist: the same check refuses random rows (saturated, one or two classes)."""
    out = tflm_outputs(KWS.read_bytes(), random_vectors(490, 8, seed=7))
    with pytest.raises(AssertionError):
        assert_exercised(out, max_saturated=0.85, min_classes=6)


def test_kws_speech_byte_exact_c_reference_tflm(kws_speech: np.ndarray, tmp_path: Path) -> None:  # noqa: F811
    """Speech rows plus random rows: SSE2 and portable C == numpy reference == TFLite Micro."""
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.reference import run_reference

    model = KWS.read_bytes()
    g, _ = compile_to(model, tmp_path / "lib", "kws")
    n_in, n_out = io_sizes(g)
    vec = np.vstack([kws_speech, random_vectors(n_in, 4, seed=7)])
    want = tflm_outputs(model, vec)
    for tag, defines in (("sse2", ()), ("portable", ("EML_NO_SIMD",))):
        exe = build.host_build(tmp_path / "lib", tmp_path / tag, opt="-O2", defines=defines)
        got, _ = build.host_run(exe, vec, n_out)
        assert np.array_equal(got, want), f"{tag}: {int((got != want).sum())} bytes differ from TFLite Micro"
    full = read_tflite(model)
    shape = full.tensor(full.inputs[0]).shape
    ref = np.stack([run_reference(full, [row.reshape(shape)])[0].ravel() for row in vec])
    assert np.array_equal(ref, want), f"reference: {int((ref != want).sum())} bytes differ from TFLite Micro"
    assert_exercised(want[:len(WORDS)], max_saturated=0.85, min_classes=6)


@pytest.mark.cross
def test_kws_speech_on_cortex_m4(kws_speech: np.ndarray, tmp_path: Path) -> None:  # noqa: F811
    from crisp_eml.compiler.verify import run_cortex_m4

    model = KWS.read_bytes()
    compile_to(model, tmp_path / "lib", "kws")
    vec = kws_speech[:3]
    res = run_cortex_m4(tmp_path / "lib", vec, tmp_path / "m4")
    assert np.array_equal(res["outputs"], tflm_outputs(model, vec))

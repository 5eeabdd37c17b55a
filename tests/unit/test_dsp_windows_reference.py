"""Every window, mel filterbank, DCT and pre-emphasis of the Python DSP blocks against an independent reference.

The C twin's tables come from these very functions, so a wrong constant here (Hamming 0.46 -> 0.44) is
copied into the C and the twin tests stay green: only a reference outside ``crisp_eml`` notices it.
References: ``scipy.signal.get_window``, ``librosa.filters.mel`` / ``librosa.hz_to_mel`` (htk),
``python_speech_features.get_filterbanks``, ``scipy.fft.dct``, ``scipy.signal.lfilter``, Pillow's grayscale;
whole blocks against ``dsp_references`` (librosa / python_speech_features / scipy pipelines).
"""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.dsp import audio
from crisp_eml.dsp.registry import make_block
from dsp_references import CASES, INPUT, assert_matches_reference, pillow_gray, reference, signal

SIZES = [16, 25, 200, 256, 401, 512]


@pytest.mark.parametrize("name", ["hann", "hamming"])
@pytest.mark.parametrize("n", SIZES)
def test_window_equals_scipy_get_window(name: str, n: int) -> None:
    from scipy.signal import get_window

    np.testing.assert_allclose(audio.window_function(name, n), get_window(name, n, fftbins=True), rtol=0, atol=1e-12)


def test_no_window_is_scipy_boxcar() -> None:
    from scipy.signal import get_window

    for n in SIZES:
        np.testing.assert_array_equal(audio.window_function("none", n), get_window("boxcar", n))


def test_every_window_choice_is_checked_here() -> None:
    """A new window added to the blocks must get a reference in this file."""
    assert set(audio.WINDOWS) == {"hann", "hamming", "none"}


def test_mel_scale_equals_librosa_htk() -> None:
    import librosa

    f = np.array([0.0, 20.0, 300.0, 700.0, 1000.0, 4000.0, 8000.0, 22050.0])
    np.testing.assert_allclose(audio.hz_to_mel(f), librosa.hz_to_mel(f, htk=True), rtol=1e-12)
    m = np.linspace(0.0, 4000.0, 9)
    np.testing.assert_allclose(audio.mel_to_hz(m), librosa.mel_to_hz(m, htk=True), rtol=1e-12)


@pytest.mark.parametrize(("m", "n", "fs", "lo", "hi"), [
    (40, 512, 16000.0, 0.0, 8000.0), (32, 256, 16000.0, 80.0, 7600.0), (20, 1024, 8000.0, 300.0, 3400.0),
    (10, 64, 100.0, 0.0, 50.0)])
def test_continuous_filterbank_equals_librosa_mel(m: int, n: int, fs: float, lo: float, hi: float) -> None:
    import librosa

    ours = audio.mel_filterbank(m, n, fs, lo, hi, "continuous")
    ref = librosa.filters.mel(sr=fs, n_fft=n, n_mels=m, fmin=lo, fmax=hi, htk=True, norm=None, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("m", "n", "fs", "lo", "hi"), [
    (26, 512, 16000.0, 0.0, 8000.0), (40, 256, 16000.0, 300.0, 7000.0), (20, 512, 8000.0, 100.0, 4000.0)])
def test_bins_filterbank_equals_python_speech_features(m: int, n: int, fs: float, lo: float, hi: float) -> None:
    from python_speech_features import get_filterbanks

    ours = audio.mel_filterbank(m, n, fs, lo, hi, "bins")
    np.testing.assert_allclose(ours, get_filterbanks(nfilt=m, nfft=n, samplerate=fs, lowfreq=lo, highfreq=hi),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize(("m", "q"), [(32, 13), (40, 10), (26, 26), (8, 1)])
def test_dct_matrix_equals_scipy_dct_ii_ortho(m: int, q: int) -> None:
    import scipy.fft

    # c = l @ D, c[q] = sum_m l[m] D[m, q]: row m of D is the DCT of the unit vector e_m
    ref = scipy.fft.dct(np.eye(m), type=2, norm="ortho", axis=1)[:, :q]
    np.testing.assert_allclose(audio.dct_matrix(m, q), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cof", [0.97, 0.98, 0.5])
def test_pre_emphasis_equals_scipy_lfilter(cof: float) -> None:
    from scipy.signal import lfilter

    x = signal(3)[None, None, :]
    blk = make_block("mfcc", {"pre_cof": cof})
    ref = lfilter([1.0, -np.float32(cof)], [1.0], x.astype(np.float64), axis=-1)
    np.testing.assert_allclose(blk.prepare(x), ref, rtol=0, atol=1e-6)  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", sorted(CASES))
def test_audio_block_matches_independent_pipeline(case: str) -> None:
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import apply_impulse

    spec = ImpulseSpec.from_dict({"input": INPUT, "blocks": [CASES[case]]})
    x = signal(7)
    ours = apply_impulse(spec, x[None, :, None])[0]
    ref = reference(case, x)
    assert_matches_reference(case, ours.reshape(ref.shape), ref)


def test_grayscale_equals_pillow_bt601() -> None:
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)
    rgb[0, :3] = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]  # each weight alone
    out = make_block("image", {"channels": "Grayscale"}).transform(rgb[None].astype(np.float32), 1.0)[0, ..., 0]
    np.testing.assert_allclose(out, pillow_gray(rgb), rtol=0, atol=0.5 / 255 + 1e-6)

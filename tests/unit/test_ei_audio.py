"""Edge Impulse's spectrogram, mfe and mfcc blocks (versions 1-4) against Edge Impulse's own outputs.

The golden vectors (``tests/data/ei_golden``, made offline by running Edge Impulse's processing blocks) give,
per case, the window, EI's parameters and EI's flat features or EI's error. Every case of the three blocks is
checked: same feature count and values within the loader's tolerance, or a refusal naming the parameter EI's
error is about. Then the quirks reproduced on purpose, ``input_scale``, and the crisp variant left unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.dsp.audio import MfccBlock, MfeBlock, SpectrogramBlock
from crisp_eml.dsp.ei_audio import EIMfccBlock, EIMfeBlock, EISpectrogramBlock, quantize_u8
from crisp_eml.dsp.ei_mel import ceil_unless_close, ei_filterbank, frame_geometry
from crisp_eml.dsp.pipeline import apply_impulse, validate_impulse
from crisp_eml.dsp.registry import block_versions, latest_version, make_block
from ei_golden import Case, assert_features_close, load_cases

AUDIO = ("spectrogram", "mfe", "mfcc")
CASES = [c for b in AUDIO for c in load_cases(b)]

# EI's error message (start) -> the parameter our refusal must name
ERROR_FIELDS = {
    "ConfigurationError: Spectrogram blocks only support a single axis": "axes",
    "ConfigurationError: MFE blocks only support a single axis": "axes",
    "ConfigurationError: MFCC blocks only support a single axis": "axes",
    "ConfigurationError: FFT length must be a power of 2": "fft_length",
    "ConfigurationError: Frame length should be at least 4 samples": "frame_length",
    "ConfigurationError: At least one row of the mel filterbank contains all zeros": "num_filters",
    "ConfigurationError: Filter number should be at least 2": "num_filters",
    "AssertionError: Windows size must be odd!": "win_size",
}


def _run(case: Case) -> np.ndarray:
    # the golden params use EI's names, which are our canonical names for these blocks
    blk = make_block(case.block, case.params, case.version)
    _, length, axes = case.window.shape
    blk.validate(length, axes, case.sampling_freq)
    out = blk.transform(case.window, case.sampling_freq)
    assert out.shape[1:] == blk.output_shape(length, axes, case.sampling_freq)
    return out[0]


def test_the_golden_files_cover_every_version_of_the_three_blocks() -> None:
    for b in AUDIO:
        for v in (1, 2, 3, 4):
            cases = [c for c in CASES if c.block == b and c.version == v]
            assert sum(c.features is not None for c in cases) >= 10
            assert any(c.error is not None for c in cases)


@pytest.mark.parametrize("case", [c for c in CASES if c.features is not None], ids=lambda c: c.id)
def test_features_match_edge_impulse(case: Case) -> None:
    out = _run(case)
    assert_features_close(out, case.features, case.id)
    cfg = (case.output_config or {}).get("shape", {})
    assert out.shape[0] == cfg["width"] and out.shape[1] == cfg["height"]


@pytest.mark.parametrize("case", [c for c in CASES if c.error is not None], ids=lambda c: c.id)
def test_what_edge_impulse_refuses_is_refused_naming_the_parameter(case: Case) -> None:
    fields = [f for msg, f in ERROR_FIELDS.items() if str(case.error).startswith(msg)]
    assert len(fields) == 1, f"unmapped EI error {case.error!r}"
    with pytest.raises(InputError) as exc:
        _run(case)
    assert exc.value.field == fields[0]


def test_classes_versions_and_registry() -> None:
    for t, cls, crisp in (("spectrogram", EISpectrogramBlock, SpectrogramBlock), ("mfe", EIMfeBlock, MfeBlock),
                          ("mfcc", EIMfccBlock, MfccBlock)):
        assert block_versions(t) == [1, 2, 3, 4, "crisp"] and latest_version(t) == 4
        for v in (1, 2, 3, 4):
            assert type(make_block(t, {}, v)) is cls
        assert type(make_block(t, {})) is crisp
        assert cls.defaults["input_scale"] == 1.0


def test_defaults_are_edge_impulses() -> None:
    assert EISpectrogramBlock.defaults == {"frame_length": 0.02, "frame_stride": 0.01, "fft_length": 128,
                                           "noise_floor_db": -52, "show_axes": True, "input_scale": 1.0}
    assert EIMfeBlock.defaults == {"frame_length": 0.02, "frame_stride": 0.01, "num_filters": 40, "fft_length": 256,
                                   "low_frequency": 0, "high_frequency": 0, "win_size": 101, "noise_floor_db": -52,
                                   "input_scale": 1.0}
    assert EIMfccBlock.defaults == {"num_cepstral": 13, "frame_length": 0.02, "frame_stride": 0.02,
                                    "num_filters": 32, "fft_length": 256, "win_size": 101, "low_frequency": 0,
                                    "high_frequency": 0, "pre_cof": 0.98, "pre_shift": 1, "input_scale": 1.0}


def _tone(n: int = 2, length: int = 8000, fs: float = 8000.0, amp: float = 9000.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / fs
    f0 = rng.uniform(200, 3000, (n, 1))
    x = amp * np.sin(2 * np.pi * f0 * t) + 300 * rng.standard_normal((n, length))
    return np.round(x).astype(np.float32)[..., None]


@pytest.mark.parametrize("btype", AUDIO)
@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_input_scale_maps_samples_in_pm1_to_int16_values(btype: str, version: int) -> None:
    params = {"win_size": 0} if btype == "mfcc" else ({"fft_length": 512} if btype == "mfe" else {})
    w16 = _tone()
    ours = make_block(btype, {**params, "input_scale": 32768}, version).transform(w16 / 32768, 8000.0)
    theirs = make_block(btype, params, version).transform(w16, 8000.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_input_scale_changes_what_edge_impulse_does_not_rescale() -> None:
    w = _tone() / 32768
    for btype, params in (("spectrogram", {}), ("mfcc", {"win_size": 0})):
        a = make_block(btype, params, 4).transform(w, 8000.0)
        b = make_block(btype, {**params, "input_scale": 32768}, 4).transform(w, 8000.0)
        assert not np.allclose(a, b)
    with pytest.raises(InputError) as exc:
        make_block("mfe", {"input_scale": 0}, 4).validate(8000, 1, 8000.0)
    assert exc.value.field == "input_scale"


def test_spectrogram_v3_rescales_only_windows_outside_pm1() -> None:
    loud = _tone(1)
    quiet = loud / 32768
    v3 = make_block("spectrogram", {}, 3)
    np.testing.assert_allclose(v3.transform(loud, 8000.0), v3.transform(quiet, 8000.0), atol=1e-6)
    v4 = make_block("spectrogram", {}, 4)
    assert v4.transform(loud, 8000.0).max() > 1.0  # no upper clip at v4
    assert v3.transform(loud, 8000.0).max() <= 1.0


def test_mfe_quantisation_rounds_half_to_even_and_wraps_256_to_zero() -> None:
    y = np.array([0.0, 1.5 / 256, 2.5 / 256, 255.4 / 256, 255.5 / 256, 1.0])
    np.testing.assert_array_equal(quantize_u8(y) * 256, [0, 2, 2, 255, 0, 0])
    # a loud 2 kHz tone: the bands holding it are 12 dB above full scale or more and come out as 0
    t = np.arange(8000) / 8000.0
    w = (32000 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32).reshape(1, -1, 1)
    out = make_block("mfe", {"fft_length": 512, "num_filters": 32}, 4).transform(w, 8000.0)[0]
    band = int(np.argmax(make_block("mfe", {"fft_length": 512, "num_filters": 32}, 4)
                         .filterbank(8000.0)[:, 128]))  # the filter that peaks at 2 kHz
    assert np.all(out[:, band] == 0.0) and out.max() > 0.5


def test_filterbank_quirks() -> None:
    fb = ei_filterbank(32, 128, 8000.0, 0, 4000.0, False)
    assert fb[2, 2] == 1.0 and np.count_nonzero(fb[2]) == 1  # centre == right edge keeps a 1
    old = ei_filterbank(40, 512, 16000.0, 0, 8000.0, True)
    new = ei_filterbank(40, 512, 16000.0, 0, 8000.0, False)
    assert np.flatnonzero(old.any(axis=0)).max() <= 130 < np.flatnonzero(new.any(axis=0)).max()  # old mels: lower half
    with pytest.raises(InputError) as exc:
        ei_filterbank(40, 256, 16000.0, 0, 8000.0, True)
    assert exc.value.field == "num_filters"


def test_framing_rules() -> None:
    assert ceil_unless_close(320.0000001) == 320 and ceil_unless_close(31.25) == 32 and ceil_unless_close(80.0) == 80
    assert frame_geometry(1, 16000.0, 0.02, 0.01, 16000) == (320, 160, 98)
    assert frame_geometry(2, 16000.0, 0.02, 0.01, 16000) == (320, 160, 99)
    assert frame_geometry(1, 8000.0, 0.0125, 0.01, 8000)[0] == 100
    assert frame_geometry(1, 1000.0, 0.0125, 0.01, 8000)[0] == 12  # 12.5 rounds half to even at v1
    assert frame_geometry(2, 1000.0, 0.0125, 0.01, 8000)[0] == 13


@pytest.mark.parametrize(("btype", "params", "version", "field"), [
    ("mfe", {"win_size": 0}, 1, "win_size"),
    ("mfe", {"win_size": 4}, 2, "win_size"),
    ("mfcc", {"win_size": 4}, 4, "win_size"),
    ("mfcc", {"pre_shift": 0}, 4, "pre_shift"),
    ("mfcc", {"num_cepstral": 0}, 4, "num_cepstral"),
    ("mfe", {"high_frequency": 5000}, 4, "high_frequency"),
    ("mfe", {"low_frequency": 3000, "high_frequency": 2000}, 4, "low_frequency"),
    ("spectrogram", {"frame_stride": 0.0003}, 4, "frame_stride"),
    ("spectrogram", {"frame_length": 2.0}, 2, "frame_length"),
    ("spectrogram", {"frame_stride": 0.001}, 4, "frame_stride"),  # 1000 frames > 500
    ("spectrogram", {"noise_floor_db": 12}, 4, "noise_floor_db"),
])
def test_bad_parameters_name_the_field(btype: str, params: dict[str, object], version: int, field: str) -> None:
    with pytest.raises(InputError) as exc:
        make_block(btype, params, version).validate(8000, 1, 8000.0)
    assert exc.value.field == field


def test_more_cepstral_coefficients_than_filters_give_one_column_per_filter() -> None:
    """As Edge Impulse: the DCT output (num_filters values) is cut at num_cepstral, so at most num_filters."""
    blk = make_block("mfcc", {"num_cepstral": 13, "num_filters": 8, "fft_length": 128}, 4)
    blk.validate(8000, 1, 8000.0)
    assert blk.output_shape(8000, 1, 8000.0) == (50, 8)
    assert blk.transform(_tone(1), 8000.0).shape == (1, 50, 8)


def test_parameters_a_version_does_not_use_are_accepted() -> None:
    make_block("mfe", {"win_size": 0}, 4).validate(8000, 1, 8000.0)  # win_size is a v1/v2 parameter
    make_block("spectrogram", {"show_axes": "false"}, 4).validate(8000, 1, 8000.0)
    make_block("mfcc", {"win_size": 0}, 1).validate(8000, 1, 8000.0)  # 0 disables the normalisation


def test_crisp_variant_unchanged() -> None:
    w = (_tone(2) / 32768).astype(np.float32)
    for t, cls in (("spectrogram", SpectrogramBlock), ("mfe", MfeBlock), ("mfcc", MfccBlock)):
        np.testing.assert_array_equal(make_block(t, {"fft_length": 256}).transform(w, 8000.0),
                                      cls({"fft_length": 256}).transform(w, 8000.0))


def test_through_an_impulse_with_a_version() -> None:
    spec = ImpulseSpec.from_dict({
        "input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": 8000, "axes": ["audio"]},
        "blocks": [{"name": "m", "type": "mfcc", "params": {"input_scale": 32768}, "implementation_version": 4}]})
    validate_impulse(spec)
    w = (_tone(3) / 32768).astype(np.float32)
    out = apply_impulse(spec, w)
    direct = make_block("mfcc", {}, 4).transform(w * 32768, 8000.0)
    np.testing.assert_allclose(out.reshape(direct.shape), direct, rtol=1e-6, atol=1e-6)

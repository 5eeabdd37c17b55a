"""Property tests for the DSP blocks: predicted shapes, determinism, constant signals, parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.registry import make_block

POW2 = st.sampled_from([8, 16, 32, 64])


@st.composite
def spectral_case(draw):  # type: ignore[no-untyped-def]
    fs = draw(st.sampled_from([10.0, 50.0, 100.0]))
    length = draw(st.integers(8, 160))
    params = {"fft-length": draw(POW2), "do-log": draw(st.booleans()), "do-fft-overlap": draw(st.booleans()),
              "spectral-peaks-count": draw(st.integers(0, 3)),
              "filter-type": draw(st.sampled_from(["none", "low", "high"])),
              "filter-cutoff": draw(st.floats(0.05, 0.45)) * fs, "filter-order": draw(st.integers(1, 6)),
              "spectral-power-edges": draw(st.sampled_from([[], [0.0, 1.0, 2.5], [0.5, 4.0]]))}
    if draw(st.booleans()) and length >= 16:
        params.update({"analysis-type": "wavelet", "wavelet": draw(st.sampled_from(["haar", "db2"])),
                       "wavelet-level": 1})
    return "spectral-analysis", params, length, draw(st.integers(1, 3)), fs


@st.composite
def audio_case(draw):  # type: ignore[no-untyped-def]
    fs = draw(st.sampled_from([8000.0, 16000.0]))
    btype = draw(st.sampled_from(["mfcc", "mfe", "spectrogram"]))
    frame = draw(st.sampled_from([0.01, 0.02, 0.025]))
    params = {"frame_length": frame, "frame_stride": frame / draw(st.sampled_from([1, 2])),
              "fft_length": draw(st.sampled_from([128, 256, 512]))}
    if btype != "spectrogram":
        params["num_filters"] = draw(st.integers(13, 40))
    if btype == "mfcc":
        params["num_cepstral"] = draw(st.integers(1, 13))
        params["win_size"] = draw(st.sampled_from([0, 3, 101]))
    length = int(fs * draw(st.sampled_from([0.05, 0.2, 0.25])))
    return btype, params, length, draw(st.integers(1, 2)), fs


@st.composite
def basic_case(draw):  # type: ignore[no-untyped-def]
    btype = draw(st.sampled_from(["raw", "flatten"]))
    params: dict[str, object] = {"scale-axes": draw(st.floats(0.1, 10.0))}
    if btype == "flatten":
        params["kurtosis"] = draw(st.booleans())
        params["minimum"] = draw(st.booleans())
    return btype, params, draw(st.integers(1, 50)), draw(st.integers(1, 4)), 25.0


@settings(max_examples=40, deadline=None)
@given(case=st.one_of(spectral_case(), audio_case(), basic_case()), seed=st.integers(0, 2**16))
def test_output_shape_is_predicted_and_transform_is_deterministic(case, seed) -> None:  # type: ignore[no-untyped-def]
    btype, params, length, axes, fs = case
    blk = make_block(btype, params)
    blk.validate(length, axes, fs)
    w = np.random.default_rng(seed).standard_normal((2, length, axes)).astype(np.float32)
    out = blk.transform(w, fs)
    assert out.shape == (2, *blk.output_shape(length, axes, fs))
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(out, make_block(btype, params).transform(w.copy(), fs))
    cost = blk.cost(length, axes, fs)
    assert cost["ops"] > 0 and cost["working_bytes"] > 0


@given(c=st.floats(-100, 100, allow_nan=False))
@settings(max_examples=20, deadline=None)
def test_constant_signal_gives_zero_variation_features(c: float) -> None:
    w = np.full((1, 32, 2), c, dtype=np.float32)
    sa = make_block("spectral-analysis", {"fft-length": 16, "do-log": True}).transform(w, 10.0).reshape(2, -1)
    np.testing.assert_array_equal(sa[:, :3], 0.0)  # rms, skewness, kurtosis of the mean-removed signal
    np.testing.assert_allclose(sa[:, 3:], -10.0)  # log10 of the 1e-10 floor: no spectral power
    fl = make_block("flatten").transform(w, 10.0).reshape(2, 7)
    cf = float(np.float32(c))
    np.testing.assert_allclose(fl[:, :4], np.tile([cf, cf, cf, abs(cf)], (2, 1)), rtol=1e-6)
    np.testing.assert_array_equal(fl[:, 4:], 0.0)


def test_silence_gives_floor_values_for_audio_blocks() -> None:
    w = np.zeros((1, 4000, 1), dtype=np.float32)
    assert np.all(make_block("mfe").transform(w, 16000.0) == 0.0)  # clipped at the noise floor
    assert np.all(make_block("spectrogram").transform(w, 16000.0) == 0.0)
    c = make_block("mfcc", {"win_size": 0}).transform(w, 16000.0)[0]
    expect = np.zeros(13)
    expect[0] = -100.0 * np.sqrt(32)  # 10*log10(1e-10) in every filter, DCT-II ortho
    np.testing.assert_allclose(c, np.tile(expect, (c.shape[0], 1)), atol=1e-3)


@pytest.mark.parametrize("btype,params,geometry,field", [
    ("spectral-analysis", {"filter-type": "low", "filter-cutoff": 6.0}, (20, 1, 10.0), "filter-cutoff"),
    ("spectral-analysis", {"fft-length": 24}, (20, 1, 10.0), "fft-length"),
    ("spectral-analysis", {"filter-type": "band"}, (20, 1, 10.0), "filter-type"),
    ("spectral-analysis", {"analysis-type": "wavelet", "wavelet-level": 6}, (20, 1, 10.0), "wavelet-level"),
    ("spectral-analysis", {"spectral-power-edges": [3, 1]}, (20, 1, 10.0), "spectral-power-edges"),
    ("mfcc", {"frame_length": 0.5}, (4000, 1, 16000.0), "frame_length"),
    ("mfcc", {"fft_length": 300}, (4000, 1, 16000.0), "fft_length"),
    ("mfcc", {"num_cepstral": 40}, (4000, 1, 16000.0), "num_cepstral"),
    ("mfcc", {"win_size": 100}, (4000, 1, 16000.0), "win_size"),
    ("mfe", {"high_frequency": 9000}, (4000, 1, 16000.0), "high_frequency"),
    ("spectrogram", {"frame_stride": 0.00001}, (4000, 1, 16000.0), "frame_stride"),
    ("flatten", {"average": False, "minimum": False, "maximum": False, "rms": False, "stdev": False,
                 "skewness": False, "kurtosis": False}, (20, 1, 10.0), "average"),
])
def test_invalid_parameters_raise_input_error_naming_the_parameter(btype, params, geometry, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as exc:
        make_block(btype, params).validate(*geometry)
    assert exc.value.field == field


def test_unknown_block_and_parameter_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown processing block"):
        make_block("nope")
    with pytest.raises(InputError) as exc:
        make_block("raw", {"scale_axis": 2})
    assert exc.value.field == "scale_axis"


def test_image_block_scales_and_converts_to_grayscale() -> None:
    img = np.zeros((1, 4, 5, 3), dtype=np.float32)
    img[..., 0] = 255.0
    rgb = make_block("image", {"input_channels": 3}).transform(img, 0.0)
    assert rgb.shape == (1, 4, 5, 3) and rgb[..., 0].max() == 1.0
    gray = make_block("image", {"channels": "Grayscale", "input_channels": 3})
    out = gray.transform(img, 0.0)
    assert out.shape == (1, *gray.output_shape(4, 5, 0.0))
    np.testing.assert_allclose(out, 0.299)

"""Feature standardisation statistics: fitting, float32 arithmetic, JSON and ``.tflite`` metadata round trips."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.normalization import METADATA_NAME, Normalization, fit


def test_fit_is_per_last_axis_channel_and_constant_channels_are_only_centred() -> None:
    rng = np.random.default_rng(0)
    X = np.stack([rng.normal(5, 0.1, (40, 8)), rng.normal(-3, 80, (40, 8)), np.full((40, 8), 7.0)], axis=-1)
    n = fit(X)
    assert n.channels == 3
    assert abs(n.mean[0] - 5) < 0.05 and abs(n.mean[1] + 3) < 30 and n.mean[2] == 7
    assert n.std[2] == 1.0 and 0.05 < n.std[0] < 0.2 and 50 < n.std[1] < 120
    z = n.apply(X)
    assert z.dtype == np.float32 and z.shape == X.shape
    np.testing.assert_allclose(z[..., :2].reshape(-1, 2).std(axis=0), [1, 1], rtol=1e-4)
    assert np.all(z[..., 2] == 0)


def test_apply_is_float32_subtract_then_divide() -> None:
    n = Normalization(mean=np.float32([0.1, -2.5]), std=np.float32([0.3, 7.0]))
    x = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)  # three [.., 2] rows per window
    want = (x - np.tile(n.mean, 3)) / np.tile(n.std, 3)  # float32 ops, the order the C library uses
    assert np.array_equal(n.apply(x), want)
    with pytest.raises(InputError, match="not a multiple"):
        n.apply(np.zeros((2, 5), np.float32))


def test_json_round_trip_and_bad_statistics() -> None:
    n = fit(np.random.default_rng(2).normal(size=(10, 4)))
    back = Normalization.from_json(n.to_json())
    assert np.array_equal(back.mean, n.mean) and np.array_equal(back.std, n.std)
    for bad in (b"{", b'{"version": 2}', b'{"version": 1, "mean": [1], "std": [0]}',
                b'{"version": 1, "mean": [1, 2], "std": [1]}', b'{"version": 1, "mean": [], "std": []}'):
        with pytest.raises(InputError) as exc:
            Normalization.from_json(bad)
        assert exc.value.field == "normalization"
    with pytest.raises(InputError):
        fit(np.zeros((0, 3)))


def test_tflite_metadata_round_trip_keeps_the_model_running() -> None:
    from conftest import MLPERF_TINY
    from crisp_eml.learn.model_metadata import model_normalization, read_metadata, with_metadata, with_normalization
    from crisp_eml.learn.tflm import io_details, tflm_predict

    model = (MLPERF_TINY / "ad01_int8.tflite").read_bytes()
    assert model_normalization(model) is None and read_metadata(b"not a model", METADATA_NAME) is None
    n = fit(np.random.default_rng(3).normal(size=(20, 4)))
    tagged = with_normalization(model, n)
    got = model_normalization(tagged)
    assert got is not None and np.array_equal(got.mean, n.mean)
    again = with_normalization(tagged, Normalization(mean=n.mean + 1, std=n.std))  # replaces, not appends
    got2 = model_normalization(again)
    assert got2 is not None and np.array_equal(got2.mean, n.mean + 1)
    i, _ = io_details(model)
    X = np.random.default_rng(4).integers(-128, 128, size=(4, *i.shape[1:])).astype(np.int8)
    assert np.array_equal(tflm_predict(model, X), tflm_predict(again, X))
    broken = with_metadata(model, METADATA_NAME, b'{"version": 1, "mean": [1], "std": [-1]}')
    with pytest.raises(InputError, match="metadata is invalid"):
        model_normalization(broken)

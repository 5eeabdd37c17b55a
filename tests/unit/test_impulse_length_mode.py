"""``input.length_mode`` (window | pad | resample), the float32 resample arithmetic, and the window refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec, resample_rows, windows_for
from crisp_eml.dsp.pipeline import validate_impulse


def spec(mode: str | None = None, size: float = 1000.0, freq: float = 10.0, block: str = "raw",
         **inp: Any) -> ImpulseSpec:
    d: dict[str, Any] = {"type": "time-series", "window_size_ms": size, "frequency_hz": freq, "axes": ["x", "y"],
                         **inp}
    if mode is not None:
        d["length_mode"] = mode
    return ImpulseSpec.from_dict({"input": d, "blocks": [{"type": block}]})


def reference_resample(x: np.ndarray, m: int) -> np.ndarray:
    """The contract written out one scalar at a time, every operation in float32."""
    n = x.shape[0]
    f32 = np.float32
    if n == 1:
        return np.repeat(x[:1], m, axis=0)
    if m == 1:
        return x[:1].copy()
    step = f32(f32(n - 1) / f32(m - 1))
    out = np.zeros((m, x.shape[1]), dtype=np.float32)
    for i in range(m):
        pos = f32(f32(i) * step)
        j = min(int(pos), n - 2)
        frac = f32(pos - f32(j))
        for a in range(x.shape[1]):
            out[i, a] = f32(x[j, a] + f32(f32(x[j + 1, a] - x[j, a]) * frac))
    return out


def test_default_mode_is_omitted_so_hashes_do_not_change() -> None:
    old = spec()
    assert "length_mode" not in old.to_dict()["input"]
    assert spec("window").hash == old.hash
    assert spec("pad").to_dict()["input"]["length_mode"] == "pad" and spec("pad").hash != old.hash
    assert ImpulseSpec.from_dict(spec("resample").to_dict()).input.length_mode == "resample"  # type: ignore[union-attr]
    with pytest.raises(InputError) as exc:
        spec("stretch")
    assert exc.value.field == "input.length_mode"


@pytest.mark.parametrize(("n", "m"), [(7, 3), (3, 7), (30, 141), (360, 141), (141, 141), (1, 5), (5, 1), (2, 2)])
def test_resample_rows_is_the_float32_contract_bit_for_bit(n: int, m: int) -> None:
    x = np.random.default_rng(n * 1000 + m).standard_normal((n, 2)).astype(np.float32) * 100
    got = resample_rows(x, m)
    assert got.dtype == np.float32 and got.shape == (m, 2)
    assert got.tobytes() == reference_resample(x, m).tobytes()
    if n > 1 and m > 1:
        assert np.array_equal(got[0], x[0]) and np.allclose(got[-1], x[-1], atol=1e-3)


def test_pad_and_resample_give_exactly_one_window_and_ignore_the_rate() -> None:
    x = np.arange(2 * 25, dtype=np.float32).reshape(25, 2)
    pad = windows_for(spec("pad", size=2000.0), x, 50.0)  # 20 rows; a 50 Hz sample is not resampled to 10 Hz
    assert pad.shape == (1, 20, 2) and np.array_equal(pad[0], x[:20])
    short = windows_for(spec("pad", size=4000.0), x)  # 40 rows: zero-padded at the end
    assert short.shape == (1, 40, 2) and np.array_equal(short[0, :25], x) and not short[0, 25:].any()
    res = windows_for(spec("resample", size=1000.0), x, 50.0)
    assert res.shape == (1, 10, 2) and res.tobytes() == resample_rows(x, 10)[None].tobytes()
    assert windows_for(spec("resample"), np.zeros((0, 2), np.float32)).shape == (0, 10, 2)
    slide = windows_for(spec(size=1000.0, window_increase_ms=500.0), x)
    assert slide.shape == (4, 10, 2)  # the default mode still slides


def test_window_shorter_than_one_sample_period_is_refused() -> None:
    with pytest.raises(InputError, match="shorter than one sample period") as exc:
        spec(size=50.0, freq=10.0)  # 0.5 of a sample
    assert exc.value.field == "input.window_size_ms"
    with pytest.raises(InputError, match="shorter than one sample period"):
        spec(size=2000.0, freq=0.1)  # a 2 s window at 0.1 Hz
    assert spec(size=100.0, freq=10.0).input.window_len == 1  # type: ignore[union-attr]


def test_window_cap_is_in_rows_not_time() -> None:
    slow = spec(size=10 * 3_600_000.0, freq=0.1)  # ten hours at 0.1 Hz: 3,600 rows, one window
    assert slow.input.window_len == 3600  # type: ignore[union-attr]
    with pytest.raises(InputError, match="at most 1,000,000 samples") as exc:
        spec(size=20_001_000.0, freq=50.0)
    assert exc.value.field == "input.window_size_ms"


@pytest.mark.parametrize("block", ["flatten", "spectral-analysis"])
def test_one_sample_window_refused_for_blocks_that_need_more(block: str) -> None:
    one = spec(size=100.0, freq=10.0, block=block)
    with pytest.raises(InputError, match="at least 2 samples") as exc:
        validate_impulse(one)
    assert exc.value.field == "input.window_size_ms"
    validate_impulse(spec(size=100.0, freq=10.0, block="raw"))  # one raw sample is still a valid input

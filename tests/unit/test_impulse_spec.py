"""The impulse spec: round trip, hash, validation errors with field paths, Edge Impulse windowing."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec, windows_for
from crisp_eml.dsp.pipeline import apply_impulse, feature_names, features_from_signal, n_features, validate_impulse


def ts(**inp: object) -> dict[str, object]:
    base = {"type": "time-series", "window_size_ms": 1000, "window_increase_ms": 500, "frequency_hz": 10,
            "axes": ["x", "y"]}
    return {"input": {**base, **inp}, "blocks": [{"type": "flatten"}, {"type": "raw", "axes": ["y"]}]}


def test_round_trip_and_hash_are_canonical() -> None:
    spec = ImpulseSpec.from_dict(ts())
    again = ImpulseSpec.from_dict(spec.to_dict())
    assert again == spec and again.hash == spec.hash and len(spec.hash) == 64
    other = ImpulseSpec.from_dict(ts(window_increase_ms=250))
    assert other.hash != spec.hash
    assert spec.to_dict()["learning"] is None


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["input"].pop("frequency_hz"), "input.frequency_hz"),
    (lambda d: d["input"].update(window_size_ms=-1), "input.window_size_ms"),
    (lambda d: d["input"].update(axes=[]), "input.axes"),
    (lambda d: d["input"].update(type="video"), "input.type"),
    (lambda d: d.update(blocks=[]), "blocks"),
    (lambda d: d["blocks"][1].update(axes=["z"]), "blocks.1.axes"),
    (lambda d: d["blocks"][0].update(params=[1]), "blocks.0.params"),
    (lambda d: d["blocks"].append({"type": "flatten"}), "blocks.2.name"),
])
def test_structural_errors_name_the_field_path(mutate, field) -> None:  # type: ignore[no-untyped-def]
    d = ts()
    mutate(d)
    with pytest.raises(InputError) as exc:
        ImpulseSpec.from_dict(d)
    assert exc.value.field == field


def test_block_parameter_errors_name_the_full_path() -> None:
    d = ts()
    d["blocks"] = [{"type": "spectral-analysis", "params": {"filter-type": "low", "filter-cutoff": 5.0}}]
    with pytest.raises(InputError) as exc:
        validate_impulse(ImpulseSpec.from_dict(d))
    assert exc.value.field == "blocks.0.params.filter-cutoff"
    assert "Nyquist" in str(exc.value)


def test_windows_follow_edge_impulse_semantics() -> None:
    spec = ImpulseSpec.from_dict(ts())
    sig = np.arange(60, dtype=np.float32).reshape(30, 2)
    w = windows_for(spec, sig, 10.0)
    assert w.shape == (5, 10, 2)  # starts 0, 5, 10, 15, 20 (25 would overrun)
    np.testing.assert_array_equal(w[1, 0], sig[5])
    short = windows_for(spec, sig[:7], 10.0)
    assert short.shape == (1, 10, 2) and np.all(short[0, 7:] == 0)
    nopad = ImpulseSpec.from_dict(ts(pad_zeros=False))
    assert windows_for(nopad, sig[:7], 10.0).shape == (0, 10, 2)


def test_windows_pick_axes_by_name_and_resample() -> None:
    spec = ImpulseSpec.from_dict(ts())
    sig = np.stack([np.zeros(40), np.ones(40), np.arange(40)], axis=1).astype(np.float32)
    w = windows_for(spec, sig, 10.0, signal_axes=["y", "q", "x"])
    np.testing.assert_array_equal(w[0, :, 0], np.arange(10))  # x
    np.testing.assert_array_equal(w[0, :, 1], 0)  # y
    up = windows_for(spec, sig[:20, [2, 0]], 5.0)  # 5 Hz -> 10 Hz: 40 samples
    np.testing.assert_allclose(up[0, :, 0], np.arange(10) / 2.0)
    with pytest.raises(InputError):
        windows_for(spec, sig, 10.0, signal_axes=["a", "b", "c"])


def test_apply_impulse_concatenates_blocks_in_order() -> None:
    spec = ImpulseSpec.from_dict(ts())
    rng = np.random.default_rng(0)
    sig = rng.standard_normal((30, 2)).astype(np.float32)
    feats = features_from_signal(spec, sig, 10.0)
    w = windows_for(spec, sig, 10.0)
    assert feats.shape == (5, n_features(spec)) == (5, 14 + 10)
    np.testing.assert_array_equal(feats[:, 14:], w[:, :, 1])
    np.testing.assert_array_equal(feats, apply_impulse(spec, w))
    names = feature_names(spec)
    assert len(names) == feats.shape[1] and names[0] == "flatten: x average" and names[14] == "raw: y t0"


def test_image_input_resizes_and_scales() -> None:
    spec = ImpulseSpec.from_dict({"input": {"type": "image", "width": 8, "height": 6, "resize_mode": "fit-long",
                                            "channels": "Grayscale"}, "blocks": [{"type": "image"}]})
    validate_impulse(spec)
    img = np.full((12, 32, 3), 255, dtype=np.uint8)
    feats = features_from_signal(spec, img)
    assert feats.shape == (1, 6 * 8 * 1)
    grid = feats.reshape(6, 8)
    assert grid[0, 0] == 0.0 and grid[3, 4] == pytest.approx(1.0)  # letterboxed: black bars top and bottom

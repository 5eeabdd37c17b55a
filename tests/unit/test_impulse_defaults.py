"""Defaults chosen from the data (``impulse create``) and autotune heuristics, without a project."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.impulse import ImpulseSpec, windows_for
from crisp_eml.core.sample import Sample, Sensor
from crisp_eml.dsp.autotune import autotune_params
from crisp_eml.dsp.pipeline import validate_impulse
from crisp_eml.workspace.impulse import apply_assignments, build_default_spec


def sample(kind: str, length: int, freq: float | None, axes: tuple[str, ...], shape: tuple[int, ...] = ()) -> Sample:
    return Sample(id="s", name="s", label="a", category="training", kind=kind,  # type: ignore[arg-type]
                  sensors=tuple(Sensor(a) for a in axes), frequency_hz=freq, interval_ms=None, length=length,
                  shape=shape or (length, len(axes)), hash="0" * 64, source="t")


def test_time_series_defaults_to_spectral_analysis_on_shared_axes() -> None:
    spec = build_default_spec([sample("timeseries", 30, 10.0, ("x", "y", "z")), sample("timeseries", 40, 10.0,
                                                                                         ("y", "x"))])
    assert spec.input.axes == ("x", "y")
    assert spec.input.window_size_ms == 2000.0  # min(2000 ms, median length 4000 ms)  # type: ignore[union-attr]
    assert [b.type for b in spec.blocks] == ["spectral-analysis"]
    short = build_default_spec([sample("timeseries", 12, 10.0, ("x",))])
    assert short.input.window_size_ms == 1200.0  # type: ignore[union-attr]
    validate_impulse(short)


def test_audio_defaults_to_mfcc_and_images_to_image() -> None:
    audio = build_default_spec([sample("audio", 16000, 16000.0, ("audio",))])
    assert [b.type for b in audio.blocks] == ["mfcc"] and audio.input.window_size_ms == 1000.0  # type: ignore[union-attr]
    validate_impulse(audio)
    low = build_default_spec([sample("audio", 8000, 8000.0, ("audio",))], blocks=["mfe"])
    validate_impulse(low)
    img = build_default_spec([sample("image", 120, None, ("R", "G", "B"), (120, 160, 3))])
    assert img.input.width == img.input.height == 96 and img.input.channels == "RGB"  # type: ignore[union-attr]
    validate_impulse(img)


def test_no_samples_or_unknown_block_are_clear_errors() -> None:
    with pytest.raises(NotFoundError, match="ingest"):
        build_default_spec([])
    with pytest.raises(InputError) as exc:
        build_default_spec([sample("timeseries", 30, 10.0, ("x",))], blocks=["fft"])
    assert exc.value.field == "--block"


def test_assignments_edit_nested_fields_and_validate() -> None:
    spec = build_default_spec([sample("timeseries", 30, 10.0, ("x",))])
    new = apply_assignments(spec, ["blocks.0.params.fft-length=32", "input.pad_zeros=false",
                                   "blocks.0.params.spectral-power-edges=[0, 1, 2]"])
    assert new.blocks[0].params["fft-length"] == 32 and new.input.pad_zeros is False  # type: ignore[union-attr]
    with pytest.raises(InputError) as exc:
        apply_assignments(spec, ["blocks.3.params.x=1"])
    assert exc.value.field == "blocks.3"
    with pytest.raises(InputError):
        apply_assignments(spec, ["input.window_size_ms=-5"])


def test_autotune_finds_low_cutoff_and_audio_frames() -> None:
    spec = ImpulseSpec.from_dict({"input": {"type": "time-series", "window_size_ms": 2000, "frequency_hz": 100,
                                            "axes": ["x"]}, "blocks": [{"type": "spectral-analysis"}]})
    t = np.arange(1000) / 100
    sig = np.sin(2 * np.pi * 2.0 * t)[:, None] + 0.01 * np.random.default_rng(0).standard_normal((1000, 1))
    ch = autotune_params(spec, windows_for(spec, sig, 100.0))[0]
    assert ch["filter-type"] == "low" and 2.0 <= ch["filter-cutoff"] < 10.0
    audio = ImpulseSpec.from_dict({"input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": 16000,
                                             "axes": ["a"]}, "blocks": [{"type": "mfcc"}, {"type": "mfe"}]})
    t = np.arange(16000) / 16000
    x = (np.sin(2 * np.pi * 800 * t) + 0.001 * np.random.default_rng(1).standard_normal(16000))[:, None]
    ch = autotune_params(audio, windows_for(audio, x, 16000.0))
    assert ch[0]["frame_length"] == 0.02 and ch[0]["fft_length"] == 512
    assert ch[0]["high_frequency"] is not None and 800 < ch[0]["high_frequency"] <= 8000
    assert -120 <= ch[1]["noise_floor_db"] <= -20
    tuned = ImpulseSpec.from_dict({**audio.to_dict(), "blocks": [
        {**b.to_dict(), "params": {**b.params, **ch[i]}} for i, b in enumerate(audio.blocks)]})
    validate_impulse(tuned)

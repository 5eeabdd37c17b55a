"""Implementation versions of processing blocks: registry, parameter names and values, impulse storage."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.dsp.base import CRISP
from crisp_eml.dsp.defaults import new_block
from crisp_eml.dsp.pipeline import apply_impulse, validate_impulse
from crisp_eml.dsp.registry import BLOCKS, block_versions, latest_version, make_block


def _spec(block: dict) -> ImpulseSpec:
    return ImpulseSpec.from_dict({"input": {"type": "time-series", "window_size_ms": 1000, "window_increase_ms": 500,
                                            "frequency_hz": 50, "axes": ["x", "y"]}, "blocks": [block]})


def test_every_block_offers_crisp_last_and_latest_is_a_number_where_edge_impulse_has_it() -> None:
    for t in BLOCKS:
        vs = block_versions(t)
        assert vs[-1] == CRISP
        assert all(isinstance(v, int) for v in vs[:-1]) and vs[:-1] == sorted(vs[:-1])
        assert latest_version(t) == (vs[-2] if len(vs) > 1 else CRISP)
    assert block_versions("raw") == [1, CRISP] and block_versions("flatten") == [1, CRISP]
    assert block_versions("image") == [CRISP]


def test_unversioned_block_is_the_crisp_variant_and_unknown_versions_are_refused() -> None:
    assert make_block("raw").implementation_version == CRISP
    assert make_block("raw", version=1).implementation_version == 1
    with pytest.raises(InputError, match="no implementation version 7") as exc:
        make_block("raw", version=7)
    assert exc.value.field == "implementation_version"
    with pytest.raises(InputError, match="no implementation version 2"):
        make_block("image", version=2)


def test_parameter_names_take_dashes_or_underscores_and_string_values_are_coerced() -> None:
    b = make_block("flatten", {"scale_axes": "2", "rms": "false", "average": "true"}, version=1)
    assert b.params["scale-axes"] == 2.0 and b.params["rms"] is False and b.params["average"] is True
    w = np.arange(8, dtype=np.float32).reshape(1, 4, 2)
    assert make_block("raw", {"scale_axes": "0.5"}).transform(w, 10.0)[0, 1, 1] == pytest.approx(1.5)
    # a value that is not a number stays as given and fails validation naming the parameter
    bad = make_block("raw", {"scale-axes": "lots"})
    with pytest.raises(InputError) as exc:
        bad.validate(4, 2, 10.0)
    assert exc.value.field == "scale-axes"


def test_impulses_without_a_version_keep_their_hash_and_versions_round_trip() -> None:
    old = _spec({"name": "r", "type": "raw", "params": {}})
    assert "implementation_version" not in old.blocks[0].to_dict()
    assert old.blocks[0].implementation_version is None
    v1 = _spec({"name": "r", "type": "raw", "params": {}, "implementation_version": 1})
    assert v1.blocks[0].implementation_version == 1 and v1.hash != old.hash
    assert ImpulseSpec.from_dict(v1.to_dict()).hash == v1.hash
    w = np.random.default_rng(0).normal(size=(2, 50, 2)).astype(np.float32)
    np.testing.assert_array_equal(apply_impulse(old, w), apply_impulse(v1, w))


@pytest.mark.parametrize("bad", [0, -1, True, "4", 2.0, "ei"])
def test_a_malformed_version_names_the_field(bad: object) -> None:
    with pytest.raises(InputError) as exc:
        _spec({"name": "r", "type": "raw", "implementation_version": bad})
    assert exc.value.field == "blocks.0.implementation_version"


def test_a_version_the_block_lacks_is_refused_at_validation() -> None:
    spec = _spec({"name": "r", "type": "raw", "implementation_version": 9})
    with pytest.raises(InputError) as exc:
        validate_impulse(spec)
    assert exc.value.field == "blocks.0.implementation_version"


def test_new_blocks_take_the_latest_version_and_audio_blocks_see_int16_values() -> None:
    assert new_block("raw", {}, audio=False)["implementation_version"] == latest_version("raw") == 1
    for t in ("spectrogram", "mfe", "mfcc"):
        d = new_block(t, {}, audio=True)
        assert d["implementation_version"] == latest_version(t)
        assert ("input_scale" in d["params"]) == isinstance(latest_version(t), int)
        assert "input_scale" not in new_block(t, {}, audio=False)["params"]

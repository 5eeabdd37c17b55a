"""The synthetic ``shapes`` image dataset: deterministic, the right files, and classes that differ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.image import parse_image
from crisp_eml.data.synth import SHAPE_LABELS, shape_image, write_shapes


def test_shapes_are_deterministic_pngs(tmp_path: Path) -> None:
    a = write_shapes(tmp_path / "a", seed=3, per_class=3)
    b = write_shapes(tmp_path / "b", seed=3, per_class=3)
    write_shapes(tmp_path / "c", seed=4, per_class=3)
    assert [f.relative for f in a] == [f.relative for f in b] and len(a) == 12
    assert {f.label for f in a} == set(SHAPE_LABELS)
    same = [(tmp_path / "a" / f.relative).read_bytes() == (tmp_path / "b" / f.relative).read_bytes() for f in a]
    assert all(same)
    assert any((tmp_path / "a" / f.relative).read_bytes() != (tmp_path / "c" / f.relative).read_bytes() for f in a)
    parsed = parse_image((tmp_path / "a" / "triangle.002.png").read_bytes(), "triangle.002.png")
    assert parsed.kind == "image" and parsed.array.shape == (32, 32, 3)


def test_shape_masks_have_the_expected_geometry() -> None:
    """The shape covers roughly its analytic area; ``empty`` has no region far from the background."""
    fill = {}
    for label in SHAPE_LABELS:
        rng = np.random.default_rng(11)
        img = shape_image(label, rng).astype(np.float64)
        lum = img.mean(axis=2)
        med = np.median(lum)
        fill[label] = float((np.abs(lum - med) > 60).mean())
    assert fill["empty"] < 0.02
    assert fill["triangle"] < fill["circle"] < fill["square"] + 0.05
    assert min(fill["circle"], fill["square"], fill["triangle"]) > 0.1


def test_shapes_reject_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        write_shapes(tmp_path, per_class=0)
    with pytest.raises(InputError):
        shape_image("hexagon", np.random.default_rng(0))

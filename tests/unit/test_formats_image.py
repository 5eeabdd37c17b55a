"""Image parser: JPEG/PNG to uint8 HxWxC (RGB or L), corrupt files rejected, PNG writer lossless."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.image import parse_image, write_png


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_png_rgb_and_gray_and_rgba() -> None:
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    p = parse_image(encode(Image.fromarray(rgb), "PNG"), "cat.1.png")
    assert p.kind == "image" and p.array.shape == (4, 5, 3) and np.array_equal(p.array, rgb)
    g = parse_image(encode(Image.fromarray(rgb[:, :, 0]), "PNG"), "g.png")
    assert g.array.shape == (4, 5, 1) and [s.name for s in g.sensors] == ["L"]
    rgba = parse_image(encode(Image.fromarray(np.dstack([rgb, rgb[:, :, :1]])), "PNG"), "a.png")
    assert rgba.array.shape == (4, 5, 3)


def test_jpeg_decodes_to_rgb() -> None:
    p = parse_image(encode(Image.new("RGB", (8, 6), (200, 10, 10)), "JPEG"), "x.jpg")
    assert p.array.shape == (6, 8, 3) and p.array.dtype == np.uint8 and abs(int(p.array[0, 0, 0]) - 200) < 8


@pytest.mark.parametrize("cut", [0, 10, 40, -20])
def test_corrupt_image(cut: int) -> None:
    good = encode(Image.new("RGB", (16, 16), (1, 2, 3)), "PNG")
    bad = b"garbage" if cut == 0 else good[:cut]
    with pytest.raises(InputError, match="corrupt or unreadable image") as info:
        parse_image(bad, "dog.3.png")
    assert "dog.3.png" in str(info.value)


def test_write_png_lossless() -> None:
    a = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    assert np.array_equal(parse_image(write_png(a), "a.png").array, a)
    g = a[:, :, :1].copy()
    assert np.array_equal(parse_image(write_png(g), "a.png").array, g)

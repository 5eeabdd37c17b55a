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


def test_sensors_and_format_are_reported() -> None:
    from crisp_eml.core.sample import Sensor

    rgb = parse_image(encode(Image.new("RGB", (3, 2), (1, 2, 3)), "PNG"), "c.png")
    assert rgb.sensors == (Sensor("R"), Sensor("G"), Sensor("B"))
    assert rgb.metadata == {"image_format": "PNG"} and rgb.frequency_hz is None
    jpg = parse_image(encode(Image.new("RGB", (3, 2), (1, 2, 3)), "JPEG"), "c.jpg")
    assert jpg.metadata == {"image_format": "JPEG"}
    one = parse_image(encode(Image.new("L", (1, 1), 5), "PNG"), "one.png")  # a single pixel is an image
    assert one.array.tolist() == [[[5]]] and one.sensors == (Sensor("L"),)


@pytest.mark.parametrize(("mode", "color", "expected"), [("1", 1, 255), ("LA", (7, 9), 7), ("L", 42, 42)])
def test_grayscale_modes_keep_one_channel(mode: str, color: object, expected: int) -> None:
    p = parse_image(encode(Image.new(mode, (3, 2), color), "PNG"), "g.png")  # type: ignore[arg-type]
    assert p.array.shape == (2, 3, 1) and p.array.dtype == np.uint8 and (p.array == expected).all()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_palette_with_transparency_converts_despite_pillow_warning() -> None:
    """Pillow warns when converting such a palette image: a warning is not a corrupt file."""
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] * 128)
    p = parse_image(_png(img, transparency=b"\x00\x80"), "p.png")
    assert p.array.shape == (4, 4, 3) and p.array[0, 0].tolist() == [255, 0, 0]


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_truncated_files_that_pillow_accepts_are_refused() -> None:
    png = encode(Image.new("RGB", (16, 16), (1, 2, 3)), "PNG")
    assert parse_image(png + b"\0" * 56, "a.png").array.shape == (16, 16, 3)  # IEND within the last 64 bytes
    for bad in (png + b"\0" * 57,):
        with pytest.raises(InputError) as info:
            parse_image(bad, "a.png")
        assert str(info.value) == "a.png: corrupt or unreadable image (truncated PNG: no IEND chunk)"
        assert info.value.source == "a.png"
    jpg = encode(Image.new("RGB", (8, 6), (200, 10, 10)), "JPEG")
    assert parse_image(jpg + b"\0" * 4094, "b.jpg").array.shape == (6, 8, 3)  # EOI within the last 4096 bytes
    for bad in (jpg[:-2], jpg + b"\0" * 4095):
        with pytest.raises(InputError) as info:
            parse_image(bad, "b.jpg")
        assert str(info.value) == "b.jpg: corrupt or unreadable image (truncated JPEG: no end-of-image marker)"
        assert info.value.source == "b.jpg"


def test_pixel_limit_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    from crisp_eml.data.formats import image

    monkeypatch.setattr(image, "MAX_PIXELS", 20)
    assert parse_image(encode(Image.new("L", (5, 4)), "PNG"), "ok.png").array.shape == (4, 5, 1)
    with pytest.raises(InputError) as info:
        parse_image(encode(Image.new("L", (7, 3)), "PNG"), "big.png")
    assert str(info.value) == "big.png: image too large (7x3)" and info.value.source == "big.png"


def test_real_pixel_limit_checked_before_decoding() -> None:
    huge = encode(Image.new("1", (8001, 8000)), "PNG")  # 64 008 000 pixels, a few kB compressed
    with pytest.raises(InputError, match=r"^huge.png: image too large \(8001x8000\)$"):
        parse_image(huge, "huge.png")


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # Pillow warns above this, errors above twice it
    with pytest.raises(InputError, match=r"^bomb.png: corrupt or unreadable image \(DecompressionBombWarning: "):
        parse_image(encode(Image.new("L", (4, 4)), "PNG"), "bomb.png")


def test_decoder_failure_names_the_error_and_cuts_long_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError) as info:
        parse_image(b"garbage", "g.png")
    assert str(info.value).startswith("g.png: corrupt or unreadable image (UnidentifiedImageError: cannot identify")

    def fail(*_: object, **__: object) -> None:
        raise ValueError("x" * 500)

    monkeypatch.setattr(Image, "open", fail)
    with pytest.raises(InputError) as info:
        parse_image(b"whatever", "v.png")
    assert str(info.value) == f"v.png: corrupt or unreadable image (ValueError: {'x' * 120})"


def test_write_png_converts_integer_arrays() -> None:
    a = np.arange(2 * 3 * 3, dtype=np.int64).reshape(2, 3, 3) * 10
    assert parse_image(write_png(a), "i.png").array.tolist() == a.tolist()


def test_decoder_yielding_no_pixels_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow refuses zero-sized PNG/JPEG headers itself; any other decoder that yields nothing is caught too."""
    monkeypatch.setattr(Image.Image, "convert", lambda self, mode: Image.new(mode, (0, 3)))
    with pytest.raises(InputError) as info:
        parse_image(encode(Image.new("L", (2, 2)), "PNG"), "empty.png")
    assert str(info.value) == "empty.png: image has no pixels" and info.value.source == "empty.png"

"""JPEG/PNG images via Pillow, stored as uint8 ``[height, width, channels]``.

Grayscale (``L`` and 1-bit) images keep one channel ``L``; everything else (palette, RGBA, CMYK,
16-bit) is converted to ``RGB``, dropping alpha. The file is verified first (PNG chunk CRCs, the PNG
``IEND`` chunk, the JPEG end-of-image marker) because Pillow decodes some truncated files silently;
any decoder failure becomes an ``InputError``.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.parsed import ParsedSample

MAX_PIXELS = 64_000_000


def image_sensors(channels: int) -> tuple[Sensor, ...]:
    return (Sensor("L"),) if channels == 1 else (Sensor("R"), Sensor("G"), Sensor("B"))


def parse_image(data: bytes, name: str) -> ParsedSample:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # chunk CRCs and structure (PNG), before decoding anything
                fmt = probe.format
            if fmt == "PNG" and b"IEND" not in data[-64:]:
                raise InputError("corrupt or unreadable image (truncated PNG: no IEND chunk)", source=name)
            if fmt == "JPEG" and b"\xff\xd9" not in data[-4096:]:
                raise InputError("corrupt or unreadable image (truncated JPEG: no end-of-image marker)", source=name)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise InputError(f"image too large ({img.width}x{img.height})", source=name)
                img.load()
                mode = "L" if img.mode in ("L", "1", "LA") else "RGB"
                arr = np.asarray(img.convert(mode), dtype=np.uint8)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on corrupt input
        raise InputError(f"corrupt or unreadable image ({type(exc).__name__}: {str(exc)[:120]})", source=name) from exc
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.size == 0:
        raise InputError("image has no pixels", source=name)
    return ParsedSample(array=np.ascontiguousarray(arr), kind="image", sensors=image_sensors(arr.shape[2]),
                        frequency_hz=None, metadata={"image_format": fmt})


def write_png(array: np.ndarray) -> bytes:
    """Serialize uint8 ``[h, w, 1|3]`` losslessly as PNG."""
    from PIL import Image

    a = np.asarray(array, dtype=np.uint8)
    img = Image.fromarray(np.ascontiguousarray(a[:, :, 0]) if a.shape[2] == 1 else a)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

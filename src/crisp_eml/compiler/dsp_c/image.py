"""C for the ``image`` block: pixels 0..255 scaled to 0..1, optionally converted to grayscale.

Mirrors :class:`crisp_eml.dsp.image.ImageBlock` in float32: ``out = pixel / 255`` per value, or with
``channels = Grayscale`` on RGB input ``out = (0.299 R + 0.587 G + 0.114 B) / 255`` (the same float32 luma
weights, summed R, G, B in that order, then divided, not multiplied by a reciprocal). The device delivers
frames already at the impulse's width x height: resizing (``resize_mode``) stays on the host side.
"""

from __future__ import annotations

from crisp_eml.compiler.dsp_c.emit import Ctx, flit
from crisp_eml.dsp.base import Block
from crisp_eml.dsp.image import LUMA, ImageBlock


def render_image(ctx: Ctx, blk: Block, pixels: int, offset: int) -> int:
    """Append the block's loop; ``pixels`` = width x height, ``ctx.na`` = width x input channels."""
    assert isinstance(blk, ImageBlock)
    cin = int(blk.params["input_channels"])
    n = pixels * cin
    if blk.params["channels"] == "Grayscale" and cin == 3:
        r, g, b = (flit(float(v)) for v in LUMA)
        ctx.line(f"    for (t = 0; t < {pixels}; t++) {{")
        ctx.line(f"        features[{offset} + t] = ({r} * raw[3 * t] + {g} * raw[3 * t + 1] + {b} * raw[3 * t + 2])"
                 " / 255.0f;")
        ctx.line("    }")
        return offset + pixels
    ctx.line(f"    for (t = 0; t < {n}; t++) {{ features[{offset} + t] = raw[t] / 255.0f; }}")
    return offset + n

"""The ``image`` block: pixels scaled to 0..1, optionally converted to grayscale.

Input windows are ``[n, height, width, channels]`` with values 0..255 (already resized by the input
block, see :func:`crisp_eml.core.impulse.resize_image`). ``out = pixel / 255``; with ``channels`` =
``Grayscale`` and RGB input, ``out = (0.299 R + 0.587 G + 0.114 B) / 255``. ``channels`` = ``same`` keeps
the input's channels. ``output_shape(window_len=height, n_axes=width*...)``: for this block the pipeline
passes ``window_len`` = height and ``n_axes`` = width, and the channel count comes from the parameters.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ImageBlock(Block):
    type = "image"
    defaults: ClassVar[dict[str, Any]] = {"channels": "same", "input_channels": 3}

    def out_channels(self) -> int:
        ch = self.params["channels"]
        if ch == "Grayscale":
            return 1
        return int(self.params["input_channels"])

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._choice("channels", ("same", "RGB", "Grayscale"))
        ic = self._int("input_channels", lo=1, hi=3)
        if self.params["channels"] == "RGB" and ic != 3:
            raise InputError("RGB output needs an RGB input block", field="channels")

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return (window_len, n_axes, self.out_channels())

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim != 4:
            raise InputError(f"image windows are [n, h, w, c], got shape {x.shape}", field="windows")
        if self.params["channels"] == "Grayscale" and x.shape[-1] == 3:
            x = (x @ LUMA)[..., None]
        return (x / np.float32(255.0)).astype(np.float32)

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        n = window_len * n_axes * int(self.params["input_channels"])
        return {"ops": 2 * n, "working_bytes": 4 * window_len * n_axes * self.out_channels()}

"""The impulse spec: input block (windowing or image size) + processing blocks + learning block.

Pure and declarative. An :class:`ImpulseSpec` round-trips through :meth:`ImpulseSpec.to_dict` /
:meth:`ImpulseSpec.from_dict` (which validates the structure and raises :class:`InputError` naming the
field path); its :attr:`ImpulseSpec.hash` (sha256 of canonical JSON) is part of every run's lineage.
Whether block parameters make sense for the input (cutoff below Nyquist...) is checked by
``crisp_eml.dsp.pipeline.validate_impulse``, since only the DSP layer knows the blocks.

Window extraction (:func:`windows_for`) follows Edge Impulse semantics: windows of
``round(window_size_ms * f / 1000)`` samples start at 0 and advance by
``round(window_increase_ms * f / 1000)`` samples while they fit entirely in the signal; a signal shorter
than one window gives one zero-padded window when ``pad_zeros`` is true, else no window.

``input.length_mode`` says how a recording becomes windows: ``window`` (the default, above), ``pad``
(exactly one window per recording: its first ``window_len`` rows, zero-padded at the end) or ``resample``
(exactly one window: the recording linearly resampled to ``window_len`` rows by :func:`resample_rows`,
float32 arithmetic the C library reproduces bit for bit). In ``pad``/``resample`` modes the recording is
not resampled to ``frequency_hz`` first and ``window_increase_ms`` is ignored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError

RESIZE_MODES = ("squash", "fit-short", "fit-long", "crop")
IMAGE_CHANNELS = ("RGB", "Grayscale")
LENGTH_MODES = ("window", "pad", "resample")
#: Longest input window (and step) an impulse accepts, in rows (samples) at ``frequency_hz``. How long a
#: window may be in time follows the data (``crisp_eml.workspace.impulse`` checks the project's recordings).
MAX_WINDOW_ROWS = 1_000_000
#: Window length (ms) a project accepts whatever its recordings: one hour (longer when recordings are).
MAX_WINDOW_MS = 3_600_000.0


@dataclass(frozen=True)
class TimeSeriesInput:
    window_size_ms: float
    window_increase_ms: float
    frequency_hz: float
    axes: tuple[str, ...]
    pad_zeros: bool = True
    length_mode: str = "window"
    kind: str = "time-series"

    @property
    def window_len(self) -> int:
        return max(1, int(round(self.window_size_ms * self.frequency_hz / 1000.0)))

    @property
    def increase_len(self) -> int:
        return max(1, int(round(self.window_increase_ms * self.frequency_hz / 1000.0)))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "time-series", "window_size_ms": self.window_size_ms,
                             "window_increase_ms": self.window_increase_ms, "frequency_hz": self.frequency_hz,
                             "pad_zeros": self.pad_zeros, "axes": list(self.axes)}
        if self.length_mode != "window":  # omitted by default, so existing impulse hashes do not change
            d["length_mode"] = self.length_mode
        return d


@dataclass(frozen=True)
class ImageInput:
    width: int
    height: int
    resize_mode: str = "squash"
    channels: str = "RGB"
    kind: str = "image"

    @property
    def axes(self) -> tuple[str, ...]:
        return ("R", "G", "B") if self.channels == "RGB" else ("L",)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "image", "width": self.width, "height": self.height, "resize_mode": self.resize_mode,
                "channels": self.channels}


InputSpec = TimeSeriesInput | ImageInput


@dataclass(frozen=True)
class BlockSpec:
    """One processing block: ``type`` (registry name), a display ``name``, its ``params``, the input
    ``axes`` it reads (``None`` = every input axis) and its ``implementation_version``: an Edge Impulse
    version number, ``"crisp"`` (crisp-eml's own variant) or ``None`` (stored before versions existed: the
    crisp-eml variant; omitted from ``to_dict`` so those impulses keep their hash)."""

    name: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    axes: tuple[str, ...] | None = None
    implementation_version: int | str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "params": dict(self.params),
                             "axes": list(self.axes) if self.axes is not None else None}
        if self.implementation_version is not None:
            d["implementation_version"] = self.implementation_version
        return d


@dataclass(frozen=True)
class ImpulseSpec:
    input: InputSpec
    blocks: list[BlockSpec]
    learning: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input.to_dict(), "blocks": [b.to_dict() for b in self.blocks],
                "learning": self.learning}

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> ImpulseSpec:
        """Validate the structure of ``d`` and build a spec; ``InputError`` names the bad field path."""
        def fail(reason: str, path: str) -> InputError:
            return InputError(reason, source=source, field=path)

        if not isinstance(d, dict):
            raise fail("an impulse spec is a JSON object", "")
        unknown = set(d) - {"input", "blocks", "learning"}
        if unknown:
            raise fail(f"unknown key(s) {sorted(unknown)}", ",".join(sorted(unknown)))
        inp = _parse_input(d.get("input"), fail)
        raw_blocks = d.get("blocks", [])
        if not isinstance(raw_blocks, list) or not raw_blocks:
            raise fail("an impulse needs a non-empty list of processing blocks", "blocks")
        blocks: list[BlockSpec] = []
        names: set[str] = set()
        for i, b in enumerate(raw_blocks):
            p = f"blocks.{i}"
            if not isinstance(b, dict):
                raise fail("a block is a JSON object", p)
            extra = set(b) - {"name", "type", "params", "axes", "implementation_version"}
            if extra:
                raise fail(f"unknown key(s) {sorted(extra)}", f"{p}.{sorted(extra)[0]}")
            btype = b.get("type")
            if not isinstance(btype, str) or not btype:
                raise fail("block type must be a non-empty string", f"{p}.type")
            name = b.get("name") or btype
            if not isinstance(name, str):
                raise fail("block name must be a string", f"{p}.name")
            if name in names:
                raise fail(f"duplicate block name {name!r}", f"{p}.name")
            names.add(name)
            params = b.get("params") or {}
            if not isinstance(params, dict):
                raise fail("block params must be a JSON object", f"{p}.params")
            axes = b.get("axes")
            if axes is not None:
                if not isinstance(axes, list) or not axes or not all(isinstance(a, str) for a in axes):
                    raise fail("axes must be a non-empty list of axis names", f"{p}.axes")
                missing = [a for a in axes if a not in inp.axes]
                if missing:
                    raise fail(f"axis {missing[0]!r} is not an input axis {list(inp.axes)}", f"{p}.axes")
                axes = tuple(axes)
            version = b.get("implementation_version")
            if version is not None and not (version == "crisp" or (isinstance(version, int)
                                                                   and not isinstance(version, bool) and version >= 1)):
                raise fail(f"implementation_version is an Edge Impulse version number (>= 1) or \"crisp\", "
                           f"got {version!r}", f"{p}.implementation_version")
            blocks.append(BlockSpec(name=name, type=btype, params=dict(params), axes=axes,
                                    implementation_version=version))
        learning = d.get("learning")
        if learning is not None and not isinstance(learning, dict):
            raise fail("learning must be a JSON object or null", "learning")
        return cls(input=inp, blocks=blocks, learning=learning)


def _num(v: Any, path: str, fail: Any, *, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise fail(f"must be a number, got {v!r}", path)
    if not math.isfinite(v):
        raise fail(f"must be a finite number, got {v!r}", path)
    if positive and not v > 0:
        raise fail(f"must be > 0, got {v!r}", path)
    return float(v)


def _parse_input(d: Any, fail: Any) -> InputSpec:
    if not isinstance(d, dict):
        raise fail("the input block is a JSON object", "input")
    kind = d.get("type", "time-series")
    if kind == "time-series":
        extra = set(d) - {"type", "window_size_ms", "window_increase_ms", "frequency_hz", "pad_zeros", "axes",
                          "length_mode"}
        if extra:
            raise fail(f"unknown key(s) {sorted(extra)}", f"input.{sorted(extra)[0]}")
        for k in ("window_size_ms", "frequency_hz", "axes"):
            if k not in d:
                raise fail("required", f"input.{k}")
        size = _num(d["window_size_ms"], "input.window_size_ms", fail)
        inc = _num(d.get("window_increase_ms", size), "input.window_increase_ms", fail)
        freq = _num(d["frequency_hz"], "input.frequency_hz", fail)
        period_ms = 1000.0 / freq
        rows = size * freq / 1000.0
        if rows < 1.0 - 1e-9:
            raise fail(f"a {size:g} ms window is shorter than one sample period ({period_ms:g} ms at {freq:g} Hz): "
                       f"it would hold no sample", "input.window_size_ms")
        for ms, k in ((size, "window_size_ms"), (inc, "window_increase_ms")):
            if ms * freq / 1000.0 > MAX_WINDOW_ROWS:
                raise fail(f"must be at most {MAX_WINDOW_ROWS:,} samples ({MAX_WINDOW_ROWS * period_ms:g} ms at "
                           f"{freq:g} Hz), got {ms:g} ms", f"input.{k}")
        mode = d.get("length_mode", "window")
        if mode not in LENGTH_MODES:
            raise fail(f"must be one of {list(LENGTH_MODES)}, got {mode!r}", "input.length_mode")
        axes = d["axes"]
        if not isinstance(axes, list) or not axes or not all(isinstance(a, str) and a for a in axes):
            raise fail("must be a non-empty list of axis names", "input.axes")
        if len(set(axes)) != len(axes):
            raise fail("axis names must be distinct", "input.axes")
        pad = d.get("pad_zeros", True)
        if not isinstance(pad, bool):
            raise fail("must be true or false", "input.pad_zeros")
        return TimeSeriesInput(window_size_ms=size, window_increase_ms=inc, frequency_hz=freq,
                               axes=tuple(axes), pad_zeros=pad, length_mode=mode)
    if kind == "image":
        extra = set(d) - {"type", "width", "height", "resize_mode", "channels"}
        if extra:
            raise fail(f"unknown key(s) {sorted(extra)}", f"input.{sorted(extra)[0]}")
        dims = {}
        for k in ("width", "height"):
            v = d.get(k)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096:
                raise fail(f"must be an integer in 1..4096, got {v!r}", f"input.{k}")
            dims[k] = v
        mode = d.get("resize_mode", "squash")
        if mode not in RESIZE_MODES:
            raise fail(f"must be one of {list(RESIZE_MODES)}, got {mode!r}", "input.resize_mode")
        ch = d.get("channels", "RGB")
        if ch not in IMAGE_CHANNELS:
            raise fail(f"must be one of {list(IMAGE_CHANNELS)}, got {ch!r}", "input.channels")
        return ImageInput(width=dims["width"], height=dims["height"], resize_mode=mode, channels=ch)
    raise fail(f"input type must be 'time-series' or 'image', got {kind!r}", "input.type")


# -- windowing ------------------------------------------------------------------------------------------
def resample(signal: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Linear-interpolation resampling of ``[length, axes]`` from ``from_hz`` to ``to_hz``."""
    if abs(from_hz - to_hz) < 1e-9 or signal.shape[0] < 2:
        return signal
    n_out = max(1, int(round(signal.shape[0] * to_hz / from_hz)))
    t_in = np.arange(signal.shape[0]) / from_hz
    t_out = np.arange(n_out) / to_hz
    return np.stack([np.interp(t_out, t_in, signal[:, a]) for a in range(signal.shape[1])], axis=1).astype(
        np.float32)


def resample_rows(x: np.ndarray, m: int) -> np.ndarray:
    """``[n, axes]`` linearly resampled to ``[m, axes]`` in float32 (the ``resample`` length mode).

    The arithmetic is the contract the C library reproduces bit for bit, every operation in float32, in
    this order: ``n == 1`` repeats the row; ``m == 1`` keeps row 0; else ``step = f32(n - 1) / f32(m - 1)``
    and for each output row ``i``: ``pos = f32(i) * step``, ``j = min(int(pos), n - 2)``,
    ``frac = pos - f32(j)``, ``y = x[j] + (x[j + 1] - x[j]) * frac``.
    """
    if m < 1:
        raise InputError(f"cannot resample to {m} rows", field="input.window_size_ms")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    if n == 0:
        raise InputError("cannot resample an empty recording", field="signal")
    if n == 1:
        return np.repeat(x[:1], m, axis=0)
    if m == 1:
        return x[:1].copy()
    step = np.float32(n - 1) / np.float32(m - 1)
    pos = np.arange(m, dtype=np.float32) * step  # float32 * float32, rounded once like the C
    j = np.minimum(pos.astype(np.int64), n - 2)
    frac = (pos - j.astype(np.float32))[:, None]
    lo, hi = x[j], x[j + 1]
    return (lo + (hi - lo) * frac).astype(np.float32)


def window_starts(length: int, window_len: int, increase_len: int, pad_zeros: bool) -> list[int]:
    """Start indices of the windows of a signal of ``length`` samples (Edge Impulse semantics)."""
    if length < window_len:
        return [0] if pad_zeros and length > 0 else []
    return list(range(0, length - window_len + 1, increase_len))


def windows_for(
    spec: ImpulseSpec, signal: np.ndarray, frequency_hz: float | None = None,
    signal_axes: Sequence[str] | None = None,
) -> np.ndarray:
    """Cut ``signal`` into the impulse's windows.

    Time series: ``signal`` is ``[length, axes]`` sampled at ``frequency_hz`` (resampled linearly to the
    spec's frequency when different, in ``window`` length mode only); ``signal_axes`` names its columns
    (then the spec's axes are picked in spec order; otherwise the columns must already be the spec's
    axes). Returns float32 ``[n_windows, window_len, n_axes]``; in ``pad``/``resample`` length modes
    exactly one window per non-empty recording (see the module docstring).

    Image: ``signal`` is ``[h, w, c]`` (uint8 or float); returns float32 ``[1, height, width, c]`` with
    values 0..255 resized per ``resize_mode`` (see :func:`resize_image`), ``c`` = 3 (RGB) or 1.
    """
    inp = spec.input
    if isinstance(inp, ImageInput):
        return resize_image(signal, inp)[None].astype(np.float32)
    sig = np.asarray(signal, dtype=np.float32)
    if sig.ndim == 1:
        sig = sig[:, None]
    if sig.ndim != 2:
        raise InputError(f"a time-series signal is [length, axes], got shape {sig.shape}", field="signal")
    if signal_axes is not None:
        names = list(signal_axes)
        missing = [a for a in inp.axes if a not in names]
        if missing:
            raise InputError(f"signal has no axis {missing[0]!r} (it has {names})", field="input.axes")
        sig = sig[:, [names.index(a) for a in inp.axes]]
    elif sig.shape[1] != len(inp.axes):
        raise InputError(f"signal has {sig.shape[1]} axes, the impulse expects {len(inp.axes)}",
                         field="input.axes")
    wl, inc = inp.window_len, inp.increase_len
    if inp.length_mode != "window":
        if sig.shape[0] == 0:
            return np.zeros((0, wl, sig.shape[1]), dtype=np.float32)
        if inp.length_mode == "resample":
            return resample_rows(sig, wl)[None]
        one = np.zeros((1, wl, sig.shape[1]), dtype=np.float32)
        chunk = sig[:wl]
        one[0, :chunk.shape[0]] = chunk
        return one
    if frequency_hz is not None:
        sig = resample(sig, float(frequency_hz), inp.frequency_hz)
    starts = window_starts(sig.shape[0], wl, inc, inp.pad_zeros)
    out = np.zeros((len(starts), wl, sig.shape[1]), dtype=np.float32)
    for i, s in enumerate(starts):
        chunk = sig[s:s + wl]
        out[i, :chunk.shape[0]] = chunk
    return out


def resize_image(image: np.ndarray, inp: ImageInput) -> np.ndarray:
    """Resize ``[h, w, c]`` to ``[height, width, C]`` (bilinear via Pillow, values 0..255 float32).

    ``squash``: stretch to the target; ``fit-short``: scale so the short side fits, centre-crop the rest;
    ``fit-long``: scale so the long side fits, centre on black; ``crop``: centre-crop/pad without scaling.
    Grayscale uses ITU-R 601-2 luma (Pillow ``convert('L')``).
    """
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    mode = "L" if arr.shape[2] == 1 else "RGB"
    img = Image.fromarray(arr[:, :, 0] if mode == "L" else arr[:, :, :3], mode=mode)
    img = img.convert("L" if inp.channels == "Grayscale" else "RGB")
    w, h = img.size
    tw, th = inp.width, inp.height
    if inp.resize_mode == "squash":
        img = img.resize((tw, th), Image.Resampling.BILINEAR)
    elif inp.resize_mode in ("fit-short", "fit-long"):
        scale = (max if inp.resize_mode == "fit-short" else min)(tw / w, th / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BILINEAR)
        img = _center(img, tw, th)
    else:
        img = _center(img, tw, th)
    out = np.asarray(img, dtype=np.float32)
    return out[:, :, None] if out.ndim == 2 else out


def _center(img: Any, tw: int, th: int) -> Any:
    from PIL import Image

    canvas = Image.new(img.mode, (tw, th))
    w, h = img.size
    canvas.paste(img, ((tw - w) // 2, (th - h) // 2))
    return canvas

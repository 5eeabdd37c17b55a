"""Applying a whole impulse: windows -> features (each block's output flattened, concatenated in block order).

Pure helpers the workspace, the trainer and the compiler share:

- :func:`validate_impulse` checks every block's parameters against the input (``InputError`` with the
  path ``blocks.<i>.params.<name>``);
- :func:`apply_impulse` maps ``[n, window_len, axes]`` windows (``[n, h, w, c]`` for images) to float32
  ``[n, n_features]``; block ``i`` reads the input axes listed in its ``axes`` (all when ``None``);
- :func:`features_from_signal` goes from one raw signal to features (windowing included);
- :func:`feature_names`, :func:`feature_shape` and :func:`impulse_cost` describe the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import BlockSpec, ImageInput, ImpulseSpec, TimeSeriesInput, windows_for
from crisp_eml.dsp.base import Block
from crisp_eml.dsp.registry import make_block


def _geometry(spec: ImpulseSpec) -> tuple[int, float]:
    """(window_len, frequency) of the input block; for images (height, 0)."""
    inp = spec.input
    if isinstance(inp, ImageInput):
        return inp.height, 0.0
    return inp.window_len, inp.frequency_hz


def _axes_of(spec: ImpulseSpec, b: BlockSpec) -> list[int]:
    names = list(spec.input.axes)
    return list(range(len(names))) if b.axes is None else [names.index(a) for a in b.axes]


def block_instance(spec: ImpulseSpec, b: BlockSpec) -> Block:
    params = dict(b.params)
    if b.type == "image":
        params.setdefault("input_channels", len(spec.input.axes))
    blk = make_block(b.type, params, b.implementation_version)
    blk.axis_names = [spec.input.axes[i] for i in _axes_of(spec, b)]
    return blk


def _block_in(spec: ImpulseSpec, b: BlockSpec) -> tuple[int, int, float]:
    inp = spec.input
    wl, fs = _geometry(spec)
    if isinstance(inp, ImageInput):
        return inp.height, inp.width, fs
    return wl, len(_axes_of(spec, b)), fs


#: Fewest rows a window needs for each block type to compute anything but constants (1 for the rest).
MIN_WINDOW_ROWS = {"flatten": 2, "spectral-analysis": 2}


def validate_impulse(spec: ImpulseSpec) -> None:
    """Every block exists, fits the input type and has parameters valid for the input geometry."""
    image = isinstance(spec.input, ImageInput)
    for i, b in enumerate(spec.blocks):
        prefix = f"blocks.{i}"
        need = MIN_WINDOW_ROWS.get(b.type, 1)
        inp = spec.input
        if isinstance(inp, TimeSeriesInput) and inp.window_len < need:
            raise InputError(f"block '{b.type}' needs windows of at least {need} samples, the window holds "
                             f"{inp.window_len} (at {inp.frequency_hz:g} Hz); lengthen the window",
                             field="input.window_size_ms")
        try:
            blk = block_instance(spec, b)
        except InputError as exc:
            where = exc.field if exc.field in ("type", "implementation_version") else f"params.{exc.field}"
            raise InputError(exc.reason, field=f"{prefix}.{where}") from exc
        if image != (b.type == "image"):
            raise InputError(f"block '{b.type}' does not fit a {'image' if image else 'time-series'} input",
                             field=f"{prefix}.type")
        try:
            blk.validate(*_block_in(spec, b))
        except InputError as exc:
            raise InputError(exc.reason, field=f"{prefix}.params.{exc.field}") from exc


def block_output_shapes(spec: ImpulseSpec) -> list[tuple[int, ...]]:
    return [block_instance(spec, b).output_shape(*_block_in(spec, b)) for b in spec.blocks]


def feature_shape(spec: ImpulseSpec) -> tuple[int, ...]:
    """The shape of one window's features: the block's own shape for a single block, else flat."""
    shapes = block_output_shapes(spec)
    if len(shapes) == 1:
        return shapes[0]
    return (int(sum(int(np.prod(s)) for s in shapes)),)


def n_features(spec: ImpulseSpec) -> int:
    return int(sum(int(np.prod(s)) for s in block_output_shapes(spec)))


def apply_impulse(spec: ImpulseSpec, windows: np.ndarray) -> np.ndarray:
    """Features ``[n, n_features]`` float32 for the impulse's windows (blocks flattened, in block order)."""
    w = np.asarray(windows, dtype=np.float32)
    _, fs = _geometry(spec)
    outs = []
    for b in spec.blocks:
        blk = block_instance(spec, b)
        x = w if isinstance(spec.input, ImageInput) else w[:, :, _axes_of(spec, b)]
        outs.append(blk.transform(x, fs).reshape(w.shape[0], -1))
    if not outs:
        return np.zeros((w.shape[0], 0), dtype=np.float32)
    return np.concatenate(outs, axis=1).astype(np.float32)


def features_from_signal(
    spec: ImpulseSpec, signal: np.ndarray, frequency_hz: float | None = None,
    signal_axes: Sequence[str] | None = None,
) -> np.ndarray:
    """Raw signal ``[length, axes]`` (or an image ``[h, w, c]``) -> features ``[n_windows, n_features]``."""
    return apply_impulse(spec, windows_for(spec, signal, frequency_hz, signal_axes))


def feature_names(spec: ImpulseSpec) -> list[str]:
    """One name per feature column of :func:`apply_impulse`, prefixed by the block name."""
    names: list[str] = []
    for b in spec.blocks:
        blk = block_instance(spec, b)
        axes = [spec.input.axes[i] for i in _axes_of(spec, b)]
        _, fs = _geometry(spec)
        named = getattr(blk, "feature_names", None)  # blocks with meaningful per-feature names provide them
        if callable(named):
            names += [f"{b.name}: {n}" for n in named(axes, fs)]
            continue
        if b.type == "flatten":
            from crisp_eml.dsp.basic import FlattenBlock

            assert isinstance(blk, FlattenBlock)
            names += [f"{b.name}: {a} {s}" for a in axes for s in blk.enabled()]
            continue
        shape = blk.output_shape(*_block_in(spec, b))
        if b.type == "raw":
            names += [f"{b.name}: {a} t{t}" for t in range(shape[0]) for a in axes]
            continue
        names += [f"{b.name}: {'x'.join(str(i) for i in idx)}" for idx in np.ndindex(*shape)]
    return names


def impulse_cost(spec: ImpulseSpec) -> dict[str, Any]:
    """Per-block and total DSP cost per window: operations and working bytes (max over blocks)."""
    blocks: list[dict[str, Any]] = []
    ops, work = 0, 0
    for b in spec.blocks:
        c = block_instance(spec, b).cost(*_block_in(spec, b))
        blocks.append({"name": b.name, "type": b.type, **c})
        ops += c["ops"]
        work = max(work, c["working_bytes"])
    return {"blocks": blocks, "ops": ops, "working_bytes": work}

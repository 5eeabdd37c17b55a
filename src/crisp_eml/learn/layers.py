"""Declarative layer lists -> Keras 3 models.

A network is a list of small dicts users can read and edit (``{"type": "dense", "units": 20}``); this
module checks each entry and builds the Keras model, adding the output head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.learn.tf_setup import tf_modules

# type -> (required keys, optional keys)
LAYER_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "dense": ({"units"}, {"activation"}),
    "conv1d": ({"filters", "kernel_size"}, {"activation", "strides", "padding"}),
    "conv2d": ({"filters", "kernel_size"}, {"activation", "strides", "padding"}),
    "ds-conv2d": ({"filters"}, {"kernel_size", "strides", "padding"}),
    "max-pool1d": (set(), {"pool_size", "padding"}),
    "avg-pool1d": (set(), {"pool_size", "padding"}),
    "max-pool2d": (set(), {"pool_size", "padding"}),
    "avg-pool2d": (set(), {"pool_size", "padding"}),
    "global-avg-pool1d": (set(), set()),
    "global-avg-pool2d": (set(), set()),
    "reshape": ({"shape"}, set()),
    "flatten": (set(), set()),
    "dropout": ({"rate"}, set()),
    "batch-norm": (set(), set()),
}
ACTIVATIONS = {"relu", "relu6", "tanh", "sigmoid", "linear", "softmax", None}


def validate_layers(layers: Any) -> list[dict[str, Any]]:
    """Check a layer list; raise :class:`InputError` naming the offending entry."""
    if not isinstance(layers, list):
        raise InputError("must be a list of layers", field="learning.params.layers")
    for i, layer in enumerate(layers):
        where = f"learning.params.layers[{i}]"
        if not isinstance(layer, dict) or "type" not in layer:
            raise InputError("each layer is a mapping with a 'type'", field=where)
        t = layer["type"]
        if t not in LAYER_KEYS:
            raise InputError(f"unknown layer type {t!r}; one of {sorted(LAYER_KEYS)}", field=where)
        req, opt = LAYER_KEYS[t]
        missing = sorted(req - set(layer))
        extra = sorted(set(layer) - req - opt - {"type"})
        if missing:
            raise InputError(f"{t} needs {missing}", field=where)
        if extra:
            raise InputError(f"{t} does not take {extra}", field=where)
        act = layer.get("activation")
        if not (act is None or isinstance(act, str)) or act not in ACTIVATIONS:
            raise InputError(f"unknown activation {act!r}", field=where)
        if "padding" in layer and layer["padding"] not in ("same", "valid"):
            raise InputError(f"padding is 'same' or 'valid', got {layer['padding']!r}", field=where)
        for key in INT_KEYS & set(layer):
            _check_size(layer[key], key, where)
        if t == "reshape" and not (isinstance(layer["shape"], list) and layer["shape"]
                                   and all(_is_int(v) and (v > 0 or v == -1) for v in layer["shape"])):
            raise InputError(f"shape must be a list of positive sizes (or -1), got {layer['shape']!r}", field=where)
        rate = layer.get("rate", 0.0)
        if t == "dropout" and not (_is_num(rate) and 0 <= rate < 1):
            raise InputError(f"rate must be a number in [0, 1), got {rate!r}", field=where)
    return layers


#: Integer layer parameters (a size, or a pair of sizes for 2-D layers) and their upper bound.
INT_KEYS = {"units", "filters", "kernel_size", "strides", "pool_size"}
MAX_SIZE = 65536


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float | np.number) and not isinstance(v, bool) and bool(np.isfinite(v))


def _check_size(v: Any, key: str, where: str) -> None:
    vals = v if isinstance(v, list) and len(v) == 2 else [v]
    if not all(_is_int(x) and 1 <= x <= MAX_SIZE for x in vals):
        raise InputError(f"{key} must be a whole number from 1 to {MAX_SIZE} (or a pair of them), got {v!r}",
                         field=where)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, list | tuple):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _make(keras: Any, spec: dict[str, Any]) -> list[Any]:
    L = keras.layers
    t = spec["type"]
    pad = spec.get("padding", "same")
    act = spec.get("activation", "relu")
    makers: dict[str, Callable[[], list[Any]]] = {
        "dense": lambda: [L.Dense(int(spec["units"]), activation=act)],
        "conv1d": lambda: [L.Conv1D(int(spec["filters"]), int(spec["kernel_size"]), strides=int(spec.get("strides", 1)),
                                    padding=pad, activation=act)],
        "conv2d": lambda: [L.Conv2D(int(spec["filters"]), _pair(spec["kernel_size"]),
                                    strides=_pair(spec.get("strides", 1)), padding=pad, activation=act)],
        "ds-conv2d": lambda: [
            L.DepthwiseConv2D(_pair(spec.get("kernel_size", 3)), strides=_pair(spec.get("strides", 1)), padding=pad),
            L.BatchNormalization(momentum=0.9), L.ReLU(),
            L.Conv2D(int(spec["filters"]), (1, 1), padding="same"), L.BatchNormalization(momentum=0.9), L.ReLU()],
        "max-pool1d": lambda: [L.MaxPooling1D(int(spec.get("pool_size", 2)), padding=pad)],
        "avg-pool1d": lambda: [L.AveragePooling1D(int(spec.get("pool_size", 2)), padding=pad)],
        "max-pool2d": lambda: [L.MaxPooling2D(_pair(spec.get("pool_size", 2)), padding=pad)],
        "avg-pool2d": lambda: [L.AveragePooling2D(_pair(spec.get("pool_size", 2)), padding=pad)],
        "global-avg-pool1d": lambda: [L.GlobalAveragePooling1D()],
        "global-avg-pool2d": lambda: [L.GlobalAveragePooling2D()],
        "reshape": lambda: [L.Reshape(tuple(int(s) for s in spec["shape"]))],
        "flatten": lambda: [L.Flatten()],
        "dropout": lambda: [L.Dropout(float(spec["rate"]))],
        "batch-norm": lambda: [L.BatchNormalization(momentum=0.9)],
    }
    return makers[t]()


def build_model(input_shape: tuple[int, ...], layers: list[dict[str, Any]], *, outputs: int, task: str) -> Any:
    """A Keras model: layers + head (softmax for classification, linear for regression). It takes the features
    already standardised (``crisp_eml.core.normalization``, applied outside the model so int8 quantises
    standardised values)."""
    _, keras = tf_modules()
    validate_layers(layers)
    x = inp = keras.Input(shape=tuple(int(s) for s in input_shape), name="features")
    try:
        for spec in layers:
            for layer in _make(keras, spec):
                x = layer(x)
        if len(x.shape) > 2:
            x = keras.layers.Flatten()(x)
        if task == "regression":
            out = keras.layers.Dense(1, activation="linear", name="output")(x)
        else:
            out = keras.layers.Dense(outputs, activation="softmax", name="output")(x)
    except ValueError as exc:
        raise InputError(f"the layer list does not fit input shape {list(input_shape)}: {exc}",
                         field="learning.params.layers") from exc
    return keras.Model(inp, out)

"""The learning block of an impulse: ``{"type": ..., "params": {...}}``, validated, with defaults.

Pure (no TensorFlow): parses what the user wrote in the impulse spec or on the command line and
chooses the default network for the kind of features the DSP blocks produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisp_eml.core.errors import InputError
from crisp_eml.learn.augment import options as augment_options

TYPES = ("nn-classifier", "nn-regressor", "anomaly-kmeans", "anomaly-gmm", "expert", "byom")
NN_TYPES = ("nn-classifier", "nn-regressor", "expert")
ANOMALY_TYPES = ("anomaly-kmeans", "anomaly-gmm")
INPUT_KINDS = ("spectral", "raw-motion", "spectrogram", "image")

NN_DEFAULTS: dict[str, Any] = {
    "epochs": 60, "learning_rate": 0.005, "batch_size": 32, "validation_split": 0.2,
    "keep_together": None, "early_stopping_patience": None, "class_weights": "auto", "augment": None,
    "normalize": True, "layers": None, "input_kind": None, "expert_file": None, "validation": "auto",
    "folds": None,
}
#: NN parameters whose ``None`` means "derived from the data at training time" (see learn/training_plan.py).
NN_AUTO = ("early_stopping_patience", "augment", "folds")
VALIDATION_MODES = ("auto", "split", "kfold")
ANOMALY_DEFAULTS: dict[str, Any] = {
    "clusters": 8, "components": 3, "covariance": "diag", "threshold_percentile": 95.0, "normal_labels": None,
    "normalize": True,
}


@dataclass
class LearningBlock:
    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "params": dict(self.params)}

    @property
    def is_nn(self) -> bool:
        return self.type in NN_TYPES

    @property
    def is_anomaly(self) -> bool:
        return self.type in ANOMALY_TYPES


def parse_block(raw: dict[str, Any] | None, *, default_type: str = "nn-classifier") -> LearningBlock:
    """A validated learning block with every parameter filled in (``raw`` may be None)."""
    raw = dict(raw or {})
    btype = str(raw.get("type") or default_type)
    if btype not in TYPES:
        raise InputError(f"unknown learning block type {btype!r}; one of {list(TYPES)}", field="learning.type")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise InputError("must be a mapping of parameter names to values", field="learning.params")
    defaults = ANOMALY_DEFAULTS if btype in ANOMALY_TYPES else NN_DEFAULTS
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown} for {btype}; known: {sorted(defaults)}",
                         field="learning.params")
    merged = {**defaults, **params}
    _check_number(merged, "epochs", int, 1, 100_000)
    _check_number(merged, "batch_size", int, 1, 1_000_000)
    _check_number(merged, "learning_rate", float, 1e-9, 10.0)
    _check_number(merged, "validation_split", float, 0.0, 0.9)
    _check_number(merged, "early_stopping_patience", int, 0, 100_000)
    _check_number(merged, "folds", int, 2, 50)
    _check_number(merged, "clusters", int, 1, 10_000)
    _check_number(merged, "components", int, 1, 1_000)
    _check_number(merged, "threshold_percentile", float, 0.0, 100.0)
    if btype == "anomaly-gmm" and merged.get("covariance") not in ("diag", "full"):
        raise InputError(f"must be 'diag' or 'full', got {merged.get('covariance')!r}",
                         field="learning.params.covariance")
    if btype in NN_TYPES:
        if merged.get("validation") not in VALIDATION_MODES:
            raise InputError(f"must be one of {list(VALIDATION_MODES)}, got {merged.get('validation')!r}",
                             field="learning.params.validation")
        augment_options(merged.get("augment"))  # raises on unknown or out-of-range options
    kind = merged.get("input_kind")
    if kind is not None and kind not in INPUT_KINDS:
        raise InputError(f"unknown input kind {kind!r}; one of {list(INPUT_KINDS)}", field="learning.params.input_kind")
    if btype == "expert" and not merged.get("expert_file"):
        raise InputError("expert mode needs 'expert_file' (a Python file defining build_model(input_shape, "
                         "num_classes))", field="learning.params.expert_file")
    return LearningBlock(btype, merged)


def _check_number(d: dict[str, Any], key: str, typ: type, lo: float, hi: float) -> None:
    if key not in d or d[key] is None:
        return
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or (typ is int and not float(v).is_integer()):
        raise InputError(f"must be a{'n integer' if typ is int else ' number'}, got {v!r}",
                         field=f"learning.params.{key}")
    if not lo <= v <= hi:
        raise InputError(f"must be between {lo} and {hi}, got {v}", field=f"learning.params.{key}")
    d[key] = typ(v)


BLOCK_KINDS = {"raw": "raw-motion", "mfcc": "spectrogram", "mfe": "spectrogram", "spectrogram": "spectrogram",
               "image": "image", "spectral-analysis": "spectral", "flatten": "spectral"}


def kind_from_blocks(block_types: list[str]) -> str | None:
    """The input kind implied by the impulse's DSP blocks (``None`` when mixed or unknown)."""
    kinds = {BLOCK_KINDS.get(t) for t in block_types}
    if len(block_types) != 1 or None in kinds:
        return "spectral" if len(block_types) > 1 else None  # several blocks -> one flat vector
    return kinds.pop()


def infer_input_kind(feature_shape: tuple[int, ...], hint: str | None = None) -> str:
    """spectral (flat vector), raw-motion ([time, axes]), spectrogram ([frames, coeffs(, 1)]) or image."""
    if hint in INPUT_KINDS:
        return str(hint)
    if len(feature_shape) <= 1:
        return "spectral"
    if len(feature_shape) == 2:
        return "raw-motion"
    return "image" if feature_shape[-1] == 3 else "spectrogram"


def default_layers(kind: str, feature_shape: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    """The default (editable) layer list for each input kind; the output layer is added by the builder."""
    shape = tuple(feature_shape or ())
    if kind in ("spectrogram", "image") and len(shape) == 2:  # [frames, coeffs] -> add the channel axis
        return [{"type": "reshape", "shape": [shape[0], shape[1], 1]}, *default_layers(kind)]
    if kind == "raw-motion" and len(shape) == 1:
        return [{"type": "reshape", "shape": [shape[0], 1]}, *default_layers(kind)]
    if kind in ("spectrogram", "image") and len(shape) == 1:
        return default_layers("spectral")
    if kind == "spectral" and len(shape) > 1:
        return [{"type": "flatten"}, *default_layers("spectral")]
    if kind == "spectral":
        return [{"type": "dense", "units": 20, "activation": "relu"},
                {"type": "dense", "units": 10, "activation": "relu"}]
    if kind == "raw-motion":
        return [{"type": "conv1d", "filters": 8, "kernel_size": 3, "activation": "relu"},
                {"type": "max-pool1d", "pool_size": 2},
                {"type": "conv1d", "filters": 16, "kernel_size": 3, "activation": "relu"},
                {"type": "max-pool1d", "pool_size": 2},
                {"type": "flatten"}, {"type": "dropout", "rate": 0.25}]
    if kind == "spectrogram":
        return [{"type": "conv2d", "filters": 16, "kernel_size": [3, 3], "strides": [2, 2], "activation": "relu"},
                {"type": "batch-norm"},
                {"type": "ds-conv2d", "filters": 16, "kernel_size": [3, 3]},
                {"type": "ds-conv2d", "filters": 16, "kernel_size": [3, 3]},
                {"type": "global-avg-pool2d"}, {"type": "dropout", "rate": 0.2}]
    # image: three conv/pool stages, so what reaches the dense head depends little on where the object is
    return [{"type": "conv2d", "filters": 8, "kernel_size": [3, 3], "activation": "relu"},
            {"type": "max-pool2d", "pool_size": [2, 2]},
            {"type": "conv2d", "filters": 16, "kernel_size": [3, 3], "activation": "relu"},
            {"type": "max-pool2d", "pool_size": [2, 2]},
            {"type": "conv2d", "filters": 32, "kernel_size": [3, 3], "activation": "relu"},
            {"type": "max-pool2d", "pool_size": [2, 2]},
            {"type": "flatten"}, {"type": "dropout", "rate": 0.25}]

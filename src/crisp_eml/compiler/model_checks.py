"""What the reader refuses, in the order a user needs to hear it: types, then ops, then quantisation.

A float model must hear "quantize it" (not "unsupported op SHAPE"), an int16x8 model which ops lack int16
kernels (not "float-only"), and a model with absurd quantisation parameters which tensor and field are wrong
(a per-channel scale of 1e38 would otherwise compile into a library that disagrees with TFLite Micro).
Each check raises :class:`InputError` naming the source file. Pure.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.ops import BOUNDARY_OPS, SUPPORTED_OPS
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph

#: Float activation types: a model computing in them is a float (or hybrid) model.
FLOAT_DTYPES = frozenset({"float32", "float16", "float64"})
#: Accepted quantisation scales: positive (the converter writes subnormal float32 scales such as 3.6e-43 for a
#: tensor that is always 0, e.g. a RELU of non-positive values) and at most 1e6 (1.18e38 is a corrupt file).
SCALE_MIN, SCALE_MAX = 0.0, 1e6
_ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
             "int32": (-(2 ** 31), 2 ** 31 - 1), "int64": (-(2 ** 63), 2 ** 63 - 1)}
# Tensors of these dtypes may carry shapes/indices/biases; activations of compute ops must be int8 (or int16).
_AUX_DTYPES = {"int32", "int64"}

FLOAT_MODEL_HINT = (
    "the compiler needs a full-integer model (int8 weights and activations). A model trained with `eml train` "
    "has one: compile models:/NAME@ALIAS or the run's int8 .tflite. To convert your own Keras model: "
    "tf.lite.TFLiteConverter.from_keras_model(model) with optimizations=[tf.lite.Optimize.DEFAULT], a "
    "representative_dataset and target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8] (optionally "
    "inference_input_type/inference_output_type=tf.int8)")


def check_structure(g: Graph, source: str) -> None:
    if not g.ops:
        raise InputError("model has no operators", source=source)
    if not g.inputs or not g.outputs:
        raise InputError("model declares no inputs or no outputs", source=source)
    for op in g.ops:
        if not op.outputs:
            raise InputError(f"operator {op.index} ({op.type}) has no outputs", source=source)


def check_types(g: Graph, source: str) -> None:
    """Float (or hybrid) models and models with no integer activation at all: refused before any op check."""
    for op in g.ops:
        if op.type in BOUNDARY_OPS:
            continue
        for ti in [*op.inputs, *op.outputs]:
            if ti >= 0 and not g.tensor(ti).is_constant and g.tensor(ti).dtype in FLOAT_DTYPES:
                t = g.tensor(ti)
                raise InputError(f"float model: operator {op.index} ({op.type}) computes in {t.dtype} (tensor {ti} "
                                 f"'{t.name}'); {FLOAT_MODEL_HINT}", source=source)
    if not any(t.dtype in ("int8", "int16") and not t.is_constant for t in g.tensors):
        raise InputError(f"model has no int8 or int16 activation; {FLOAT_MODEL_HINT}", source=source)


def _is_int16(g: Graph) -> bool:
    return any(t.dtype == "int16" and not t.is_constant for t in g.tensors)


def check_ops(g: Graph, source: str) -> None:
    """Every op is one the compiler has (at the model's activation type); 16x8 models hear which ops lack int16."""
    from crisp_eml.compiler.opdefs import act_dtype, registered_types

    if _is_int16(g):
        s16 = registered_types("int16")
        missing = [op for op in g.ops if op.type not in BOUNDARY_OPS and act_dtype(g, op) == "int16"
                   and op.type not in s16]
        if missing:
            names = sorted({op.type for op in missing})
            where = ", ".join(f"{op.index} ({op.type})" for op in missing[:8])
            have = ", ".join(sorted(s16)) or "none yet"
            raise InputError(f"int16x8 model (the 16x8 quantization mode: int16 activations, int8 weights): no int16 "
                             f"kernel for {', '.join(names)} (operators {where}); ops with int16 kernels: {have}. "
                             "Convert those layers in full int8 instead, or change the model", source=source)
    known = SUPPORTED_OPS | registered_types("int8")
    for op in g.ops:
        if op.type not in known and op.type not in registered_types():
            raise InputError(f"unsupported op {op.type} at operator index {op.index}; supported: "
                             f"{', '.join(sorted(known))}", source=source)


def check_operand_types(g: Graph, source: str) -> None:
    """Each compute op reads and writes activations of its own type, and they carry quantisation parameters."""
    from crisp_eml.compiler.opdefs import find

    for op in g.ops:
        if op.type in BOUNDARY_OPS:
            continue
        d = find(g, op)
        act_types = {"int8", d.act_dtype} if d is not None else {"int8"}
        for ti in [*op.inputs, *op.outputs]:
            if ti < 0:
                continue
            t = g.tensor(ti)
            if t.is_constant and t.dtype in _AUX_DTYPES | {"int8"}:
                continue
            if t.dtype not in act_types and not (t.is_constant or t.dtype in _AUX_DTYPES and ti in op.inputs[1:]):
                raise InputError(f"operator {op.index} ({op.type}) uses tensor {ti} ('{t.name}') of type "
                                 f"{t.dtype}; only full-int8 (or int16x8) models are supported", source=source)
            if t.dtype in act_types and len(t.scale) == 0:
                raise InputError(f"{t.dtype} tensor {ti} ('{t.name}') has no quantization parameters", source=source)


def check_quantization(g: Graph, source: str) -> None:
    """Scales finite, in (SCALE_MIN, SCALE_MAX]; zero points in the type's range; per-channel
    vectors as long as the quantized dimension."""
    for t in g.tensors:
        if len(t.scale) == 0 or t.dtype in FLOAT_DTYPES:
            continue
        what = f"tensor {t.index} ('{t.name}')"
        for k, s in enumerate(np.asarray(t.scale, np.float64)):
            if not np.isfinite(s) or not SCALE_MIN < s <= SCALE_MAX:
                raise InputError(f"{what}: quantization scale[{k}] = {s:g} is not a finite number in "
                                 f"({SCALE_MIN:g}, {SCALE_MAX:g}] (corrupt or absurd quantization)",
                                 source=source, field="quantization.scale")
        if len(t.zero_point) != len(t.scale):
            raise InputError(f"{what}: {len(t.scale)} scales but {len(t.zero_point)} zero points", source=source,
                             field="quantization.zero_point")
        lo, hi = _ZP_RANGE.get(t.dtype, (-(2 ** 63), 2 ** 63 - 1))
        for k, z in enumerate(t.zero_point):
            if not lo <= int(z) <= hi:
                raise InputError(f"{what}: zero_point[{k}] = {int(z)} is outside the {t.dtype} range [{lo}, {hi}]",
                                 source=source, field="quantization.zero_point")
        if len(t.scale) > 1:
            qd = t.quantized_dimension
            if not 0 <= qd < len(t.shape) or t.shape[qd] != len(t.scale):
                raise InputError(f"{what}: {len(t.scale)} per-channel scales but quantized dimension {qd} of shape "
                                 f"{t.shape} does not have that many channels", source=source,
                                 field="quantization.quantized_dimension")

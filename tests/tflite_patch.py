"""Corrupt real ``.tflite`` files in place, field by field, to build bad models without TensorFlow.

Flatbuffer scalars and vector elements are patched at their offsets in a copy of the file (the layout stays
valid, only the values change): a tensor's type, one quantisation scale or zero point. Used by the compiler's
bad-input tests and the CLI's bad-input table.
"""

from __future__ import annotations

import struct

# vtable slots (4 + 2 * field id) of the schema's Tensor and QuantizationParameters tables
_TENSOR_TYPE, _TENSOR_QUANT = 6, 12
_Q_SCALE, _Q_ZERO_POINT = 8, 10


def _tensors(raw: bytes):  # type: ignore[no-untyped-def]
    import tflite

    sg = tflite.Model.GetRootAs(raw, 0).Subgraphs(0)
    return [sg.Tensors(i) for i in range(sg.TensorsLength())]


def activations_as(raw: bytes, type_code: int) -> bytes:
    """Every int8 tensor without a buffer (the activations) retyped to ``type_code`` (0 float32, 7 int16)."""
    import tflite

    model = tflite.Model.GetRootAs(raw, 0)
    buf = bytearray(raw)
    for t in _tensors(raw):
        b = model.Buffers(t.Buffer())
        if t.Type() != 9 or (t.Buffer() and b.DataLength()):
            continue
        at = t._tab.Offset(_TENSOR_TYPE)
        buf[t._tab.Pos + at] = type_code
    return bytes(buf)


def _quant_vector(raw: bytes, tensor: int, slot: int) -> tuple[int, int]:
    t = _tensors(raw)[tensor]
    q = t.Quantization()
    field = q._tab.Offset(slot)
    return q._tab.Vector(field), q._tab.VectorLen(field)


def per_channel_tensor(raw: bytes) -> int:
    """Index of the first tensor with more than one quantisation scale (a per-channel conv weight)."""
    for i, t in enumerate(_tensors(raw)):
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 1:
            return i
    raise AssertionError("no per-channel tensor in this model")


def set_scale(raw: bytes, tensor: int, k: int, value: float) -> bytes:
    at, n = _quant_vector(raw, tensor, _Q_SCALE)
    assert k < n
    buf = bytearray(raw)
    buf[at + 4 * k:at + 4 * k + 4] = struct.pack("<f", value)
    return bytes(buf)


def set_zero_point(raw: bytes, tensor: int, k: int, value: int) -> bytes:
    at, n = _quant_vector(raw, tensor, _Q_ZERO_POINT)
    assert k < n
    buf = bytearray(raw)
    buf[at + 8 * k:at + 8 * k + 8] = struct.pack("<q", value)
    return bytes(buf)

"""Named metadata entries inside a ``.tflite`` flatbuffer: what a model needs besides its graph travels with it.

TFLite models have a ``metadata`` list (name -> buffer) that interpreters ignore unless they know the name.
crisp-eml stores the feature normalisation there (:data:`crisp_eml.core.normalization.METADATA_NAME`), so a
model file copied out of the project, registered, compiled or bundled keeps it. Writing repacks the model with
TensorFlow's generated flatbuffer object API; reading uses the light ``tflite`` bindings (no TensorFlow).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError, ToolMissingError
from crisp_eml.core.normalization import METADATA_NAME, Normalization


def read_metadata(model_bytes: bytes, name: str) -> bytes | None:
    """The bytes of metadata entry ``name``, or None when the model has none (or is not a flatbuffer)."""
    try:
        import tflite
    except ImportError as exc:  # pragma: no cover - the ml extra is part of the install
        raise ToolMissingError("the 'tflite' package is needed to read models: pip install 'crisp-eml[ml]'") from exc
    try:
        model = tflite.Model.GetRootAsModel(bytearray(model_bytes), 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() is not None and entry.Name().decode() == name:
                buf = model.Buffers(entry.Buffer())
                return bytes(buf.DataAsNumpy().tobytes()) if buf.DataLength() else b""
    except Exception:  # noqa: BLE001 - a corrupt flatbuffer simply has no readable metadata
        return None
    return None


def with_metadata(model_bytes: bytes, name: str, data: bytes) -> bytes:
    """The same model with metadata entry ``name`` set to ``data`` (replacing an entry of that name)."""
    try:
        import flatbuffers
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError as exc:  # pragma: no cover - the ml extra is part of the install
        raise ToolMissingError("writing .tflite metadata needs TensorFlow (pip install 'crisp-eml[ml]')") from exc
    model: Any = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    buf = schema.BufferT()
    buf.data = np.frombuffer(data, dtype=np.uint8).copy()
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if (m.name.decode() if isinstance(m.name, bytes)
                                                             else m.name) != name] + [entry]
    builder = flatbuffers.Builder(len(model_bytes) + len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def model_normalization(model_bytes: bytes) -> Normalization | None:
    """The feature normalisation stored in the model, None for a model trained without one."""
    raw = read_metadata(model_bytes, METADATA_NAME)
    if raw is None:
        return None
    try:
        return Normalization.from_json(raw)
    except InputError as exc:
        raise InputError(f"the model's {METADATA_NAME} metadata is invalid: {exc.reason}", field="model") from exc


def with_normalization(model_bytes: bytes, norm: Normalization) -> bytes:
    return with_metadata(model_bytes, METADATA_NAME, norm.to_json())

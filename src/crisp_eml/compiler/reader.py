"""Read a ``.tflite`` flatbuffer into the compiler's graph IR (``core.graph``).

Uses the ``tflite`` package's generated flatbuffer bindings (no hand parser). Only subgraph 0 is read.
Constant buffers become numpy arrays; builtin options become snake_case dicts, with the enums the
kernels need spelled as strings (``fused_activation_function``: ``"NONE"``/``"RELU"``/``"RELU6"``...,
``padding``: ``"SAME"``/``"VALID"``). An open batch dimension is fixed at 1 and the shape arithmetic of
open-batch models is folded (``compiler.fold``). Anything malformed, float, not full-int8/int16x8, with
absurd quantisation or using an op the compiler does not support raises :class:`InputError` naming the file
and the reason (``compiler.model_checks``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler.ops import FUSED_ACTIVATIONS, PADDING
from crisp_eml.core.errors import InputError, ToolMissingError
from crisp_eml.core.graph import Graph, Op, Tensor

_TENSOR_TYPES: dict[int, str] = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
                                 7: "int16", 9: "int8", 10: "float64", 12: "uint64", 15: "uint32", 16: "uint16"}
_SKIP_METHODS = {"Init", "GetRootAs"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _load_tflite() -> Any:
    try:
        import tflite
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ToolMissingError("the 'tflite' package is needed to read models: pip install 'crisp-eml[ml]'") from exc
    return tflite


def _decode_options(tfl: Any, op: Any) -> dict[str, Any]:
    """Builtin options table -> snake_case dict, by reflecting on the generated accessor class."""
    opt_type = op.BuiltinOptionsType()
    if opt_type == 0:
        return {}
    names = {v: k for k, v in vars(tfl.BuiltinOptions).items() if isinstance(v, int)}
    cls_name = names.get(opt_type)
    table = op.BuiltinOptions()
    if cls_name is None or table is None or not hasattr(tfl, cls_name):
        return {}
    obj = getattr(tfl, cls_name)()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for meth_name, meth in inspect.getmembers(type(obj), predicate=inspect.isfunction):
        if meth_name in _SKIP_METHODS or meth_name.startswith("GetRootAs") or meth_name.endswith(
                ("BufferHasIdentifier", "AsNumpy", "Length", "IsNone")):
            continue
        params = list(inspect.signature(meth).parameters)
        key = _snake(meth_name)
        if len(params) == 1:
            value = getattr(obj, meth_name)()
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            out[key] = value
        elif len(params) == 2 and hasattr(obj, meth_name + "AsNumpy"):
            arr = getattr(obj, meth_name + "AsNumpy")()
            out[key] = [int(x) for x in arr] if isinstance(arr, np.ndarray) else []
    if "fused_activation_function" in out:
        out["fused_activation_function"] = FUSED_ACTIVATIONS.get(int(out["fused_activation_function"]), "UNKNOWN")
    if "padding" in out and cls_name != "PadOptions":
        out["padding"] = PADDING.get(int(out["padding"]), "UNKNOWN")
    return out


def _op_name(tfl: Any, code: Any) -> str:
    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    if builtin == 32:  # CUSTOM
        custom = code.CustomCode()
        return "CUSTOM:" + (custom.decode("utf-8", "replace") if custom else "?")
    name: str = tfl.utils.BUILTIN_OPCODE2NAME.get(builtin, f"BUILTIN_{builtin}")
    return name


def _quant(t: Any) -> tuple[np.ndarray, np.ndarray, int]:
    q = t.Quantization()
    if q is None or q.ScaleIsNone() or q.ScaleLength() == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64), 0
    scale = np.asarray(q.ScaleAsNumpy(), np.float32).copy()
    zp = np.asarray(q.ZeroPointAsNumpy(), np.int64).copy() if not q.ZeroPointIsNone() else np.zeros(
        len(scale), np.int64)
    return scale, zp, int(q.QuantizedDimension())


def _buffer_bytes(raw: bytes, model: Any, index: int) -> bytes | None:
    if index == 0:
        return None
    if index >= model.BuffersLength():
        raise ValueError(f"buffer index {index} out of range")
    buf = model.Buffers(index)
    offset, size = int(buf.Offset()), int(buf.Size())
    if offset > 1:  # data stored after the flatbuffer (models > 2 GB layout)
        if offset + size > len(raw):
            raise ValueError(f"buffer {index} points past the end of the file")
        return raw[offset:offset + size] or None
    if buf.DataIsNone() or buf.DataLength() == 0:
        return None
    return bytes(buf.DataAsNumpy().tobytes())


def _check_len(n: int, raw: bytes, what: str) -> int:
    if n < 0 or n * 4 > len(raw):
        raise ValueError(f"{what} count {n} is impossible for a {len(raw)}-byte file")
    return n


def _parse(tfl: Any, raw: bytes) -> Graph:
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise InputError("not a TFLite model (missing the 'TFL3' file identifier)")
    model = tfl.Model.GetRootAs(raw, 0)
    if _check_len(model.SubgraphsLength(), raw, "subgraph") < 1:
        raise ValueError("model has no subgraph")
    _check_len(model.BuffersLength(), raw, "buffer")
    n_codes = _check_len(model.OperatorCodesLength(), raw, "operator code")
    op_names = [_op_name(tfl, model.OperatorCodes(i)) for i in range(n_codes)]
    sg = model.Subgraphs(0)
    tensors: list[Tensor] = []
    for i in range(_check_len(sg.TensorsLength(), raw, "tensor")):
        t = sg.Tensors(i)
        ttype = int(t.Type())
        dtype = _TENSOR_TYPES.get(ttype)
        name = (t.Name() or b"").decode("utf-8", "replace")
        if dtype is None:
            raise InputError(f"tensor {i} ('{name}') has unsupported type code {ttype}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if not t.ShapeIsNone() and t.ShapeLength() else ()
        if shape and shape[0] == -1:  # an open batch: TFLite Micro runs batch 1
            shape = (1, *shape[1:])
        if any(d < 0 for d in shape):
            raise InputError(f"tensor {i} ('{name}') has a dynamic shape {shape}; only the batch dimension may be "
                             "open (it is fixed at 1)")
        scale, zp, qdim = _quant(t)
        data_bytes = _buffer_bytes(raw, model, int(t.Buffer()))
        data = None
        if data_bytes is not None:
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            itemsize = np.dtype(dtype).itemsize
            if len(data_bytes) != count * itemsize:
                raise ValueError(f"tensor {i} ('{name}'): buffer has {len(data_bytes)} bytes, shape {shape} "
                                 f"needs {count * itemsize}")
            data = np.frombuffer(data_bytes, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
        tensors.append(Tensor(i, name, shape, dtype, scale, zp, qdim, data))
    n_t = len(tensors)

    def _idx(v: Any, what: str) -> list[int]:
        out = [int(x) for x in v] if isinstance(v, np.ndarray) else []
        for x in out:
            if x < -1 or x >= n_t:
                raise ValueError(f"{what} refers to tensor {x}, model has {n_t}")
        return out

    ops: list[Op] = []
    for k in range(_check_len(sg.OperatorsLength(), raw, "operator")):
        o = sg.Operators(k)
        ci = int(o.OpcodeIndex())
        if ci >= len(op_names):
            raise ValueError(f"operator {k} uses opcode index {ci}, model has {len(op_names)}")
        ops.append(Op(k, op_names[ci], _idx(o.InputsAsNumpy(), f"operator {k} inputs"),
                      _idx(o.OutputsAsNumpy(), f"operator {k} outputs"), _decode_options(tfl, o)))
    inputs = _idx(sg.InputsAsNumpy(), "subgraph inputs")
    outputs = _idx(sg.OutputsAsNumpy(), "subgraph outputs")
    desc = model.Description()
    return Graph(tensors, ops, inputs, outputs,
                 description=desc.decode("utf-8", "replace") if desc else "")


def read_tflite(data: bytes | Path, *, source: str = "model.tflite") -> Graph:
    """Parse a TFLite model (bytes or path) into a :class:`Graph` of subgraph 0."""
    if isinstance(data, Path):
        source = str(data) if source == "model.tflite" else source
        try:
            raw = data.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read model: {exc.strerror or exc}", source=source) from exc
    else:
        raw = bytes(data)
    tfl = _load_tflite()
    try:
        graph = _parse(tfl, raw)
    except InputError as exc:
        raise InputError(exc.reason, source=source, field=exc.field) from None
    except Exception as exc:  # flatbuffers raises assorted errors on corrupt input
        raise InputError(f"malformed or truncated TFLite model ({type(exc).__name__}: {exc})", source=source) from None
    graph.name = Path(source).stem or "model"
    return _check_and_fold(graph, source)


def _check_and_fold(graph: Graph, source: str) -> Graph:
    """Types first (a float model hears "quantize it", whatever ops it has), then the open-batch rewrites,
    then ops, operand types, quantisation parameters and every op's constants."""
    from crisp_eml.compiler import model_checks as mc
    from crisp_eml.compiler.fold import fold_graph

    mc.check_structure(graph, source)
    mc.check_types(graph, source)
    try:
        graph = fold_graph(graph)
    except Exception as exc:  # a corrupt file can reach the rewrite with impossible shapes
        raise InputError(f"malformed model: cannot fold its shape arithmetic ({type(exc).__name__}: {exc})",
                         source=source) from None
    mc.check_quantization(graph, source)
    mc.check_ops(graph, source)
    mc.check_operand_types(graph, source)
    _check_params(graph, source)
    return graph


def _check_params(graph: Graph, source: str) -> None:
    """Compute every op's kernel constants once, so bad parameters surface here, naming the op."""
    from crisp_eml.compiler.params import op_params

    for op in graph.ops:
        try:
            op_params(graph, op)
        except InputError as exc:
            raise InputError(exc.reason, source=source) from None
        except Exception as exc:
            raise InputError(f"operator {op.index} ({op.type}) has invalid parameters ({type(exc).__name__}: {exc})",
                             source=source) from None

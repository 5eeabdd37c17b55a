"""Numpy integer reference interpreter: the definition of what the generated C must compute.

``run_reference(graph, inputs)`` executes the graph op by op with kernels that follow TFLite Micro's int8
reference kernels bit for bit (one module per op family). Constants come from ``compiler.params.op_params``
so the C renderer uses exactly the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from crisp_eml.compiler.opdefs import find
from crisp_eml.compiler.params import op_params
from crisp_eml.compiler.reference import activations, conv, elementwise, pool, shape
from crisp_eml.core.errors import InputError, VerificationError
from crisp_eml.core.graph import Graph, Op

__all__ = ["run_op", "run_op_all", "run_reference"]


def _const_or(env: dict[int, np.ndarray], graph: Graph, i: int) -> np.ndarray | None:
    if i < 0:
        return None
    t = graph.tensor(i)
    if t.data is not None:
        return t.data
    if i not in env:
        raise VerificationError(f"tensor {i} ('{t.name}') is read before it is written")
    return env[i]


def run_op(graph: Graph, op: Op, args: list[np.ndarray | None]) -> np.ndarray:
    """Execute one op on its input arrays (``None`` for absent optional inputs); returns output 0."""
    return run_op_all(graph, op, args)[0]


def run_op_all(graph: Graph, op: Op, args: list[np.ndarray | None]) -> list[np.ndarray]:
    """Execute one op; returns one array per output (ops such as SPLIT have several)."""
    d = find(graph, op)
    if d is not None:
        try:
            ys = d.reference(graph, op, args, d.params(graph, op))
        except (ValueError, IndexError) as exc:
            raise InputError(f"operator {op.index} ({op.type}): {exc}") from None
        ys_list = ys if isinstance(ys, list) else [ys]
        return [np.asarray(y).astype(graph.tensor(ti).dtype).reshape(graph.tensor(ti).shape)
                for y, ti in zip(ys_list, op.outputs, strict=True)]
    return [_run_first_round(graph, op, args)]


def _run_first_round(graph: Graph, op: Op, args: list[np.ndarray | None]) -> np.ndarray:
    p = op_params(graph, op)
    out = graph.tensor(op.outputs[0])
    shp = out.shape
    x = args[0]
    assert x is not None
    t = op.type
    kernels: dict[str, Callable[[], np.ndarray]] = {
        "CONV_2D": lambda: conv.conv_2d(x, _need(args[1]), args[2] if len(args) > 2 else None, p, shp),
        "DEPTHWISE_CONV_2D": lambda: conv.depthwise_conv_2d(x, _need(args[1]), args[2] if len(args) > 2 else None,
                                                            p, shp),
        "FULLY_CONNECTED": lambda: conv.fully_connected(x, _need(args[1]), args[2] if len(args) > 2 else None, p,
                                                        shp),
        "AVERAGE_POOL_2D": lambda: pool.average_pool_2d(x, p, shp),
        "MAX_POOL_2D": lambda: pool.max_pool_2d(x, p, shp),
        "MEAN": lambda: pool.mean(x, p, shp),
        "ADD": lambda: elementwise.add_sub(x, _need(args[1]), p, shp, subtract=False),
        "SUB": lambda: elementwise.add_sub(x, _need(args[1]), p, shp, subtract=True),
        "MUL": lambda: elementwise.mul(x, _need(args[1]), p, shp),
        "RESHAPE": lambda: x.reshape(shp),
        "SQUEEZE": lambda: x.reshape(shp),
        "SOFTMAX": lambda: activations.softmax(x, p),
        "LOGISTIC": lambda: activations.logistic(x, p),
        "TANH": lambda: activations.tanh(x, p),
        "RELU": lambda: activations.relu(x, p),
        "RELU6": lambda: activations.relu6(x, p),
        "PAD": lambda: shape.pad(x, p, shp),
        "CONCATENATION": lambda: shape.concatenation([_need(a) for a in args], p, shp),
        "QUANTIZE": lambda: shape.quantize(x, p),
        "DEQUANTIZE": lambda: shape.dequantize(x, p),
        "STRIDED_SLICE": lambda: shape.strided_slice(x, p, shp),
        "TRANSPOSE": lambda: shape.transpose(x, p, shp),
    }
    if t not in kernels:
        raise InputError(f"operator {op.index}: unsupported op {t}")
    try:
        y = kernels[t]()
    except (ValueError, IndexError) as exc:
        raise InputError(f"operator {op.index} ({t}): {exc}") from None
    return np.asarray(y).astype(out.dtype).reshape(shp)


def _need(a: np.ndarray | None) -> np.ndarray:
    if a is None:
        raise ValueError("a required input is missing")
    return a


def run_reference(graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run the whole graph on ``inputs`` (one array per graph input, in order); returns the outputs."""
    if len(inputs) != len(graph.inputs):
        raise InputError(f"model has {len(graph.inputs)} inputs, got {len(inputs)}")
    env: dict[int, np.ndarray] = {}
    for i, arr in zip(graph.inputs, inputs, strict=True):
        t = graph.tensor(i)
        a = np.asarray(arr)
        if a.size != int(np.prod(t.shape, dtype=np.int64)):
            raise InputError(f"input '{t.name}' needs shape {t.shape}, got {a.shape}")
        if a.dtype != np.dtype(t.dtype):
            raise InputError(f"input '{t.name}' needs dtype {t.dtype}, got {a.dtype}")
        env[i] = a.reshape(t.shape)
    for op in graph.ops:
        args = [_const_or(env, graph, i) for i in op.inputs]
        for ti, y in zip(op.outputs, run_op_all(graph, op, args), strict=True):
            env[ti] = y
    return [env[i] if i in env else _need(graph.tensor(i).data) for i in graph.outputs]

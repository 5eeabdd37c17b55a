"""A plain-data description of a compiled graph: ops, tensors, quantization and the arena plan.

Pure (graph + plan in, dict out); ``eml inspect`` renders it as tables or JSON.
"""

from __future__ import annotations

from typing import Any

from crisp_eml.compiler.planner import MemoryPlan
from crisp_eml.core.graph import Graph, Tensor


def _quant(t: Tensor) -> dict[str, Any] | None:
    if not len(t.scale):
        return None
    if len(t.scale) == 1:
        return {"scale": float(t.scale[0]), "zero_point": int(t.zero_point[0])}
    return {"per_channel": len(t.scale), "axis": t.quantized_dimension, "scale_min": float(t.scale.min()),
            "scale_max": float(t.scale.max()), "zero_point": int(t.zero_point[0])}


def tensor_info(t: Tensor, plan: MemoryPlan | None) -> dict[str, Any]:
    return {"index": t.index, "name": t.name, "shape": list(t.shape), "dtype": t.dtype, "bytes": t.nbytes,
            "constant": t.is_constant, "quantization": _quant(t),
            "offset": None if plan is None else plan.offsets.get(t.index)}


def summarize(graph: Graph, plan: MemoryPlan | None, *, file_bytes: int | None = None) -> dict[str, Any]:
    weights = sum(t.nbytes for t in graph.tensors if t.is_constant)
    ops = [{"index": op.index, "type": op.type, "inputs": op.inputs, "outputs": op.outputs,
            "output_shape": list(graph.tensor(op.outputs[0]).shape), "options": op.options,
            "inplace_lag": None if plan is None else plan.inplace.get(op.index)} for op in graph.ops]
    return {
        "name": graph.name, "file_bytes": file_bytes, "weights_bytes": weights,
        "inputs": [tensor_info(graph.tensor(i), plan) for i in graph.inputs],
        "outputs": [tensor_info(graph.tensor(i), plan) for i in graph.outputs],
        "ops": ops,
        "tensors": [tensor_info(t, plan) for t in graph.tensors],
        "plan": None if plan is None else plan.to_dict(),
    }

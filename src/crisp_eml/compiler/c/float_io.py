"""Float-I/O models: the library works on the int8 tensors inside the QUANTIZE/DEQUANTIZE boundary.

A model converted with float input/output starts with QUANTIZE (float32 -> int8) and ends with DEQUANTIZE
(int8 -> float32). ``strip_float_io`` drops those two ops so the graph's input/output are the int8 tensors:
``<name>_invoke`` takes/returns their codes and ``<name>_run`` quantizes/dequantizes with their parameters,
exactly what the dropped ops compute. Pure.
"""

from __future__ import annotations

from dataclasses import replace

from crisp_eml.core.graph import Graph, Op


def strip_float_io(g: Graph) -> Graph:
    """The same graph without a leading float->int8 QUANTIZE and a trailing int8->float DEQUANTIZE."""
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        return g
    ops = list(g.ops)
    inputs, outputs = list(g.inputs), list(g.outputs)
    first = next((op for op in ops if g.inputs[0] in op.inputs), None)
    if (first is not None and first.type == "QUANTIZE" and g.tensor(g.inputs[0]).dtype == "float32"
            and sum(g.inputs[0] in op.inputs for op in ops) == 1):
        ops.remove(first)
        inputs = [first.outputs[0]]
    last = next((op for op in ops if g.outputs[0] in op.outputs), None)
    if last is not None and last.type == "DEQUANTIZE" and g.tensor(g.outputs[0]).dtype == "float32":
        ops.remove(last)
        outputs = [last.inputs[0]]
    if len(ops) == len(g.ops):
        return g
    ops = [Op(i, op.type, op.inputs, op.outputs, op.options) for i, op in enumerate(ops)]
    return replace(g, ops=ops, inputs=inputs, outputs=outputs)

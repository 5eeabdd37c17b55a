"""Float-I/O models: the library works on the int8 tensors inside the QUANTIZE/DEQUANTIZE boundary.

A model converted with float input/output starts with QUANTIZE (float32 -> int8) and ends with DEQUANTIZE
(int8 -> float32), one per input/output. ``strip_float_io`` drops those ops so the graph's inputs/outputs are
the integer tensors: ``<name>_invoke`` takes/returns their codes and ``<name>_run`` quantizes/dequantizes with
their parameters, exactly what the dropped ops compute. Pure.
"""

from __future__ import annotations

from dataclasses import replace

from crisp_eml.core.graph import Graph, Op


def strip_float_io(g: Graph) -> Graph:
    """The same graph without the float->integer QUANTIZE reading each float input (when it is that input's only
    reader) and the integer->float DEQUANTIZE writing each float output; inputs and outputs keep their order."""
    ops = list(g.ops)
    inputs, outputs = list(g.inputs), list(g.outputs)
    for k, ti in enumerate(g.inputs):
        readers = [op for op in ops if ti in op.inputs]
        first = readers[0] if len(readers) == 1 else None
        if (first is not None and first.type == "QUANTIZE" and g.tensor(ti).dtype == "float32"
                and g.tensor(first.outputs[0]).dtype in _INT and first.outputs[0] not in inputs):
            ops.remove(first)
            inputs[k] = first.outputs[0]
    for k, ti in enumerate(g.outputs):
        last = next((op for op in ops if ti in op.outputs), None)
        if (last is not None and last.type == "DEQUANTIZE" and g.tensor(ti).dtype == "float32"
                and g.tensor(last.inputs[0]).dtype in _INT and sum(ti in op.inputs for op in ops) == 0):
            ops.remove(last)
            outputs[k] = last.inputs[0]
    if len(ops) == len(g.ops):
        return g
    ops = [Op(i, op.type, op.inputs, op.outputs, op.options) for i, op in enumerate(ops)]
    return replace(g, ops=ops, inputs=inputs, outputs=outputs)


_INT = frozenset({"int8", "int16"})

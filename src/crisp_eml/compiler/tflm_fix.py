"""The open-batch model file TFLite Micro can run: space-to-batch tensors given their true batch-1 shapes.

Kept apart from ``compiler.fold`` (a pure graph rewrite the reader runs) because it re-reads the flatbuffer.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.fold import _ints


def tflm_batch_fixed(raw: bytes) -> bytes:
    """The model file with the batch dimension of every tensor between a SPACE_TO_BATCH_ND and its
    BATCH_TO_SPACE_ND set to the block count (one int32 each, in place; nothing else changes).

    An open-batch file stores those tensors with batch 1; TFLite Micro never resizes tensors, so it runs the
    space-to-batch into a buffer a block count too small and computes garbage (the same output for every input).
    With their true batch-1 shapes it runs the model as the desktop interpreter would after resizing. Files
    without SPACE_TO_BATCH_ND come back unchanged."""
    from crisp_eml.compiler.reader import _load_tflite, _parse

    tfl = _load_tflite()
    g = _parse(tfl, raw)
    fix: dict[int, int] = {}
    for stb in [op for op in g.ops if op.type == "SPACE_TO_BATCH_ND" and len(op.inputs) > 1]:
        block = _ints(g.tensor(stb.inputs[1]))
        if not block:
            continue
        ti = stb.outputs[0]
        while ti not in fix:
            fix[ti] = int(np.prod(block))
            users = [op for op in g.ops if ti in op.inputs]
            if len(users) != 1 or users[0].type == "BATCH_TO_SPACE_ND" or not users[0].outputs:
                break
            ti = users[0].outputs[0]
    if not fix:
        return raw
    buf = bytearray(raw)
    sg = tfl.Model.GetRootAs(raw, 0).Subgraphs(0)
    for ti, nb in fix.items():
        tab = sg.Tensors(ti)._tab
        field = tab.Offset(4)  # Tensor.shape
        if not field or tab.VectorLen(field) < 1:
            continue
        at = tab.Vector(field)
        if int.from_bytes(buf[at:at + 4], "little", signed=True) == 1:
            buf[at:at + 4] = nb.to_bytes(4, "little", signed=True)
    return bytes(buf)

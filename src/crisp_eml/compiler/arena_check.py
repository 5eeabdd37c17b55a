"""Execute a graph inside one flat arena laid out by a ``MemoryPlan`` and prove the plan is safe.

Every activation lives at its planned offset; each op reads its inputs from the arena and writes its
outputs there (every output of ops with several, e.g. SPLIT). Before an op runs, each input must still hold
exactly the bytes its producer wrote (nothing clobbered it); outputs may only land on bytes of dead tensors
or of inputs dying at this op. An output that overlaps an input is replayed byte by byte in the kernels'
write order (``compiler.inplace.write_order``, the same model the planner uses): each byte written by group
``g`` that lands inside the input must lie below the first input byte a strictly later group still reads.
Overlapping an input without a known write order (and any overlap for ops with several outputs) is refused.
Any violation raises :class:`VerificationError`; otherwise the graph outputs read back from the arena are
returned (and equal ``run_reference``'s).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.compiler.inplace import NO_READ, WriteOrder, write_order
from crisp_eml.compiler.ops import ALIAS_OPS
from crisp_eml.compiler.reference import run_op_all
from crisp_eml.core.errors import VerificationError
from crisp_eml.core.graph import Graph


def _last_use(g: Graph) -> dict[int, int]:
    last: dict[int, int] = {}
    for op in g.ops:
        for ti in op.inputs:
            if ti >= 0:
                last[ti] = op.index
    for ti in g.outputs:
        last[ti] = len(g.ops)
    return last


def check_plan(graph: Graph, plan: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run ``graph`` in an arena of ``plan.arena_bytes`` following ``plan.offsets``; see module docstring."""
    size = int(plan.arena_bytes)
    arena = np.zeros(size, np.uint8)
    owner = np.full(size, -1, np.int64)  # tensor whose bytes currently sit here
    last = _last_use(graph)
    # aliased tensors (RESHAPE/SQUEEZE outputs) share their source's bytes: resolve to the root tensor
    root: dict[int, int] = {}

    def where(ti: int) -> tuple[int, int]:
        t = graph.tensor(ti)
        off = plan.offsets.get(ti)
        if off is None:
            raise VerificationError(f"plan has no offset for tensor {ti} ('{t.name}')")
        if off < 0 or off + t.nbytes > size:
            raise VerificationError(f"tensor {ti} at {off}+{t.nbytes} lies outside the {size}-byte arena")
        return int(off), t.nbytes

    def alive_until(ti: int) -> int:
        return max([last.get(ti, -1)] + [last.get(a, -1) for a, r in root.items() if r == ti])

    def write(ti: int, data: np.ndarray, op_index: int) -> None:
        off, n = where(ti)
        holders = set(np.unique(owner[off:off + n]).tolist()) - {-1}
        for h in holders:
            if alive_until(h) > op_index or (alive_until(h) == op_index and h not in inputs_now):
                raise VerificationError(f"op {op_index}: output tensor {ti} overwrites live tensor {h}")
        arena[off:off + n] = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        owner[off:off + n] = ti

    def read(ti: int, op_index: int) -> np.ndarray:
        t = graph.tensor(ti)
        r = root.get(ti, ti)
        off, n = where(ti)
        if not (owner[off:off + n] == r).all():
            raise VerificationError(f"op {op_index}: input tensor {ti} ('{t.name}') was clobbered")
        return np.frombuffer(arena[off:off + n].tobytes(), np.dtype(t.dtype)).reshape(t.shape)

    inputs_now: set[int] = set()
    for ti, x in zip(graph.inputs, inputs, strict=True):
        write(ti, np.asarray(x, graph.tensor(ti).dtype), -1)
    for op in graph.ops:
        acts = [ti for ti in op.inputs if ti >= 0 and not graph.tensor(ti).is_constant]
        inputs_now = {root.get(ti, ti) for ti in acts}
        args = [graph.tensor(ti).data if ti >= 0 and graph.tensor(ti).is_constant else
                (read(ti, op.index) if ti >= 0 else None) for ti in op.inputs]
        ys = run_op_all(graph, op, args)
        if (op.type in ALIAS_OPS and acts and len(op.outputs) == 1
                and plan.offsets.get(op.outputs[0]) == plan.offsets.get(acts[0])):
            root[op.outputs[0]] = root.get(acts[0], acts[0])
            continue
        for yi, y in zip(op.outputs, ys, strict=True):
            for xi in dict.fromkeys(acts):
                if _overlap(graph, plan, xi, yi):
                    _check_write_order(graph, op, plan, xi, yi)
            write(yi, y, op.index)
    return [read(ti, len(graph.ops)).copy() for ti in graph.outputs]


def _overlap(graph: Graph, plan: Any, a: int, b: int) -> bool:
    oa, ob = int(plan.offsets[a]), int(plan.offsets[b])
    return oa < ob + graph.tensor(b).nbytes and ob < oa + graph.tensor(a).nbytes


def _order(graph: Graph, op: Any, xi: int, yi: int) -> WriteOrder | None:
    """The write order of output ``yi`` against input ``xi`` (every position ``xi`` is read at must allow it)."""
    if op.outputs != [yi]:
        return None
    orders = [write_order(graph, op, pos) for pos, ti in enumerate(op.inputs) if ti == xi]
    if not orders or any(o is None for o in orders):
        return None
    ends = orders[0].ends  # type: ignore[union-attr]
    need = np.minimum.reduce([o.need for o in orders])  # type: ignore[union-attr]
    return WriteOrder(ends, need)


def _check_write_order(graph: Graph, op: Any, plan: Any, xi: int, yi: int) -> None:
    """Replay the output bytes in write order: none may land on an input byte a later group still reads."""
    order = _order(graph, op, xi, yi)
    if order is None:
        raise VerificationError(f"op {op.index} ({op.type}) writes output tensor {yi} over its input tensor {xi} "
                                "but its write order is unknown")
    x, y = graph.tensor(xi), graph.tensor(yi)
    sx, sy = np.dtype(x.dtype).itemsize, np.dtype(y.dtype).itemsize
    off_x, off_y = int(plan.offsets[xi]), int(plan.offsets[yi])
    lo, hi = max(off_x, off_y), min(off_x + x.nbytes, off_y + y.nbytes)
    byte = np.arange(lo, hi, dtype=np.int64)  # arena bytes both tensors own
    group = np.searchsorted(order.ends * sy, byte - off_y, side="right")  # the group that writes each byte
    need = order.need[group]
    bad = (need != NO_READ) & (byte - off_x >= np.minimum(need, x.nbytes // sx) * sx)
    if bad.any():
        b0 = int(np.argmax(bad))
        raise VerificationError(f"op {op.index} ({op.type}): output group {int(group[b0])} writes input byte "
                                f"{int(byte[b0]) - off_x} of tensor {xi} before a later group reads it")

"""Execute a graph inside one flat arena laid out by a ``MemoryPlan`` and prove the plan is safe.

Every activation lives at its planned offset; each op reads its inputs from the arena and writes its
output there in the kernels' write order. Before an op runs, each input must still hold exactly the
bytes its producer wrote (nothing clobbered it); while an in-place op writes element ``k`` the input
bytes still to be read (``read_min`` of later elements) must not have been overwritten; outputs may
only land on bytes of dead tensors. Any violation raises :class:`VerificationError`; otherwise the
graph outputs read back from the arena are returned (and equal ``run_reference``'s).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.compiler.inplace import NO_READ, read_min
from crisp_eml.compiler.ops import ALIAS_OPS
from crisp_eml.compiler.reference import run_op
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


def _group(op_type: str) -> int:
    try:
        from crisp_eml.compiler.c.kernel_groups import KERNEL_GROUPS
    except ImportError:
        return 1
    return int(KERNEL_GROUPS.get(op_type, 1))


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
        y = run_op(graph, op, args)
        yi = op.outputs[0]
        if op.type in ALIAS_OPS and acts and plan.offsets.get(yi) == plan.offsets.get(acts[0]):
            root[yi] = root.get(acts[0], acts[0])
            continue
        for xi in acts:
            if len(acts) == 1:
                _check_write_order(graph, op, plan, xi, yi)
            elif _overlap(graph, plan, xi, yi):
                raise VerificationError(f"op {op.index} ({op.type}) writes over one of its several inputs")
        write(yi, y, op.index)
    return [read(ti, len(graph.ops)).copy() for ti in graph.outputs]


def _overlap(graph: Graph, plan: Any, a: int, b: int) -> bool:
    oa, ob = int(plan.offsets[a]), int(plan.offsets[b])
    return oa < ob + graph.tensor(b).nbytes and ob < oa + graph.tensor(a).nbytes


def _check_write_order(graph: Graph, op: Any, plan: Any, xi: int, yi: int) -> None:
    """Output element k lands at off_y + k; input bytes read by elements >= k must still be intact."""
    off_x, off_y = int(plan.offsets[xi]), int(plan.offsets[yi])
    n_x, n_y = graph.tensor(xi).nbytes, graph.tensor(yi).nbytes
    if not _overlap(graph, plan, xi, yi):
        return
    mins = read_min(graph, op)
    if mins is None:
        raise VerificationError(f"op {op.index} ({op.type}) overlaps its input but its reads are unknown")
    g = _group(op.type)
    if g > 1:
        pad = (-n_y) % g
        mins = np.repeat(np.concatenate([mins, np.full(pad, NO_READ)]).reshape(-1, g).min(axis=1), g)[:n_y]
    suffix = np.minimum.accumulate(mins[::-1])[::-1]
    k = np.arange(n_y, dtype=np.int64)
    group_end = np.minimum((k // g + 1) * g - 1, n_y - 1)
    # bytes written up to and including k's group reach address off_y + group_end; the earliest input
    # byte still needed is off_x + suffix[k]
    bad = (suffix != NO_READ) & (off_y + group_end >= off_x + np.minimum(suffix, n_x)) & (off_y + group_end >= off_x)
    if bad.any():
        k0 = int(np.argmax(bad))
        raise VerificationError(f"op {op.index} ({op.type}): writing output element {k0} clobbers input byte "
                                f"{off_y + int(group_end[k0]) - off_x} before it is read")

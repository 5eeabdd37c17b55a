"""Shared checks for memory-plan tests: independent liveness/overlap check and read_min soundness."""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.inplace import NO_READ, inplace_lag, read_min
from crisp_eml.compiler.planner import MemoryPlan
from crisp_eml.compiler.reference import run_op
from crisp_eml.core.graph import Graph


def _live_at(g: Graph) -> list[set[int]]:
    """Independent liveness: tensors alive during each op (inputs before op 0 at index 0)."""
    first: dict[int, int] = {i: 0 for i in g.inputs}
    last: dict[int, int] = {}
    for op in g.ops:
        for ti in op.outputs:
            first.setdefault(ti, op.index)
        for ti in op.inputs:
            if ti >= 0 and not g.tensor(ti).is_constant:
                last[ti] = op.index
    for ti in g.outputs:
        last[ti] = len(g.ops)
    return [{t for t in first if first[t] <= k <= last.get(t, first[t])} for k in range(len(g.ops) + 1)]


def assert_no_illegal_overlap(g: Graph, plan: MemoryPlan) -> None:
    alias = {op.outputs[0]: op.inputs[0] for op in g.ops if op.index in plan.inplace and plan.inplace[op.index] == 0}
    pairs = {(x, y) for _, x, y, _ in plan.overlaps}
    for k, x, y, _ in plan.overlaps:  # each sanctioned overlap honours the lag of every input slot x fills
        op = g.ops[k]
        lags = [inplace_lag(g, op, pos) for pos, ti in enumerate(op.inputs) if ti == x]
        assert lags and None not in lags and op.outputs == [y], (k, x, y)
        assert plan.offsets[y] <= plan.offsets[x] - max(lag for lag in lags if lag is not None), (k, x, y)
    for t in g.tensors:
        if not t.is_constant:
            assert t.index in plan.offsets and plan.offsets[t.index] >= 0
            assert plan.offsets[t.index] + t.nbytes <= plan.arena_bytes
    for live in _live_at(g):
        items = sorted(live)
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                if alias.get(a) == b or alias.get(b) == a or (a, b) in pairs or (b, a) in pairs:
                    continue
                oa, ob = plan.offsets[a], plan.offsets[b]
                assert oa + g.tensor(a).nbytes <= ob or ob + g.tensor(b).nbytes <= oa, (a, b)


def assert_read_min_sound(g: Graph, seed: int = 0) -> None:
    """Perturbing input bytes below read_min(k) never changes output element k (reference kernels)."""
    rng = np.random.default_rng(seed)
    env: dict[int, np.ndarray] = {}
    for i in g.inputs:
        t = g.tensor(i)
        env[i] = rng.integers(-128, 128, size=t.shape, dtype=np.int8) if t.dtype == "int8" else \
            rng.uniform(-2, 2, size=t.shape).astype(np.float32)
    for op in g.ops:
        args = [None if i < 0 else (g.tensor(i).data if g.tensor(i).is_constant else env[i]) for i in op.inputs]
        y = run_op(g, op, args)
        env[op.outputs[0]] = y
        mins = read_min(g, op) if not g.tensor(op.inputs[0]).is_constant else None
        if mins is None or g.tensor(op.inputs[0]).dtype != "int8":
            continue
        x = args[0]
        assert x is not None
        for cut in sorted(set(rng.integers(1, x.size + 1, size=4).tolist())):
            x2 = x.copy().reshape(-1)
            x2[:cut] = rng.integers(-128, 128, size=cut, dtype=np.int8)
            y2 = run_op(g, op, [x2.reshape(x.shape), *args[1:]]).reshape(-1)
            keep = (mins >= cut) & (mins != NO_READ) | (mins == NO_READ)
            assert np.array_equal(y2[keep], y.reshape(-1)[keep]), (op.index, op.type, cut)

"""An independent oracle for memory plans of small hand-built graphs: validity check and brute-force optimum.

Written from the planner's contract (module docstring of ``compiler.planner``), not from its code: lifetimes
from the first to the last reference of a tensor, RESHAPE/SQUEEZE outputs alias their input, two tensors
alive at the same time never overlap except an op's output written ``lag`` bytes (``inplace_lag``, per input
slot) or more below one of its dying activation inputs. The optimum is the best lowest-fit packing over every placement
order (any packing can be pushed down, buffer by buffer in order of offset, to the lowest-fit one of that
order), with validity checked pairwise on offsets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from crisp_eml.compiler.inplace import inplace_lag
from crisp_eml.compiler.planner import MemoryPlan
from crisp_eml.core.graph import Graph, Op, Tensor

ALIASES = ("RESHAPE", "SQUEEZE")


def build(shapes: list[tuple[int, ...]], ops: list[tuple[str, list[int], list[int]]], inputs: list[int],
          outputs: list[int], *, dtypes: dict[int, str] | None = None, consts: tuple[int, ...] = ()) -> Graph:
    """A graph of ``len(shapes)`` tensors (int8 unless ``dtypes`` says otherwise; ``consts`` hold data)."""
    dtypes = dtypes or {}
    tensors = []
    for i, shape in enumerate(shapes):
        dt = dtypes.get(i, "int8")
        data = np.zeros(shape, dt) if i in consts else None
        tensors.append(Tensor(i, f"t{i}", tuple(shape), dt, data=data))
    return Graph(tensors, [Op(k, t, list(ins), list(outs)) for k, (t, ins, outs) in enumerate(ops)],
                 list(inputs), list(outputs))


@dataclass
class Group:
    """Tensors sharing bytes (an alias chain) and their common lifetime; ``first`` None = never referenced."""

    tensors: list[int]
    size: int
    align: int
    first: int | None
    last: int


def _groups(g: Graph) -> tuple[list[Group], dict[int, int]]:
    root: dict[int, int] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(ti: int, k: int, default_first: int) -> None:
        first.setdefault(ti, default_first)
        last[ti] = max(last.get(ti, k), k)

    for ti in g.inputs:
        if not g.tensor(ti).is_constant:
            touch(ti, -1, -1)
    for op in g.ops:
        for ti in op.inputs:
            if ti >= 0 and not g.tensor(ti).is_constant:
                touch(ti, op.index, -1)  # read before any write: alive from the start
        for ti in op.outputs:
            if not g.tensor(ti).is_constant:
                src = op.inputs[0] if op.inputs else -1
                if (op.type in ALIASES and ti not in first and src >= 0 and not g.tensor(src).is_constant
                        and g.tensor(src).dtype == g.tensor(ti).dtype):
                    root[ti] = root.get(src, src)
                touch(ti, op.index, op.index)
    for ti in g.outputs:
        if ti in first:
            last[ti] = len(g.ops)
    groups: list[Group] = []
    index: dict[int, int] = {}
    for t in g.tensors:
        if t.is_constant:
            continue
        r = root.get(t.index, t.index)
        if r not in index:
            index[r] = len(groups)
            groups.append(Group([], 0, int(np.dtype(t.dtype).itemsize), None, -10))
        gr = groups[index[r]]
        gr.tensors.append(t.index)
        gr.size = max(gr.size, t.nbytes)
        if t.index in first:
            gr.first = first[t.index] if gr.first is None else min(gr.first, first[t.index])
            gr.last = max(gr.last, last[t.index])
        index[t.index] = index[r]
    return groups, index


def _alive_together(a: Group, b: Group) -> bool:
    return a.first is not None and b.first is not None and a.first <= b.last and b.first <= a.last


def reuse_pairs(g: Graph) -> dict[tuple[int, int], tuple[int, int]]:
    """(input group, output group) -> (lag, op) for ops allowed to write their output over their input."""
    groups, index = _groups(g)
    pairs: dict[tuple[int, int], tuple[int, int]] = {}
    for op in g.ops:
        if op.type in ALIASES or len(op.outputs) != 1 or g.tensor(op.outputs[0]).is_constant:
            continue
        y = index[op.outputs[0]]
        lags: dict[int, list[int | None]] = {}
        for pos, ti in enumerate(op.inputs):  # any dying activation input, each slot with its own lag
            if ti >= 0 and not g.tensor(ti).is_constant:
                x = index[ti]
                if x != y and groups[x].last == op.index and groups[y].first == op.index:
                    lags.setdefault(x, []).append(inplace_lag(g, op, pos))
        for x, ls in lags.items():
            if None not in ls:
                pairs[(x, y)] = (max(lag for lag in ls if lag is not None), op.index)
    return pairs


def _ok(a: int, off_a: int, b: int, off_b: int, groups: list[Group], lags: dict[tuple[int, int], int]) -> bool:
    if off_a + groups[a].size <= off_b or off_b + groups[b].size <= off_a:
        return True
    if (b, a) in lags:  # a is written over its input b
        return off_a <= off_b - lags[(b, a)]
    if (a, b) in lags:
        return off_b <= off_a - lags[(a, b)]
    return False


def optimal_arena(g: Graph) -> int:
    """Smallest arena of any valid plan (brute force over placement orders: keep graphs to ~6 buffers)."""
    groups, _ = _groups(g)
    lags = {k: v[0] for k, v in reuse_pairs(g).items()}
    live = [i for i, gr in enumerate(groups) if gr.first is not None]
    floor = max((gr.size for gr in groups if gr.first is None), default=0)  # unused tensors sit at 0
    best = sum(groups[i].size for i in live) + floor
    for order in itertools.permutations(live):
        placed: dict[int, int] = {}
        for a in order:
            al = groups[a].align
            cands = {0} | {placed[b] + groups[b].size for b in placed} | {placed[b] + lag for (x, y), lag in
                                                                        lags.items() for b in (x, y) if b in placed}
            for c in sorted(-(-c // al) * al for c in cands if c >= 0):  # a negative lag may point below 0
                if all(_ok(a, c, b, placed[b], groups, lags) for b in placed
                       if _alive_together(groups[a], groups[b])):
                    placed[a] = c
                    break
        best = min(best, max([floor] + [placed[a] + groups[a].size for a in placed]))
    return best


def peak_live(g: Graph) -> int:
    """Most bytes of tensor groups alive at once (before op 0, during each op, after the last)."""
    groups, _ = _groups(g)
    return max([0] + [sum(gr.size for gr in groups if gr.first is not None and gr.first <= t <= gr.last)
                      for t in range(-1, len(g.ops) + 1)])


def assert_plan_valid(g: Graph, plan: MemoryPlan) -> None:
    """Every guarantee of a plan, checked against the contract (see module docstring)."""
    groups, index = _groups(g)
    pairs = reuse_pairs(g)
    acts = [t for t in g.tensors if not t.is_constant]
    assert set(plan.offsets) == {t.index for t in acts}  # every activation placed, no constant
    for t in acts:
        off = plan.offsets[t.index]
        assert type(off) is int and off >= 0 and off % np.dtype(t.dtype).itemsize == 0, (t.index, off)
    assert plan.arena_bytes == max([0] + [plan.offsets[t.index] + t.nbytes for t in acts])
    for gr in groups:  # an alias chain shares its bytes
        assert len({plan.offsets[ti] for ti in gr.tensors}) == 1, gr.tensors
        for ti in gr.tensors:
            assert plan.lifetimes[ti] == ((gr.first, gr.last) if gr.first is not None else (-2, -2)), ti
    used: dict[int, int] = {}
    for (x, y), (lag, k) in pairs.items():
        ox, oy = plan.offsets[groups[x].tensors[0]], plan.offsets[groups[y].tensors[0]]
        if ox < oy + groups[y].size and oy < ox + groups[x].size:
            used[k] = max(lag, used.get(k, lag))
    lags = {k: v[0] for k, v in pairs.items()}
    for ia, ib in itertools.combinations(range(len(groups)), 2):
        a, b = groups[ia], groups[ib]
        if _alive_together(a, b):
            assert _ok(ia, plan.offsets[a.tensors[0]], ib, plan.offsets[b.tensors[0]], groups, lags), (a, b)
    aliased = {op.index: 0 for op in g.ops if op.type in ALIASES and op.outputs and op.inputs
               and op.outputs[0] in index and op.inputs[0] in index and index[op.outputs[0]] == index[op.inputs[0]]}
    assert plan.inplace == {**used, **aliased}  # exactly the ops whose output overlaps their input
    assert plan.peak_live_bytes == peak_live(g)

"""Static memory planner: one arena offset for every non-constant tensor, with in-place reuse.

Tensors become *buffers* (a RESHAPE/SQUEEZE output aliases its input: same bytes, no copy). Each buffer
lives from the op that writes it to the last op that reads it (graph inputs from before op 0, graph
outputs to the end). Two buffers alive at the same time must not overlap, except an op's output ``y`` and
an activation input ``x`` that dies at that op (any of them: ADD may write over either input) when the
kernel's write order allows it (``compiler.c.kernel_groups``): then ``offset(y) <= offset(x) - lag`` with
``lag = max_g (end(g) - need(g))`` over the output's write groups, ``need(g)`` the first input byte a
strictly later group reads (``compiler.inplace``; the lag may be negative). Ops with several outputs get a
buffer per output and are never placed over their inputs.

Placement: every buffer gets the lowest offset that respects the constraints with the buffers already
placed. For small graphs the order is searched exactly (branch and bound over orders; any optimal
packing is reached by lowest-fit in order of its offsets), otherwise several greedy orders are tried.
The plan is never worse than plain greedy-by-size without in-place (that plan is computed too and kept
when better). The plan names the op that sets the peak: the op during which the arena's top byte is in
use (ties: the most bytes in use), with its live tensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crisp_eml.compiler.inplace import inplace_lag
from crisp_eml.compiler.ops import ALIAS_OPS
from crisp_eml.core.graph import Graph

EXACT_MAX_BUFFERS = 14
EXACT_NODE_LIMIT = 200_000  # placements the exact search may try before it settles for its best so far
UNUSED = -2  # lifetime (UNUSED, UNUSED) of a tensor no op references: it overlaps nothing and takes no space


@dataclass
class MemoryPlan:
    arena_bytes: int
    offsets: dict[int, int]  # tensor index -> byte offset (every non-constant tensor)
    inplace: dict[int, int]  # op index -> lag bytes, for ops whose output overlaps (or aliases) an input
    # tensor -> (first op, last op): -1 = before op 0 (graph inputs), len(ops) = after the last op (graph
    # outputs), (UNUSED, UNUSED) for a tensor no op references
    lifetimes: dict[int, tuple[int, int]] = field(default_factory=dict)
    peak_live_bytes: int = 0  # max over ops of the bytes of simultaneously live buffers
    greedy_bytes: int = 0  # arena of greedy-by-size with no in-place reuse (the baseline)
    method: str = "greedy"
    # every output placed over one of its inputs: (op index, input tensor, output tensor, lag bytes)
    overlaps: list[tuple[int, int, int, int]] = field(default_factory=list)
    # the op that sets the arena size: {"op", "type", "live_bytes", "top", "tensors": [{tensor, name, offset,
    # bytes}]} (empty for a graph without ops)
    peak: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["offsets"] = {str(k): v for k, v in sorted(self.offsets.items())}
        d["inplace"] = {str(k): v for k, v in sorted(self.inplace.items())}
        d["lifetimes"] = {str(k): list(v) for k, v in sorted(self.lifetimes.items())}
        return d


@dataclass
class _Buf:
    size: int
    first: int
    last: int
    align: int


def _buffers(g: Graph) -> tuple[list[_Buf], dict[int, int]]:
    """Group aliased tensors into buffers; returns buffers and tensor -> buffer index."""
    n_ops = len(g.ops)
    owner: dict[int, int] = {}
    bufs: list[_Buf] = []

    def new(ti: int, first: int) -> None:
        t = g.tensor(ti)
        owner[ti] = len(bufs)
        bufs.append(_Buf(t.nbytes, first, first, max(1, t_item(t.dtype))))

    for ti in g.inputs:
        if not g.tensor(ti).is_constant and ti not in owner:
            new(ti, -1)
    for op in g.ops:
        for ti in op.inputs:
            if ti >= 0 and not g.tensor(ti).is_constant:
                if ti not in owner:  # read before written: treat as living from the start
                    new(ti, -1)
                bufs[owner[ti]].last = max(bufs[owner[ti]].last, op.index)
        src = op.inputs[0] if op.inputs else -1
        for ti in op.outputs:
            if g.tensor(ti).is_constant:
                continue
            if ti in owner:  # written again (a state read before it is written): its bytes live until then
                bufs[owner[ti]].last = max(bufs[owner[ti]].last, op.index)
                continue
            if (op.type in ALIAS_OPS and src >= 0 and src in owner
                    and g.tensor(src).dtype == g.tensor(ti).dtype):
                b = owner[src]
                owner[ti] = b
                bufs[b].size = max(bufs[b].size, g.tensor(ti).nbytes)
            else:
                new(ti, op.index)
    for ti in g.outputs:
        if ti in owner:
            bufs[owner[ti]].last = n_ops
    for t in g.tensors:  # referenced by no op: an offset (0) but no lifetime, so it takes no space
        if not t.is_constant and t.index not in owner:
            new(t.index, UNUSED)
    return bufs, owner


def t_item(dtype: str) -> int:
    import numpy as np

    return int(np.dtype(dtype).itemsize)


def _inplace_pairs(g: Graph, bufs: list[_Buf], owner: dict[int, int]
                   ) -> dict[tuple[int, int], tuple[int, int, int]]:
    """(x buffer, y buffer) -> (lag, op index, x tensor) for outputs that may be written over a dying input."""
    pairs: dict[tuple[int, int], tuple[int, int, int]] = {}
    for op in g.ops:
        if op.type in ALIAS_OPS or len(op.outputs) != 1 or op.outputs[0] not in owner:
            continue
        by = owner[op.outputs[0]]
        if bufs[by].first != op.index:
            continue
        lags: dict[int, int | None] = {}
        first_tensor: dict[int, int] = {}
        for pos, ti in enumerate(op.inputs):
            if ti < 0 or g.tensor(ti).is_constant or ti not in owner:
                continue
            bx = owner[ti]
            if bx == by or bufs[bx].last != op.index:
                continue
            lag = inplace_lag(g, op, pos)
            prev = lags.get(bx, lag)  # the same buffer at several inputs: every order must hold
            lags[bx] = None if lag is None or prev is None else max(lag, prev)
            first_tensor.setdefault(bx, ti)
        for bx, lag in lags.items():
            if lag is not None:
                pairs[(bx, by)] = (lag, op.index, first_tensor[bx])
    return pairs


def _conflicts(bufs: list[_Buf]) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in bufs]
    for i, a in enumerate(bufs):
        for j in range(i + 1, len(bufs)):
            b = bufs[j]
            if a.first <= b.last and b.first <= a.last and a.first != UNUSED:
                out[i].append(j)
                out[j].append(i)
    return out


class _Packer:
    def __init__(self, bufs: list[_Buf], pairs: dict[tuple[int, int], tuple[int, int, int]]) -> None:
        self.bufs = bufs
        self.conf = _conflicts(bufs)
        self.conf_sets = [set(c) for c in self.conf]
        self.pairs = {k: v[0] for k, v in pairs.items()}

    def forbidden(self, a: int, b: int, off_b: int) -> tuple[int, int]:
        """Open interval of offsets where buffer ``a`` may not start, given ``b`` placed at ``off_b``."""
        sa, sb = self.bufs[a].size, self.bufs[b].size
        if (b, a) in self.pairs:  # a is the output written over input b: may sit at or below off_b - lag
            sa = min(sa, self.pairs[(b, a)])
        if (a, b) in self.pairs:  # a is the input, b the output below it
            sb = min(sb, self.pairs[(a, b)])
        return off_b - sa, off_b + sb

    def lowest(self, a: int, placed: dict[int, int]) -> int:
        ivs = sorted(self.forbidden(a, b, placed[b]) for b in self.conf[a] if b in placed)
        align = self.bufs[a].align
        cand = 0
        changed = True
        while changed:
            changed = False
            for lo, hi in ivs:
                if lo < cand < hi:
                    cand = -(-hi // align) * align
                    changed = True
        return cand

    def place(self, order: list[int]) -> tuple[int, dict[int, int]]:
        placed: dict[int, int] = {}
        top = 0
        for a in order:
            placed[a] = self.lowest(a, placed)
            top = max(top, placed[a] + self.bufs[a].size)
        return top, placed

    def exact(self, start_best: int) -> tuple[int, dict[int, int] | None, bool]:
        """Branch and bound over placement orders. Returns (best, placement or None, finished)."""
        n = len(self.bufs)
        best = start_best
        best_plan: dict[int, int] | None = None
        nodes = 0
        lower = _live_peak(self.bufs, self.pairs)

        def dfs(placed: dict[int, int], top: int, prev: int) -> bool:
            nonlocal best, best_plan, nodes
            if len(placed) == n:
                if top < best:
                    best, best_plan = top, dict(placed)
                return best <= lower
            cands = []
            for a in range(n):
                # lowest-fit of a buffer only depends on the placed buffers it conflicts with, so two
                # non-conflicting buffers placed one after the other give the same packing in either order:
                # keep only the order with the smaller index first.
                if a in placed or (a < prev and a not in self.conf_sets[prev]):
                    continue
                off = self.lowest(a, placed)
                if off + self.bufs[a].size >= best:
                    continue
                cands.append((off, -self.bufs[a].size, a))
            cands.sort()
            for off, _, a in cands:
                nodes += 1
                if nodes > EXACT_NODE_LIMIT:
                    return True
                placed[a] = off
                stop = dfs(placed, max(top, off + self.bufs[a].size), a)
                del placed[a]
                if stop:
                    return True
            return False

        dfs({}, 0, -1)
        return best, best_plan, nodes <= EXACT_NODE_LIMIT


def _live_peak(bufs: list[_Buf], pairs: dict[tuple[int, int], int]) -> int:
    """Lower bound: the most bytes alive at one op (an in-place pair counts its output plus the lag)."""
    hi = max((b.last for b in bufs), default=UNUSED)
    peak = 0
    for t in range(-1, hi + 1):  # unused buffers (UNUSED) are never live
        live = [i for i, b in enumerate(bufs) if b.first <= t <= b.last]
        total = sum(bufs[i].size for i in live)
        for (x, y), lag in pairs.items():
            if x in live and y in live:  # overlapping pair spans at least max(size_x, size_y, lag + size_x)
                sx, sy = bufs[x].size, bufs[y].size
                total -= sx + sy - min(sx + sy, max(sx, sy, lag + sx))
        peak = max(peak, total)
    return peak


def _orders(bufs: list[_Buf]) -> list[list[int]]:
    idx = list(range(len(bufs)))
    return [
        sorted(idx, key=lambda i: (-bufs[i].size, bufs[i].first)),
        sorted(idx, key=lambda i: (bufs[i].first, -bufs[i].size)),
        sorted(idx, key=lambda i: (-(bufs[i].last - bufs[i].first), -bufs[i].size)),
        sorted(idx, key=lambda i: (-bufs[i].size * (bufs[i].last - bufs[i].first + 1), bufs[i].first)),
        # latest first: an in-place output is placed before its input, which then lands ``lag`` above it
        sorted(idx, key=lambda i: (-bufs[i].first, -bufs[i].size)),
        sorted(idx, key=lambda i: (-bufs[i].last, -bufs[i].size)),
    ]


def plan_memory(graph: Graph, *, inplace: bool = True, exact: bool = True) -> MemoryPlan:
    """Plan the arena for ``graph`` (see module docstring)."""
    bufs, owner = _buffers(graph)
    pairs = _inplace_pairs(graph, bufs, owner) if inplace else {}

    base = _Packer(bufs, {})
    greedy_bytes, greedy_place = base.place(_orders(bufs)[0])

    packer = _Packer(bufs, pairs)
    best, best_place, method = greedy_bytes, greedy_place, "greedy-by-size"
    for order in _orders(bufs):
        top, place = packer.place(order)
        if top < best:
            best, best_place, method = top, place, "greedy+inplace"
    if exact and len(bufs) <= EXACT_MAX_BUFFERS:
        # a finished search always finds a plan (the greedy ones are among the packings it reaches)
        found_top, found, finished = packer.exact(best + 1)
        if found is not None:
            best, best_place = found_top, found
            method = "exact+inplace" if finished else "search+inplace"
    overlaps: list[tuple[int, int, int, int]] = []
    inplace_ops: dict[int, int] = {}
    if method != "greedy-by-size":
        for (bx, by), (lag, opi, xt) in sorted(pairs.items(), key=lambda kv: (kv[1][1], kv[1][2])):
            if best_place[by] < best_place[bx] + bufs[bx].size and best_place[bx] < best_place[by] + bufs[by].size:
                overlaps.append((opi, xt, graph.ops[opi].outputs[0], lag))
                inplace_ops[opi] = max(lag, inplace_ops.get(opi, lag))
    offsets = {ti: best_place[b] for ti, b in owner.items()}
    for op in graph.ops:  # aliases: output is the input's bytes, nothing moves
        if op.type in ALIAS_OPS and op.outputs and op.inputs and owner.get(op.outputs[0]) == owner.get(op.inputs[0]):
            inplace_ops[op.index] = 0
    lifetimes = {ti: (bufs[b].first, bufs[b].last) for ti, b in owner.items()}
    return MemoryPlan(best, offsets, dict(sorted(inplace_ops.items())), lifetimes,
                      _live_peak(bufs, {}), greedy_bytes, method, overlaps,
                      _peak_op(graph, bufs, owner, best_place))


def _peak_op(g: Graph, bufs: list[_Buf], owner: dict[int, int], place: dict[int, int]) -> dict[str, Any]:
    """The op during which the arena's top byte is in use (ties: most bytes in use), with its live tensors."""
    best: tuple[int, int, int] | None = None
    for op in g.ops:
        live = [b for b, buf in enumerate(bufs) if buf.first <= op.index <= buf.last]
        spans = sorted((place[b], place[b] + bufs[b].size) for b in live)
        used, reach = 0, 0
        for lo, hi in spans:  # bytes covered by the union of the live buffers
            used += max(0, hi - max(lo, reach))
            reach = max(reach, hi)
        key = (reach, used, -op.index)
        if best is None or key > best:
            best = key
    if best is None:
        return {}
    top, used, neg = best
    op = g.ops[-neg]
    tensors = [{"tensor": ti, "name": g.tensor(ti).name, "offset": place[b], "bytes": g.tensor(ti).nbytes}
               for ti, b in sorted(owner.items()) if bufs[b].first <= op.index <= bufs[b].last]
    return {"op": op.index, "type": op.type, "live_bytes": used, "top": top, "tensors": tensors}

"""Train/test splits decided by content hashes, so the same data always lands on the same side.

Pure functions (no I/O): ingestion calls :func:`assign_category` per sample; ``eml data rebalance``
calls :func:`split` for the whole dataset, optionally stratified per label and keeping every sample
that shares a metadata value (e.g. ``subject``) on one side so one person never leaks across the split.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crisp_eml.core.errors import InputError

TRAINING = "training"
TESTING = "testing"


def _check_fraction(test_fraction: float) -> float:
    f = float(test_fraction)
    if not 0.0 <= f <= 1.0 or f != f:
        raise InputError(f"must be between 0 and 1, got {test_fraction!r}", field="test-fraction")
    return f


def _unit(text: str) -> float:
    """A stable number in [0, 1) from any string (its sha256)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16) / float(1 << 52)


def _hash_unit(content_hash: str) -> float:
    h = content_hash.lower()
    if len(h) >= 13 and all(c in "0123456789abcdef" for c in h[:13]):
        return int(h[:13], 16) / float(1 << 52)
    return _unit(content_hash)


def assign_category(content_hash: str, test_fraction: float = 0.2) -> str:
    """``"testing"`` for about ``test_fraction`` of all hashes, ``"training"`` otherwise; deterministic."""
    f = _check_fraction(test_fraction)
    return TESTING if _hash_unit(content_hash) < f else TRAINING


@dataclass(frozen=True)
class SplitItem:
    """What a split needs to know about one sample."""

    id: str
    hash: str
    label: str | None = None
    group: str | None = None  # value of the keep-together key; None = the sample is its own group


def _target(n: int, f: float) -> int:
    """The test count closest to ``n * f`` (halves round up, so 0.5 of 1 goes to testing)."""
    return int(n * f + 0.5)


def _stratified(items: Sequence[SplitItem], f: float) -> dict[str, str]:
    out: dict[str, str] = {}
    by_label: dict[str, list[SplitItem]] = defaultdict(list)
    for it in items:
        by_label[it.label or ""].append(it)
    for members in by_label.values():
        ordered = sorted(members, key=lambda it: (it.hash, it.id))
        n_test = _target(len(ordered), f)
        for i, it in enumerate(ordered):
            out[it.id] = TESTING if i < n_test else TRAINING
    return out


@dataclass
class _Group:
    key: str
    items: list[SplitItem]

    @property
    def order(self) -> tuple[float, str]:
        return (_unit("group:" + self.key), self.key)

    @property
    def majority(self) -> str:
        counts = Counter(it.label or "" for it in self.items)
        best = max(counts.values())
        return min(lbl for lbl, c in counts.items() if c == best)


def _greedy(groups: Sequence[_Group], f: float) -> set[str]:
    """Walk groups in hash order; add one to testing when that brings the test size closer to target."""
    total = sum(len(g.items) for g in groups)
    target = total * f
    chosen: set[str] = set()
    n_test = 0
    for g in sorted(groups, key=lambda g: g.order):
        size = len(g.items)
        if abs(n_test + size - target) < abs(n_test - target):
            chosen.add(g.key)
            n_test += size
    return chosen


def _grouped(items: Sequence[SplitItem], f: float, stratify: bool) -> dict[str, str]:
    members: dict[str, list[SplitItem]] = defaultdict(list)
    for it in items:
        key = ("v:" + it.group) if it.group is not None else ("s:" + it.hash + ":" + it.id)
        members[key].append(it)
    groups = [_Group(k, v) for k, v in members.items()]
    chosen = _greedy(groups, f)
    if stratify:
        strata: dict[str, list[_Group]] = defaultdict(list)
        for g in groups:
            strata[g.majority].append(g)
        strat_chosen: set[str] = set()
        for gs in strata.values():
            strat_chosen |= _greedy(gs, f)
        # Stratifying small strata can leave one side empty; fall back to the global choice then.
        empty_test = f > 0 and not strat_chosen and chosen
        empty_train = f < 1 and len(strat_chosen) == len(groups) and len(chosen) < len(groups)
        if not (empty_test or empty_train):
            chosen = strat_chosen
    return {it.id: (TESTING if g.key in chosen else TRAINING) for g in groups for it in g.items}


def split(
    items: Iterable[SplitItem], test_fraction: float = 0.2, *, stratify: bool = False,
    keep_together: bool = False,
) -> dict[str, str]:
    """Map each item id to ``"training"`` or ``"testing"``.

    - plain: each sample by its own hash (:func:`assign_category`), about ``test_fraction`` overall;
    - ``stratify``: per label, samples in hash order, the first ``round(n * fraction)`` to testing;
    - ``keep_together``: items sharing ``group`` are one unit, ordered by the hash of the group value
      and added to testing while that brings the test share closer to the fraction (per majority
      label when also stratified). Items without a group value are units of their own.

    The result depends only on the items' content, never on their order.
    """
    f = _check_fraction(test_fraction)
    seq = list(items)
    if len({it.id for it in seq}) != len(seq):
        raise InputError("sample ids must be unique in a split", field="id")
    if keep_together:
        return _grouped(seq, f, stratify)
    if stratify:
        return _stratified(seq, f)
    return {it.id: assign_category(it.hash, f) for it in seq}

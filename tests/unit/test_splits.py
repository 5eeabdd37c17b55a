"""Splits: determinism, stratification and keep-together, as hypothesis properties."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisp_eml.core.errors import InputError
from crisp_eml.data.splits import SplitItem, assign_category, split


def _h(i: int, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}{i}".encode()).hexdigest()


items_st = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from(["a", "b", "c", None]), st.sampled_from(["s1", "s2", "s3", "s4",
                                                                                                  "s5", None])),
    min_size=1, max_size=60, unique_by=lambda t: t[0],
).map(lambda rows: [SplitItem(f"id{n}", _h(n), lbl, grp) for n, lbl, grp in rows])
fractions = st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.5, 0.8, 1.0])


def test_assign_category_is_deterministic_and_near_the_fraction() -> None:
    hashes = [_h(i) for i in range(2000)]
    first = [assign_category(h) for h in hashes]
    assert first == [assign_category(h) for h in hashes]
    share = first.count("testing") / len(first)
    assert 0.17 < share < 0.23
    assert all(assign_category(h, 0.0) == "training" for h in hashes[:50])
    assert all(assign_category(h, 1.0) == "testing" for h in hashes[:50])


@settings(deadline=None)
@given(st.lists(st.text(min_size=1, max_size=70), min_size=1, max_size=30), st.floats(0, 1), st.floats(0, 1))
def test_assign_category_is_monotone_in_the_fraction(hashes: list[str], f1: float, f2: float) -> None:
    lo, hi = sorted((f1, f2))
    for h in hashes:
        if assign_category(h, lo) == "testing":
            assert assign_category(h, hi) == "testing"


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_fraction_is_an_input_error(bad: float) -> None:
    with pytest.raises(InputError, match="test-fraction"):
        assign_category(_h(1), bad)


@settings(max_examples=60, deadline=None)
@given(items_st, fractions, st.booleans(), st.booleans(), st.randoms(use_true_random=False))
def test_split_does_not_depend_on_order(items: list[SplitItem], f: float, strat: bool, keep: bool, rnd) -> None:  # type: ignore[no-untyped-def]
    a = split(items, f, stratify=strat, keep_together=keep)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert split(shuffled, f, stratify=strat, keep_together=keep) == a
    assert set(a) == {it.id for it in items}


@settings(max_examples=60, deadline=None)
@given(items_st, fractions)
def test_stratified_split_hits_the_fraction_per_label(items: list[SplitItem], f: float) -> None:
    a = split(items, f, stratify=True)
    by_label: dict[str | None, list[str]] = defaultdict(list)
    for it in items:
        by_label[it.label].append(a[it.id])
    for cats in by_label.values():
        n_test = cats.count("testing")
        assert abs(n_test - f * len(cats)) <= 0.5 + 1e-9


@settings(max_examples=60, deadline=None)
@given(items_st, fractions, st.booleans())
def test_keep_together_never_splits_a_group(items: list[SplitItem], f: float, strat: bool) -> None:
    a = split(items, f, stratify=strat, keep_together=True)
    sides: dict[str, set[str]] = defaultdict(set)
    for it in items:
        if it.group is not None:
            sides[it.group].add(a[it.id])
    assert all(len(s) == 1 for s in sides.values())


def test_keep_together_by_subject_is_close_to_the_fraction() -> None:
    items = [SplitItem(f"id{i}", _h(i), "abcd"[i % 4], f"subject{i % 10}") for i in range(200)]
    a = split(items, 0.2, stratify=True, keep_together=True)
    counts = Counter(a.values())
    assert counts["testing"] == 40  # 10 equal groups of 20: exactly 2 groups go to testing
    plain = split(items, 0.2, keep_together=True)
    assert Counter(plain.values())["testing"] == 40


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(InputError):
        split([SplitItem("x", _h(1)), SplitItem("x", _h(2))])

"""Typed access to the Edge Impulse golden vectors in ``tests/data/ei_golden/`` (issue 16).

The vectors were produced once, offline, by ``scripts/gen_ei_golden.py`` running Edge Impulse's own
processing blocks (the commit is in each file's ``generator``); tests read them as data and never run or
fetch EI code. Import from a test module like the other shared helpers (``tests/`` is on ``sys.path``
while pytest runs, as for ``dsp_references``)::

    from ei_golden import Case, assert_features_close, load_cases

    for case in load_cases("mfe", version=4):
        ...  # case.window is float32 [1, L, A]; case.features is None when EI refused (case.error)

``Case.params`` are EI's parameter names exactly as in the block's ``parameters.json`` (dashed for
spectral-analysis / raw / flatten, underscored for spectrogram / mfe / mfcc); mapping them to our canonical
names is each test's business and should be spelled out there.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "ei_golden"
BLOCKS = ("spectral-analysis", "spectrogram", "mfe", "mfcc", "raw", "flatten")

# Default tolerances of assert_features_close (see its docstring for why).
RTOL = 1e-4
ATOL_OF_MAX = 1e-5


@dataclass(frozen=True)
class Case:
    """One call of an EI block: its input window, parameters and EI's features (or EI's error)."""

    id: str
    block: str  # our block type name
    version: int  # EI implementation version
    input_id: str
    params: dict[str, Any]  # EI names (parameters.json), EI value types
    sampling_freq: float
    axes: tuple[str, ...]
    window: np.ndarray  # float32 [1, L, A]; holds EI's float64 input exactly (see the generator)
    features: np.ndarray | None  # float64 [n], EI's flat output; None when EI raised
    error: str | None  # "<exception type>: <EI's message>" when EI raised
    output_config: dict[str, Any] | None


@cache
def load_file(block: str) -> dict[str, Any]:
    """The raw JSON document for ``block`` (generator info, inputs, cases)."""
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; one of {BLOCKS}")
    path = DATA / f"{block}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def load_cases(block: str, version: int | None = None) -> list[Case]:
    """All cases of ``block`` (optionally of one implementation ``version``), in file order."""
    doc = load_file(block)
    out = []
    for c in doc["cases"]:
        if version is not None and c["version"] != version:
            continue
        inp = doc["inputs"][c["input"]]
        axes = tuple(inp["axes"])
        data = np.asarray(inp["data"], dtype=np.float64)
        window = data.astype(np.float32).reshape(1, -1, len(axes))
        feats = None if c["features"] is None else np.asarray(c["features"], dtype=np.float64)
        out.append(Case(id=c["id"], block=c["block"], version=int(c["version"]), input_id=c["input"],
                        params=dict(c["params"]), sampling_freq=float(inp["sampling_freq"]), axes=axes,
                        window=window, features=feats, error=c["error"], output_config=c["output_config"]))
    return out


def assert_features_close(ours: Any, theirs: Any, case_id: str, *, rtol: float = RTOL,
                          atol_of_max: float = ATOL_OF_MAX) -> None:
    """Assert ``ours`` (any shape; compared flattened in C order) matches EI's flat ``theirs``.

    Element-wise ``|ours - theirs| <= rtol * |theirs| + atol`` with ``atol = atol_of_max * max|theirs|``.
    Why: our blocks compute in float32 while EI computes mostly in float64 (its spectral block in float32),
    so the relative part (1e-4, ~800 float32 ulps) absorbs accumulated rounding; but an element that is
    (nearly) zero in a vector of large values (a kurtosis near 0, a mean-removed DC term, a cepstral
    coefficient crossing zero) carries an absolute error proportional to the vector's scale, not to itself,
    hence the floor 1e-5 of the largest magnitude. Lengths must match exactly. On failure the message names
    the case, the worst element (index, ours, theirs, error / allowed) and how many elements fail.
    """
    a = np.asarray(ours, dtype=np.float64).reshape(-1)
    b = np.asarray(theirs, dtype=np.float64).reshape(-1)
    if a.size != b.size:
        raise AssertionError(f"{case_id}: {a.size} features, EI has {b.size}")
    if a.size == 0:
        return
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a))[0])
        raise AssertionError(f"{case_id}: non-finite feature at [{bad}] = {a[bad]} (EI {b[bad]:.9g})")
    atol = atol_of_max * float(np.max(np.abs(b)))
    err = np.abs(a - b)
    allowed = rtol * np.abs(b) + atol
    over = err / np.maximum(allowed, np.finfo(np.float64).tiny)
    if np.any(err > allowed):
        i = int(np.argmax(over))
        raise AssertionError(
            f"{case_id}: {int(np.sum(err > allowed))} of {a.size} features differ; worst [{i}]: ours {a[i]:.9g}, "
            f"EI {b[i]:.9g}, |diff| {err[i]:.3g} > allowed {allowed[i]:.3g} (rtol {rtol:g}, atol {atol:.3g})")

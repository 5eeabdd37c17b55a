"""Registry of op definitions added after the first compiler round: one object per (op type, activation type).

The first-round int8 ops are dispatched by hand in ``params.op_params``, ``reference.run_op`` and
``c.lower.lower_op``. Every op added since lives in a family module of this package and registers an
:class:`OpDef` holding all four of its faces (constants, numpy reference, C lowering, in-place read order),
so adding an op touches one module and its C file, and the reader, interpreter, planner and renderer agree
on what exists. ``act_dtype`` is the activation type the definition serves: ``"int8"`` or ``"int16"`` (the
16x8 mode: int16 activations, int8 weights); a first-round op type gets its int16 variant here.

Family modules are imported on first lookup (``_FAMILIES``), which keeps this package free of import cycles
with the modules that consult it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from crisp_eml.core.graph import Graph, Op

#: Family modules (``crisp_eml.compiler.opdefs.<name>``); each calls :func:`register` at import time.
_FAMILIES: tuple[str, ...] = ("resize", "matmul", "data", "activations", "s16_nn", "s16_misc")

ParamsFn = Callable[[Graph, Op], dict[str, Any]]
# (graph, op, input arrays (None for an absent optional input), params) -> output array, or one per output
ReferenceFn = Callable[[Graph, Op, list[np.ndarray | None], dict[str, Any]], "np.ndarray | list[np.ndarray]"]
# (graph, op, crisp_eml.compiler.c.lower.LowerCtx): fills ctx.layer (not imported here: no import cycle)
LowerFn = Callable[[Graph, Op, Any], None]
# (graph, op) -> per output element, the smallest input-0 flat index it reads (None: unknown, never in place)
ReadMinFn = Callable[[Graph, Op], "np.ndarray | None"]


@dataclass(frozen=True)
class OpDef:
    """Everything the compiler knows about one op type at one activation type."""

    op_type: str
    act_dtype: str  # "int8" or "int16"
    params: ParamsFn
    reference: ReferenceFn
    lower: LowerFn
    # C family files emitted whole when a model uses this op (``src/<family>.c`` / ``.h`` from ``compiler/c``)
    c_families: tuple[str, ...] = ()
    # kernel sections of ``eml_kernels.c`` the family code calls into (``common`` is always there)
    sections: tuple[str, ...] = ()
    # in-place: elements written together (write-order contract) and the read order; None = never in place
    group: int | None = None
    read_min: ReadMinFn | None = None


_REGISTRY: dict[tuple[str, str], OpDef] = {}
_loaded = False


def register(d: OpDef) -> OpDef:
    """Add ``d`` (called by family modules at import time); a second definition of the same key is a bug."""
    key = (d.op_type, d.act_dtype)
    if key in _REGISTRY and _REGISTRY[key] is not d:
        raise RuntimeError(f"op {key} registered twice")
    _REGISTRY[key] = d
    return d


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for fam in _FAMILIES:
            importlib.import_module(f"{__name__}.{fam}")


def act_dtype(g: Graph, op: Op) -> str:
    """``"int16"`` when any activation (non-constant) input or output of ``op`` is int16, else ``"int8"``."""
    for ti in [*op.inputs, *op.outputs]:
        if ti >= 0 and not g.tensor(ti).is_constant and g.tensor(ti).dtype == "int16":
            return "int16"
    return "int8"


def find(g: Graph, op: Op) -> OpDef | None:
    """The registered definition serving ``op`` in ``g`` (None: a first-round int8 op, or unsupported)."""
    _load()
    return _REGISTRY.get((op.type, act_dtype(g, op)))


def registered_types(act: str | None = None) -> frozenset[str]:
    """Op types with a registered definition (at one activation type, or any)."""
    _load()
    return frozenset(t for (t, a) in _REGISTRY if act is None or a == act)

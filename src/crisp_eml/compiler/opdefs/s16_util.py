"""Helpers shared by the int16 (16x8) op families ``s16_nn`` and ``s16_misc`` (not a family itself).

int16 activations live in the ``int8_t`` arena at even offsets (the planner aligns buffers by element size),
so a kernel argument is the arena address cast through ``void *``; constant int16 operands become
``static const int16_t`` arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor
from crisp_eml.core.quant import activation_range

if TYPE_CHECKING:
    from crisp_eml.compiler.c.lower import LowerCtx

FAMILY = "eml_ops_s16"
I16 = (-32768, 32767)
_RANGES = {"int8": (-128, 127), "int16": I16}


def scale(t: Tensor) -> float:
    return float(t.scale[0]) if len(t.scale) else 0.0


def zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if len(t.zero_point) else 0


def dtype_range(t: Tensor, op: Op) -> tuple[int, int]:
    if t.dtype not in _RANGES:
        raise InputError(f"operator {op.index} ({op.type}): tensor '{t.name}' is {t.dtype}; int8 or int16 expected")
    return _RANGES[t.dtype]


def act16(op: Op, out: Tensor) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for an int16 output (clamps to the int16 range)."""
    act = str(op.options.get("fused_activation_function", "NONE"))
    try:
        return activation_range(act, scale(out), zp(out), *I16)
    except ValueError as exc:
        raise InputError(f"operator {op.index} ({op.type}): {exc}") from None


def need_zero_points(g: Graph, op: Op, *tensors: int) -> None:
    """TFLM requires zero point 0 on these int16 tensors (the 16x8 scheme is symmetric)."""
    for ti in tensors:
        t = g.tensor(ti)
        if t.dtype == "int16" and zp(t) != 0:
            raise InputError(f"operator {op.index} ({op.type}): int16 tensor '{t.name}' has zero point {zp(t)}; "
                             "the 16x8 mode needs 0")


def ptr(ctx: LowerCtx, ti: int, const: bool = False) -> str:
    """The C address of activation tensor ``ti`` typed by its dtype (``int16_t *`` or ``int8_t *``)."""
    t = ctx.g.tensor(ti)
    ctype = {"int16": "int16_t", "int8": "int8_t"}[t.dtype]
    return f"({'const ' if const else ''}{ctype} *)({'const ' if const else ''}void *){ctx.ptr(ti)}"


def operand16(ctx: LowerCtx, i: int, suffix: str) -> str:
    """Input ``i`` of the op as ``const int16_t *``: the arena, or a const array for a constant tensor."""
    ti = ctx.op.inputs[i]
    t = ctx.g.tensor(ti)
    if t.data is None:
        return ptr(ctx, ti, const=True)
    if t.dtype != "int16":
        raise InputError(f"operator {ctx.op.index} ({ctx.op.type}): constant input {i} must be int16")
    return ctx.add_array("int16_t", suffix, np.asarray(t.data, np.int64))


def as4d(shape: tuple[int, ...], op: Op) -> list[int]:
    if len(shape) > 4:
        raise InputError(f"operator {op.index} ({op.type}): tensors of rank {len(shape)} > 4 are not supported")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def fields(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, int | list[int]]:
    """Pick struct fields out of a params dict (ints or int lists)."""
    out: dict[str, int | list[int]] = {}
    for k in keys:
        v = d[k]
        out[k] = [int(x) for x in v] if isinstance(v, list) else int(v)
    return out

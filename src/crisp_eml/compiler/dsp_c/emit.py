"""Small text helpers shared by the DSP C renderers: float literals, constant tables, identifiers, context.

Every renderer appends to one :class:`Ctx` (constant tables, body lines, the sizes of the static buffers it
needs and the helper functions it uses), so the assembled source declares only what is used — unused
statics would break ``-Wall -Werror``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from crisp_eml.core.errors import InputError

SYM = r"""
/* Index i of the half-sample symmetric extension of n values (period 2n), as numpy 'symmetric' / pywt. */
static int dsp_sym(int i, int n)
{
    int j = i % (2 * n);
    if (j < 0) { j += 2 * n; }
    return j < n ? j : 2 * n - 1 - j;
}
"""


def flit(v: float) -> str:
    """A C float literal that round-trips float32."""
    if not np.isfinite(v):
        raise InputError(f"non-finite constant {v}", field="params")
    return f"{float(np.float32(v))!r}f"


def farr(name: str, values: Sequence[float] | np.ndarray) -> str:
    vals = list(np.asarray(values, dtype=np.float64).ravel())
    body = ", ".join(flit(v) for v in vals) or "0.0f"
    return f"static const float {name}[{max(1, len(vals))}] = {{{body}}};\n"


def iarr(name: str, values: Sequence[int] | np.ndarray, ctype: str = "unsigned short") -> str:
    vals = [int(v) for v in np.asarray(values).ravel()]
    body = ", ".join(str(v) for v in vals) or "0"
    return f"static const {ctype} {name}[{max(1, len(vals))}] = {{{body}}};\n"


def c_identifier(prefix: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", prefix).strip("_").lower() or "eml"
    return ident if not ident[0].isdigit() else f"m_{ident}"


@dataclass
class Ctx:
    """What the block renderers accumulate for one impulse."""

    wl: int
    na: int
    fs: float
    consts: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)  # names of helper functions used
    # helper functions a renderer brings itself (name -> C text), emitted after the shared ones in insertion order
    extra_helpers: dict[str, str] = field(default_factory=dict)
    fft_max: int = 1  # twiddle period: the longest transform (complex or real) of the impulse
    sizes: dict[str, int] = field(default_factory=dict)  # static float buffer -> length

    def need(self, buf: str, n: int) -> None:
        self.sizes[buf] = max(self.sizes.get(buf, 1), int(n))

    def line(self, text: str) -> None:
        self.body.append(text)

"""The ``--optimize ram|balanced|speed`` choice of the C compiler, one place for its names and its check.

Where RAM, flash and speed pull apart a kernel's lowering reads this choice (``lower_op``'s ``optimize``): ``balanced``
(the default) keeps int8 weights at int8 in flash and takes the fast kernels whose scratch is small; ``speed``
may store weights widened (more flash) and use larger scratch for fewer instructions; ``ram`` takes the kernels
with the least scratch even when they are slower. The choice is recorded in ``MANIFEST.json`` so that a library
is re-derived (gate, deploy) exactly as it was compiled.
"""

from __future__ import annotations

from crisp_eml.core.errors import InputError

MODES = ("ram", "balanced", "speed")
DEFAULT = "balanced"


def check_optimize(value: str | None) -> str:
    """``value`` if it is one of :data:`MODES` (``None``: the default), else a refusal naming ``--optimize``."""
    if value is None:
        return DEFAULT
    if value not in MODES:
        raise InputError(f"'{value}' is not an optimisation goal; use one of {', '.join(MODES)}",
                         field="--optimize")
    return value

"""Use case ``synth``: write a built-in synthetic dataset to a folder (no project needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crisp_eml.core.errors import InputError
from crisp_eml.data.synth import SynthFile, write_keywords, write_motion, write_shapes


def synthesize(
    out: Path, *, kind: str = "motion", seed: int = 0, fmt: str = "json", size: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[SynthFile]:
    """``kind`` motion (``size`` = recordings per subject and label), keywords (``size`` = clips per class) or
    shapes (``size`` = images per class, 30 by default)."""
    if kind == "motion":
        return write_motion(out, seed=seed, per_subject=size or 6, fmt=fmt, on_progress=on_progress)
    if kind == "keywords":
        return write_keywords(out, seed=seed, per_class=size or 8, on_progress=on_progress)
    if kind == "shapes":
        return write_shapes(out, seed=seed, per_class=size or 30, on_progress=on_progress)
    raise InputError(f"unknown synthetic dataset {kind!r}; one of motion, keywords, shapes", field="kind")

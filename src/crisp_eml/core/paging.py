"""Checks every paged listing shares: a page size within its bound, an offset not below zero, and text a LIKE
filter must match literally. Pure: the use cases that page (samples, audit, results, jobs, previews) call
these, so a bad ``limit`` or ``offset`` gets the same message and field everywhere.
"""

from __future__ import annotations

from crisp_eml.core.errors import InputError

LIKE_ESCAPE = "\\"


def check_page(limit: int, offset: int, max_limit: int, *, unit: str = "") -> None:
    """Refuse a ``limit`` outside 1..``max_limit`` (``unit`` names what is counted) or a negative ``offset``."""
    if not 1 <= limit <= max_limit:
        raise InputError(f"must be between 1 and {max_limit}{' ' + unit if unit else ''}, got {limit}",
                         field="limit")
    if offset < 0:
        raise InputError(f"must be 0 or more, got {offset}", field="offset")


def like_literal(text: str) -> str:
    """``text`` with LIKE's wildcards (``%``, ``_``) and the escape character taken literally (escape ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

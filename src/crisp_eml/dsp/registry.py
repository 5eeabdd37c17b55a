"""Block registry: maps an impulse's block ``type`` to its class (one place to add a block)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.audio import MfccBlock, MfeBlock, SpectrogramBlock
from crisp_eml.dsp.base import Block
from crisp_eml.dsp.basic import FlattenBlock, RawBlock
from crisp_eml.dsp.image import ImageBlock
from crisp_eml.dsp.spectral import SpectralAnalysisBlock

BLOCKS: dict[str, type[Block]] = {
    cls.type: cls
    for cls in (RawBlock, FlattenBlock, SpectralAnalysisBlock, SpectrogramBlock, MfeBlock, MfccBlock, ImageBlock)
}


def make_block(type_: str, params: Mapping[str, Any] | None = None) -> Block:
    """A block instance of ``type_`` with ``params`` merged over its defaults."""
    cls = BLOCKS.get(type_)
    if cls is None:
        raise InputError(f"unknown processing block {type_!r}; one of {sorted(BLOCKS)}", field="type")
    return cls(params)


def block_types() -> list[str]:
    return sorted(BLOCKS)

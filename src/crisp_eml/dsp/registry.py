"""Block registry: maps an impulse's block ``type`` and implementation version to its class.

``BLOCKS`` holds crisp-eml's own variant of each block (implementation version ``"crisp"``, what an impulse
stored without a version computes); ``EI_BLOCKS`` the classes computing Edge Impulse's numbered versions.
New impulses take :func:`latest_version`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.audio import MfccBlock, MfeBlock, SpectrogramBlock
from crisp_eml.dsp.base import CRISP, Block, Version
from crisp_eml.dsp.basic import FlattenBlock, RawBlock
from crisp_eml.dsp.ei_audio import EIMfccBlock, EIMfeBlock, EISpectrogramBlock
from crisp_eml.dsp.ei_spectral import EISpectralAnalysisBlock
from crisp_eml.dsp.external import ExternalBlock
from crisp_eml.dsp.image import ImageBlock
from crisp_eml.dsp.spectral import SpectralAnalysisBlock

BLOCKS: dict[str, type[Block]] = {
    cls.type: cls
    for cls in (RawBlock, FlattenBlock, SpectralAnalysisBlock, SpectrogramBlock, MfeBlock, MfccBlock, ImageBlock,
                ExternalBlock)
}

EI_BLOCKS: dict[str, type[Block]] = {
    cls.type: cls
    for cls in (RawBlock, FlattenBlock, EISpectralAnalysisBlock, EISpectrogramBlock, EIMfeBlock, EIMfccBlock)
}


def block_class(type_: str, version: Version | None = None) -> type[Block]:
    """The class computing ``type_`` at ``version`` (``None`` = the crisp-eml variant, as stored impulses)."""
    if type_ not in BLOCKS:
        raise InputError(f"unknown processing block {type_!r}; one of {sorted(BLOCKS)}", field="type")
    if version is None or version == CRISP or version in BLOCKS[type_].versions:  # computed by the class itself
        return BLOCKS[type_]
    cls = EI_BLOCKS.get(type_)
    if cls is None or version not in cls.versions:
        raise InputError(f"block '{type_}' has no implementation version {version!r} "
                         f"(versions: {block_versions(type_)})", field="implementation_version")
    return cls


def make_block(type_: str, params: Mapping[str, Any] | None = None, version: Version | None = None) -> Block:
    """A block instance of ``type_`` at ``version`` with ``params`` merged over its defaults."""
    cls = block_class(type_, version)
    return cls(params, CRISP if version is None else version)


def block_versions(type_: str) -> list[Version]:
    """Every implementation version ``type_`` offers: Edge Impulse's numbers, then ``"crisp"``."""
    ei = EI_BLOCKS.get(type_)
    nums = sorted(v for v in (ei.versions if ei else ()) if isinstance(v, int))
    return [*nums, CRISP]


def latest_version(type_: str) -> Version:
    """The version new impulses take: Edge Impulse's latest, or ``"crisp"`` for a block it does not have."""
    return block_versions(type_)[-2] if len(block_versions(type_)) > 1 else CRISP


def block_types() -> list[str]:
    return sorted(BLOCKS)

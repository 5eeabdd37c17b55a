"""What ``eml compile`` returns for an int8 or an anomaly library (shared by both use cases, no import circle)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class CompileResult:
    name: str
    out_dir: str
    model_sha256: str
    arena_bytes: int
    ram_bytes: int
    weights_bytes: int
    ops: list[str]
    vectors: int
    files: list[str]
    # ram | balanced | speed (``eml compile --optimize``); None for an anomaly library (no int8 kernels to choose)
    optimize: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""The result of verifying a generated library: one :class:`Check` per comparison, gathered in a report.

Its own module so the int8 verifier (:mod:`crisp_eml.compiler.verify`) and the anomaly verifier
(:mod:`crisp_eml.compiler.anomaly_verify`), which the former dispatches to, share it without an import circle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Check:
    name: str
    vectors: int
    mismatched_bytes: int
    identical: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifyReport:
    library: str
    checks: list[Check]
    note: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.identical for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"library": self.library, "ok": self.ok, "checks": [asdict(c) for c in self.checks],
                "note": self.note}

"""Tables for the CRISP-EML backbone: versioned requirement sets, gate results and promotion overrides.

Requirement sets are append-only (every change is a new version); gate results keep the full
pass/fail table and the evidence it was computed from, so a promotion decision can be traced later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crisp_eml.store.tables.base import Base, utcnow


class RequirementSetRow(Base):
    __tablename__ = "requirement_sets"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    target: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"min_accuracy": 0.9, "min_f1.walking": 0.8, ...}
    author: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    message: Mapped[str] = mapped_column(Text, default="")


class GateResultRow(Base):
    __tablename__ = "gate_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(256), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(128), nullable=True)
    requirements_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))


class GateOverrideRow(Base):
    __tablename__ = "gate_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(256), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    alias: Mapped[str] = mapped_column(String(128))
    gate_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # latest gate at override time
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))

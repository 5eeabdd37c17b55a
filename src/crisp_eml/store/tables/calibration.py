"""Table for post-processing calibrations: one row per ``eml calibrate`` run of a model version.

A row keeps what the run measured (the grid of settings with false accepts per hour and false rejects on a
synthetic stream), the setting it chose and that setting's figures, and how the stream was built (seed,
length, labels), so the choice can be traced and repeated. Deployments ship the latest row's setting; the gate
takes the ``max_false_accepts_per_hour`` / ``max_stream_false_reject_rate`` evidence from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crisp_eml.store.tables.base import Base, utcnow


class CalibrationRow(Base):
    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(256), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    model_uri: Mapped[str] = mapped_column(String(300))  # as given (an alias URI names what it pointed at then)
    model_sha256: Mapped[str] = mapped_column(String(64))
    stream: Mapped[dict[str, Any]] = mapped_column(JSON)  # hours, seed, events, background/target labels...
    grid: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # every setting with its FAR/h and FRR
    postprocess: Mapped[dict[str, Any]] = mapped_column(JSON)  # the chosen PostprocessConfig.to_dict()
    far_per_hour: Mapped[float] = mapped_column(Float)
    frr: Mapped[float | None] = mapped_column(Float, nullable=True)
    met: Mapped[bool] = mapped_column(Boolean)  # the chosen setting meets the ceilings it was chosen for
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)  # the ceilings and where they came from
    report_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

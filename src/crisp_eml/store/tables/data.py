"""Tables for samples and immutable dataset versions (Data Acquisition & Understanding)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crisp_eml.store.tables.base import Base, utcnow


class SampleRow(Base):
    __tablename__ = "samples"
    # listing order (layer, enabled, then name, id): a page of a large project is an index walk, not a sort
    __table_args__ = (Index("ix_samples_listing", "layer", "enabled", "name", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    label: Mapped[str | None] = mapped_column(String(256), index=True, nullable=True)
    category: Mapped[str] = mapped_column(String(16), index=True)  # training | testing
    kind: Mapped[str] = mapped_column(String(16))  # timeseries | audio | image
    sensors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"name":..,"units":..}]
    frequency_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    interval_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    length: Mapped[int] = mapped_column(Integer)  # rows (time steps) or image height
    shape: Mapped[list[int]] = mapped_column(JSON)  # stored array shape
    hash: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the canonical blob
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # original file bytes
    # content_identity() of a raw sample that must be unique (NULL: clean layer or --allow-duplicates)
    identity: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True, unique=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    source: Mapped[str] = mapped_column(Text)
    device_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    device_type: Mapped[str | None] = mapped_column(String(256), nullable=True)
    layer: Mapped[str] = mapped_column(String(16), default="raw", index=True)  # raw | clean
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))  # hash over (sample hash, label, category) items
    layer: Mapped[str] = mapped_column(String(16), default="raw")
    author: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DatasetVersionItemRow(Base):
    __tablename__ = "dataset_version_items"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    sample_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512))
    label: Mapped[str | None] = mapped_column(String(256), nullable=True)
    category: Mapped[str] = mapped_column(String(16))

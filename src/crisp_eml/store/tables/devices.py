"""Tables for devices and the data they send: registered devices, remote captures, and field-data review.

A **device** is anything that records for the project: a Linux board running ``eml agent``, a board behind
``eml capture serial --server`` on a laptop (both hold a device key, stored like tokens as a salt and a digest),
or a serial board recorded locally (``kind="serial"``, no key), whose axis names and rate are remembered here.
A **capture** is one recording asked of a device (from the Studio, the API or the CLI) and followed until its
sample is stored; its live signal arrives as numbered **chunks**, kept while the capture runs so every server
process and the Studio see the same state. A **review item** is a window a device flagged (low confidence,
anomaly) waiting for a domain expert's label; labelled items become samples and then a dataset version.
Devices, telemetry and OTA (later issues) hang off the same ``devices`` row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisp_eml.store.tables.base import Base, utcnow


class DeviceRow(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public part of the device key
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # linux-agent | serial-bridge | serial
    member: Mapped[str] = mapped_column(String(128), ForeignKey("members.name", ondelete="CASCADE"), index=True)
    salt: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: a local serial board, no key
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # [{"name": "accelerometer", "kind": "timeseries", "axes": ["accX", ...], "units": [...], "frequency_hz": 100}]
    sensors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # host, firmware, USB ids, ...
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CaptureRow(Base):
    __tablename__ = "captures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    sensor: Mapped[str] = mapped_column(String(128))
    label: Mapped[str | None] = mapped_column(String(256), nullable=True)
    category: Mapped[str] = mapped_column(String(16))  # training | testing | split
    length_ms: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # requested recording done failed cancelled
    requested_by: Mapped[str] = mapped_column(String(128))
    axes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # known once the device starts
    frequency_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    sample_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CaptureChunkRow(Base):
    __tablename__ = "capture_chunks"

    capture_id: Mapped[str] = mapped_column(String(32), ForeignKey("captures.id", ondelete="CASCADE"),
                                            primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0, 1, 2... (a resent chunk is a no-op)
    rows: Mapped[list[list[float]]] = mapped_column(JSON)  # readings, one list of axis values each
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewItemRow(Base):
    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("device_id", "upload_id", name="uq_review_items_device_upload"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("devices.id", ondelete="SET NULL"),
                                                  nullable=True, index=True)
    upload_id: Mapped[str] = mapped_column(String(64))  # the device's idempotency key for this window
    reason: Mapped[str] = mapped_column(String(32))  # low-confidence | anomaly | manual
    model: Mapped[str | None] = mapped_column(String(300), nullable=True)  # what the device ran
    predicted: Mapped[str | None] = mapped_column(String(256), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    anomaly_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(16))  # timeseries | audio | image
    sensors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    frequency_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    length: Mapped[int] = mapped_column(Integer)
    shape: Mapped[list[int]] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64))  # the window's canonical blob (as a sample's)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | labelled | dismissed
    label: Mapped[str | None] = mapped_column(String(256), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sample_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the sample it became
    version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the dataset version it joined
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

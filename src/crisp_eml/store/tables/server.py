"""Tables for the team server: member API tokens, project ingestion keys, and persisted background jobs.

Secrets are never stored: a token or key row keeps a random salt and ``sha256(salt + secret)``; the secret is
shown once when it is made. Jobs and their events live here (not in server memory) so a restarted server, the
CLI and every worker process see the same state, and devices, telemetry and scheduled jobs (later issues) can
be added as more job kinds without a second job system.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crisp_eml.store.tables.base import Base, utcnow


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public part of the token
    member: Mapped[str] = mapped_column(String(128), ForeignKey("members.name", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))  # sha256(salt + secret), hex
    scopes: Mapped[list[str]] = mapped_column(JSON)  # permissions this token may use ([] = all the member has)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class IngestKeyRow(Base):
    __tablename__ = "ingest_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)  # train, test, features, compile, profile, report
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    member: Mapped[str] = mapped_column(String(128))
    token_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued running succeeded failed cancelled interrupted
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0..1 when known
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {"code", "message", "field"}
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)


class JobEventRow(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # progress, log, status
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class StudioSessionRow(Base):
    """A Studio sign-in: a single-use, short-lived login link (``kind="login"``) or the browser session it
    was exchanged for (``kind="session"``). Like tokens, only a salt and a digest of the secret are kept."""

    __tablename__ = "studio_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # login or session
    member: Mapped[str] = mapped_column(String(128), ForeignKey("members.name", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)  # [] = everything the member's persona grants
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # used (login) or signed out

"""Tables for impulse spec versions and the feature cache index (Model Development: impulse design).

``impulse_versions`` keeps every version of the project's impulse spec (the current one flagged);
``feature_cache`` maps a deterministic cache key (sample hash + input params + block params + block
versions) to the blob holding that sample's features, so unchanged work is never redone;
``feature_embeddings`` keeps the feature explorer's saved 2D embeddings. Blob columns end in ``_hash`` so
the blob garbage collector counts them as references.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crisp_eml.store.tables.base import Base, utcnow


class ImpulseVersionRow(Base):
    __tablename__ = "impulse_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64), index=True)
    author: Mapped[str] = mapped_column(String(128))
    message: Mapped[str | None] = mapped_column(String(512), nullable=True)
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeatureCacheRow(Base):
    __tablename__ = "feature_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob_hash: Mapped[str] = mapped_column(String(64))  # *_hash: counted as a reference by blob gc
    sample_hash: Mapped[str] = mapped_column(String(64), index=True)
    n_windows: Mapped[int] = mapped_column(Integer)
    n_features: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeatureEmbeddingRow(Base):
    __tablename__ = "feature_embeddings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    impulse_hash: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(16))
    embedding_hash: Mapped[str] = mapped_column(String(64))
    windows: Mapped[int] = mapped_column(Integer)
    silhouette: Mapped[float | None] = mapped_column(Float, nullable=True)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

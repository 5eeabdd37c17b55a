"""Impulse spec versions, the feature cache index and saved feature embeddings.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = ("impulse",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "impulse_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("message", sa.String(512), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_impulse_versions"),
    )
    op.create_index("ix_impulse_versions_version", "impulse_versions", ["version"])
    op.create_index("ix_impulse_versions_hash", "impulse_versions", ["hash"])
    op.create_table(
        "feature_cache",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("blob_hash", sa.String(64), nullable=False),
        sa.Column("sample_hash", sa.String(64), nullable=False),
        sa.Column("n_windows", sa.Integer(), nullable=False),
        sa.Column("n_features", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_feature_cache"),
    )
    op.create_index("ix_feature_cache_sample_hash", "feature_cache", ["sample_hash"])
    op.create_table(
        "feature_embeddings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("impulse_hash", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("embedding_hash", sa.String(64), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("silhouette", sa.Float(), nullable=True),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_embeddings"),
    )
    op.create_index("ix_feature_embeddings_impulse_hash", "feature_embeddings", ["impulse_hash"])


def downgrade() -> None:
    op.drop_index("ix_feature_embeddings_impulse_hash", "feature_embeddings")
    op.drop_table("feature_embeddings")
    op.drop_index("ix_feature_cache_sample_hash", "feature_cache")
    op.drop_table("feature_cache")
    op.drop_index("ix_impulse_versions_hash", "impulse_versions")
    op.drop_index("ix_impulse_versions_version", "impulse_versions")
    op.drop_table("impulse_versions")

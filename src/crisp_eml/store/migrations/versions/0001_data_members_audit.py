"""Samples, dataset versions, members and the audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "samples",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("label", sa.String(256), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sensors", sa.JSON(), nullable=False),
        sa.Column("frequency_hz", sa.Float(), nullable=True),
        sa.Column("interval_ms", sa.Float(), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("device_name", sa.String(256), nullable=True),
        sa.Column("device_type", sa.String(256), nullable=True),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_samples"),
    )
    op.create_index("ix_samples_label", "samples", ["label"])
    op.create_index("ix_samples_category", "samples", ["category"])
    op.create_index("ix_samples_hash", "samples", ["hash"])
    op.create_index("ix_samples_layer", "samples", ["layer"])
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("author", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
    )
    op.create_table(
        "dataset_version_items",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("label", sa.String(256), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["dataset_versions.id"],
            name="fk_dataset_version_items_version_id_dataset_versions",
        ),
        sa.PrimaryKeyConstraint("version_id", "sample_id", name="pk_dataset_version_items"),
    )
    op.create_table(
        "members",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("persona", sa.String(64), nullable=False),
        sa.Column("owner", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_members"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("persona", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("members")
    op.drop_table("dataset_version_items")
    op.drop_table("dataset_versions")
    op.drop_index("ix_samples_layer", "samples")
    op.drop_index("ix_samples_hash", "samples")
    op.drop_index("ix_samples_category", "samples")
    op.drop_index("ix_samples_label", "samples")
    op.drop_table("samples")

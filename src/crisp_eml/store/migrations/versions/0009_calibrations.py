"""Post-processing calibrations of model versions (``eml calibrate``).

Revision ID: 0009
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0001"
branch_labels = ("calibration",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibrations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("model_uri", sa.String(300), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("stream", sa.JSON(), nullable=False),
        sa.Column("grid", sa.JSON(), nullable=False),
        sa.Column("postprocess", sa.JSON(), nullable=False),
        sa.Column("far_per_hour", sa.Float(), nullable=False),
        sa.Column("frr", sa.Float(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calibrations"),
    )
    op.create_index("ix_calibrations_model_name", "calibrations", ["model_name"])


def downgrade() -> None:
    op.drop_index("ix_calibrations_model_name", table_name="calibrations")
    op.drop_table("calibrations")

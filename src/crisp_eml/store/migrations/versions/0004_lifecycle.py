"""Lifecycle backbone: requirement set versions, gate results and promotion overrides.

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = ("lifecycle",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requirement_sets",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_requirement_sets"),
    )
    op.create_table(
        "gate_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("requirements_version", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_results"),
    )
    op.create_index("ix_gate_results_model_name", "gate_results", ["model_name"])
    op.create_table(
        "gate_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_overrides"),
    )
    op.create_index("ix_gate_overrides_model_name", "gate_overrides", ["model_name"])


def downgrade() -> None:
    op.drop_index("ix_gate_overrides_model_name", "gate_overrides")
    op.drop_table("gate_overrides")
    op.drop_index("ix_gate_results_model_name", "gate_results")
    op.drop_table("gate_results")
    op.drop_table("requirement_sets")

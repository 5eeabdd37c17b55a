"""Studio sign-in: single-use login links and the browser sessions they are exchanged for.

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member", sa.String(128), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["member"], ["members.name"], name="fk_studio_sessions_member_members",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_studio_sessions"),
    )
    op.create_index("ix_studio_sessions_member", "studio_sessions", ["member"])


def downgrade() -> None:
    op.drop_index("ix_studio_sessions_member", table_name="studio_sessions")
    op.drop_table("studio_sessions")

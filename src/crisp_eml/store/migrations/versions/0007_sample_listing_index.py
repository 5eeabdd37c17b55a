"""Sample listing index (layer, enabled, name, id): the server pages samples in that order.

``GET /api/v1/samples`` reads one page (LIMIT/OFFSET) and a count of a large project many times a second; with
this index both are index walks instead of a scan and a sort of every sample.

Revision ID: 0007
Revises: 0001
"""

from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = ("sample_listing",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_samples_listing", "samples", ["layer", "enabled", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_samples_listing", table_name="samples")

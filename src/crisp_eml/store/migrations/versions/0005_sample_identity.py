"""Sample identity (blob hash + kind + rate + axes) under a unique index: duplicates refused by the database.

Revision ID: 0005
Revises: 0001

Existing raw samples get their identity in creation order; a second copy kept earlier (``--allow-duplicates``,
or two ingests that raced) keeps NULL, as ``--allow-duplicates`` rows do from now on.
"""

import sqlalchemy as sa
from alembic import op

from crisp_eml.core.sample import Sensor, content_identity

revision = "0005"
down_revision = "0001"
branch_labels = ("data_identity",)
depends_on = None


def upgrade() -> None:
    op.add_column("samples", sa.Column("identity", sa.String(64), nullable=True))
    conn = op.get_bind()
    samples = sa.table("samples", sa.column("id"), sa.column("hash"), sa.column("kind"), sa.column("frequency_hz"),
                       sa.column("sensors", sa.JSON), sa.column("layer"), sa.column("created_at"),
                       sa.column("identity"))
    seen: set[str] = set()
    rows = conn.execute(sa.select(samples.c.id, samples.c.hash, samples.c.kind, samples.c.frequency_hz,
                                  samples.c.sensors).where(samples.c.layer == "raw")
                        .order_by(samples.c.created_at, samples.c.id)).all()
    for sid, digest, kind, freq, sensors in rows:
        ident = content_identity(digest, kind, freq, [Sensor(s["name"], s.get("units")) for s in sensors or []])
        if ident in seen:
            continue
        seen.add(ident)
        conn.execute(samples.update().where(samples.c.id == sid).values(identity=ident))
    op.create_index("ix_samples_identity", "samples", ["identity"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_samples_identity", table_name="samples")
    op.drop_column("samples", "identity")

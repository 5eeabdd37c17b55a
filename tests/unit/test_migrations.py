"""A database migrated from empty through every Alembic branch equals ``Base.metadata`` (no diffs)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from crisp_eml.store import db
from crisp_eml.store.tables import Base


def test_migrated_db_equals_metadata(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine)
    assert db.current_revisions(engine) == db.head_revisions()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == [], f"migrations and table modules disagree: {diffs}"


def test_every_branch_has_a_head_and_all_are_applied(tmp_path: Path) -> None:
    heads = db.head_revisions()
    assert "0004" in heads  # the lifecycle branch
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine)
    db.upgrade(engine)  # idempotent
    assert db.current_revisions(engine) == heads


def test_a_table_missing_from_migrations_is_detected(tmp_path: Path) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine)
    extra = MetaData()
    for t in Base.metadata.tables.values():
        t.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), extra)
    assert any(d[0] == "add_table" and d[1].name == "not_migrated" for d in diffs)

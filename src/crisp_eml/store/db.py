"""Database engine creation and schema migration (Alembic is the only way the schema changes)."""

from __future__ import annotations

import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from crisp_eml.core.errors import ProjectError

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "eml_read_only"  # execution option: a transaction that only reads (SQLite: no write lock)

# Engines made in this process. A command disposes them all when it returns, so SQLite checkpoints and
# removes its write-ahead log then, instead of whenever the garbage collector reaches the engine.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_engines() -> None:
    """Close the pooled connections of every engine this process made (each reconnects if used again)."""
    for engine in list(_ENGINES):
        engine.dispose()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a malformed URL or a missing driver is a :class:`ProjectError` naming it."""
    try:
        engine = _make_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ProjectError(f"metadata_url {url!r} is unusable: {exc}") from exc
    _ENGINES.add(engine)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # The sqlite3 module would otherwise read outside any transaction and only BEGIN before the
            # first write, so a check-then-insert (duplicates, the audit sequence) races other writers.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            # Take the write lock first: every transaction is serialised against the other writers from its
            # first read, so what it checked is still true when it commits (WAL readers are not blocked).
            # A read-only view (``read_only`` execution option) takes a plain snapshot and never waits.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revisions() -> set[str]:
    """Heads of the migration tree: each capability owns a branch rooted at revision 0001."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return set(script.get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine) -> None:
    """Bring the schema to every branch head; a no-op when it already is."""
    try:
        current = current_revisions(engine)
    except DatabaseError as exc:  # also OperationalError: unreachable server, unreadable or non-database file
        raise ProjectError(f"cannot open the metadata database {engine.url!r}: {exc.orig}") from exc
    if current == head_revisions():
        return
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")

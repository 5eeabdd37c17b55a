"""Persistence: SQLAlchemy metadata (SQLite/PostgreSQL, Alembic migrations) and content-addressed blobs."""

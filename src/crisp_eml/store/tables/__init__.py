"""SQLAlchemy table definitions, one module per capability, all on one declarative ``Base``.

Importing this package registers every table; Alembic migrations are the only way the schema changes.
"""

from crisp_eml.store.tables import audit, calibration, data, impulse, learn, lifecycle, server  # noqa: F401
from crisp_eml.store.tables.base import Base

__all__ = ["Base"]

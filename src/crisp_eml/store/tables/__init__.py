"""SQLAlchemy table definitions, one module per capability, all on one declarative ``Base``.

Importing this package registers every table; Alembic migrations are the only way the schema changes.
"""

from crisp_eml.store.tables import (  # noqa: F401
    audit,
    calibration,
    data,
    devices,
    impulse,
    learn,
    lifecycle,
    server,
)
from crisp_eml.store.tables.base import Base

__all__ = ["Base"]

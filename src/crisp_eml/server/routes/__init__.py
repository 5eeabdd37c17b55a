"""The API's routers, one module per area, each exposing ``router`` (a FastAPI ``APIRouter``).

:data:`ROUTERS` are mounted under ``/api/v1``; :data:`ROOT_ROUTERS` at the server root (the Edge Impulse
compatible ingestion service lives where Edge Impulse's does, so existing clients only change the host; the
Studio's pages, static files and sign-in live at the root too).
"""

ROUTERS: tuple[str, ...] = ("system", "samples", "datasets", "impulse", "models", "lifecycle", "artifacts", "jobs",
                             "uploads", "targets", "tokens", "data_views",
                             "insights", "downloads", "review", "devices", "device_api")
ROOT_ROUTERS: tuple[str, ...] = ("ei_ingest", "studio")

"""The app factory: one FastAPI app per call, over one project, with no module-level state.

``create_app(settings)`` opens the project, installs the error handlers and the body limit, mounts every
router of :data:`crisp_eml.server.routes.ROUTERS` under ``/api/v1`` and the Edge Impulse compatible ingestion
routes at the root, and starts the background job runner with the app's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from crisp_eml import __version__
from crisp_eml.server import errors
from crisp_eml.server.auth import member_project
from crisp_eml.server.context import ServerContext
from crisp_eml.server.failed_logins import FailedLogins
from crisp_eml.server.limits import BodyLimit
from crisp_eml.server.routes import ROOT_ROUTERS, ROUTERS
from crisp_eml.server.settings import ServerSettings
from crisp_eml.store.project import Project

API_PREFIX = "/api/v1"


def create_app(settings: ServerSettings) -> FastAPI:
    project = Project.open(settings.root)
    ctx = ServerContext(settings=settings, project=project,
                        failed_logins=FailedLogins(settings.failed_login_limit, settings.failed_login_window_s))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner = _start_jobs(ctx)
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            project.engine.dispose()

    app = FastAPI(title="crisp-eml", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.ctx = ctx
    errors.install(app)
    for name in ROUTERS:
        app.include_router(import_module(f"crisp_eml.server.routes.{name}").router, prefix=API_PREFIX)
    for name in ROOT_ROUTERS:
        app.include_router(import_module(f"crisp_eml.server.routes.{name}").router)

    @app.get("/health", tags=["system"])
    def health() -> dict[str, Any]:
        """Liveness: the only route that needs no credentials."""
        return {"status": "ok", "version": __version__}

    @app.get(f"{API_PREFIX}/openapi.json", tags=["system"], include_in_schema=False)
    def openapi(_p: Project = Depends(member_project)) -> dict[str, Any]:
        """The OpenAPI description of this API (members only, like every other route)."""
        return openapi_schema(app)

    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    return app


def mounted_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, full path) of every route the app serves: its own and those of each mounted router module
    (read from the routers, since FastAPI keeps included routers behind a private wrapper)."""
    from fastapi.routing import APIRoute

    found = [(r, "") for r in app.routes if isinstance(r, APIRoute)]
    for names, prefix in ((ROUTERS, API_PREFIX), (ROOT_ROUTERS, "")):
        for name in names:
            found += [(r, prefix) for r in import_module(f"crisp_eml.server.routes.{name}").router.routes
                      if isinstance(r, APIRoute)]
    return sorted({(m, prefix + r.path) for r, prefix in found for m in (r.methods or set()) - {"HEAD", "OPTIONS"}})


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once), with the bearer-token security scheme declared."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description="crisp-eml team server. Every route but /health needs a member token "
                                         "(Authorization: Bearer) or, for sample uploads, an ingestion key "
                                         "(x-api-key).")
        comps = schema.setdefault("components", {})
        comps.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
        comps["securitySchemes"]["apiKey"] = {"type": "apiKey", "in": "header", "name": "x-api-key"}
        schema["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def _start_jobs(ctx: ServerContext) -> Any:
    """Start the background job runner (and mark jobs a previous server left running as interrupted).
    ``job_workers=0`` runs none: jobs stay queued (API tests, or a server that leaves jobs to other processes)."""
    if ctx.settings.job_workers <= 0:
        return None
    try:
        runner_mod = import_module("crisp_eml.jobs.runner")
    except ModuleNotFoundError:
        return None
    runner = runner_mod.JobRunner(ctx.project, workers=ctx.settings.job_workers)
    runner.start()
    ctx.jobs = runner
    return runner


"""The ASGI entry point uvicorn imports in each worker process: the project folder comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from crisp_eml.server.app import create_app
from crisp_eml.server.serve import ROOT_ENV
from crisp_eml.server.settings import ServerSettings


def factory() -> FastAPI:
    return create_app(ServerSettings(root=Path(os.environ.get(ROOT_ENV, "."))))

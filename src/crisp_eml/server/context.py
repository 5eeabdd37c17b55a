"""What one running app holds: its settings, the open project, the failed-login counter and the job runner.

Built by :func:`crisp_eml.server.app.create_app` and kept on ``app.state.ctx``; routes reach it through the
request, never through a module global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crisp_eml.server.failed_logins import FailedLogins
from crisp_eml.server.settings import ServerSettings
from crisp_eml.store.project import Project

if TYPE_CHECKING:
    from crisp_eml.jobs.runner import JobRunner


@dataclass
class ServerContext:
    settings: ServerSettings
    project: Project
    failed_logins: FailedLogins
    jobs: JobRunner | None = None  # once started (none with job_workers=0)

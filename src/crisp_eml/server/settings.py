"""Server settings: where the project is, how big a request may be, how many failed logins are tolerated.

One frozen value built by ``eml serve`` (or a test) and handed to :func:`crisp_eml.server.app.create_app`;
nothing here is module-level state, so two apps in one process never share anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    root: Path  # the project folder (holding eml.toml)
    max_request_bytes: int = 512 * MIB  # one request body, all files together
    max_file_bytes: int = 100 * MIB  # one uploaded file
    max_files: int = 1000  # files in one multipart request (Edge Impulse's limit)
    failed_login_limit: int = 20  # failed authentications per client ...
    failed_login_window_s: float = 60.0  # ... within this many seconds, then 429 until the window passes
    job_workers: int = 2  # background jobs running at once (each in its own process); 0: this app runs none
    sse_poll_s: float = 0.25  # how often an event stream looks for new job events

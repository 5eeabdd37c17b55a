"""Shared set-up for server tests: a project with one member per persona, a token each, and an in-process client.

``make_api(tmp_path)`` returns an :class:`Api`: ``api.client`` is a FastAPI TestClient over ``create_app`` (the
app's lifespan, and so its job runner, runs while the client is open), ``api.headers("dana")`` the bearer header
of that member's token, ``api.project`` the project as its owner sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from crisp_eml.server.app import create_app
from crisp_eml.server.settings import ServerSettings
from crisp_eml.store.project import Project
from crisp_eml.workspace.credentials import create_ingest_key, create_token
from crisp_eml.workspace.members import add_member

OWNER = "alice"  # owner, ml-platform-developer: may do everything
MEMBERS = {  # name -> persona
    "dana": "data-scientist", "erin": "embedded-developer", "bob": "business-leader", "olga": "devops-mlops",
    "ed": "domain-expert", "uma": "end-user", "rita": "ml-researcher", "pat": "ml-platform-developer",
}


@dataclass
class Api:
    root: Path
    project: Project  # acting as the owner
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    ingest_key: str = ""

    def headers(self, member: str = OWNER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[member]}"}

    def token_id(self, member: str) -> str:
        """The id part of a member's token (what the audit trail records as ``via_token``)."""
        return self.tokens[member].split("_")[2]

    def ingest_motions(self) -> int:
        """Ingest BasicMotions (80 real recordings, 4 labels, names repeated in training and testing) through
        the ingest use case; the number of samples."""
        from conftest import BASIC_MOTIONS
        from crisp_eml.workspace.ingest import ingest_paths

        report = ingest_paths(self.project, [BASIC_MOTIONS])
        assert not report.failures, report.failures
        return len(report.samples)


def make_project(root: Path, metadata_url: str | None = None) -> tuple[Project, dict[str, str], str]:
    """A project with the owner and one member per persona; a token for each and one ingestion key. Its metadata
    is in SQLite, or in the database at ``metadata_url`` (PostgreSQL)."""
    project = Project.init(root, "served", member=OWNER, metadata_url=metadata_url).acting_as(OWNER)
    for name, persona in MEMBERS.items():
        add_member(project, name, persona)
    tokens = {OWNER: create_token(project, OWNER)["token"]}
    for name in MEMBERS:
        tokens[name] = create_token(project, name)["token"]
    key = create_ingest_key(project, "test-device")["key"]
    return project, tokens, key


@contextmanager
def api_for(root: Path, **settings: object) -> Iterator[Api]:
    project, tokens, key = make_project(root)
    app = create_app(ServerSettings(root=root, **settings))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(root, project, client, tokens, key)


@contextmanager
def ml_api_for(root: Path) -> Iterator[Api]:
    """:func:`api_for` over a project with ten 3-axis samples (two labels) and a quick impulse, chosen by the
    workspace use case."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
    from data_helpers import small_dataset

    from crisp_eml.workspace.impulse import create_impulse

    with api_for(root) as api:
        small_dataset(api.project)
        create_impulse(api.project, quick=True)
        yield api


import subprocess  # noqa: E402 - for the live server below


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(root: Path, *, timeout_s: float = 60.0) -> Iterator[LiveServer]:
    """A real ``eml serve --json`` on a free loopback port in the project folder ``root``, up (``/health``
    answers) when entered, stopped (SIGTERM, then SIGKILL) when left."""
    import json
    import sys
    import tempfile
    import time
    import urllib.request

    port = free_port()
    eml = Path(sys.executable).with_name("eml")
    # stderr to a file, never an unread pipe: a server logging many errors would fill the pipe and freeze
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen([str(eml), "serve", "--port", str(port), "--json", "--log-level", "warning"],
                            cwd=root, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = json.loads(line)["url"] if line.strip() else f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read()[-4000:]
                raise RuntimeError(f"eml serve exited with {proc.returncode}: {err}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"eml serve did not answer on {url} within {timeout_s} s")
            time.sleep(0.1)
        yield LiveServer(url, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def sse_events(api: Api, url: str, member: str, *, wait_s: float | None = None,
               **headers: str) -> list[dict[str, Any]]:
    """Every event of a Server-Sent Events stream read as ``member`` until the server ends it: dicts of its
    ``id``/``event``/``data`` (JSON) fields. With ``wait_s`` a stream still open after that long fails (the
    server sends a keep-alive comment every 15 s, so a stalled job is noticed)."""
    import json
    import time

    events: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    deadline = None if wait_s is None else time.monotonic() + wait_s
    with api.client.stream("GET", url, headers={**api.headers(member), **headers}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.read()
        for line in r.iter_lines():
            if deadline is not None and time.monotonic() > deadline:
                raise AssertionError(f"{url} still open after {wait_s} s; events so far: {events[-5:]}")
            if not line:
                if cur:
                    events.append(cur)
                cur = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                cur[key] = json.loads(value) if key == "data" else value
    if cur:
        events.append(cur)
    return events

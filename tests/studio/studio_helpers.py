"""Browser tests of the Studio: Playwright for Python driving Debian's chromium against a real ``eml serve``.

tests/conftest.py loads this module as a plugin (``pytest_plugins``), so its session fixtures are shared by every
test module; this folder has no conftest.py, since a second ``conftest`` module would shadow the root one that
other tests import names from.

- ``demo_project``: the ``make demo`` project (data, impulse, trained and compiled model, gate, report), built
  once per test session (a lock lets one xdist worker build it while the other waits) and copied for each test,
  so tests may change it.
- ``studio``: a :class:`Studio` on a fresh copy: a live server, a browser page, ``sign_in(member)`` through a
  one-time login link, ``shot(name)`` screenshots into ``test-output/studio/`` (not committed). Any JavaScript
  error, console error, failed request, request to another host (no CDN: the Studio works offline) or HTTP
  error status the page meets fails the test, unless the test declared that status with ``studio.allow()``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from server_helpers import LiveServer, live_server  # noqa: E402

CHROMIUM = os.environ.get("EML_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(os.environ.get("EML_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")) / "studio"
NOT_YET = ("/api/v1/impulse", "/api/v1/features", "/api/v1/datasets/quality/latest")  # 404 in a new project


def _default_key_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "crisp-eml" / "keys"


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo project, built once per test session (shared by xdist workers through a lock), and the folder
    of its private audit key. A developer may point ``EML_STUDIO_DEMO`` at a demo
    project built before (``make demo``'s, keys in the default key home) to skip the build."""
    if os.environ.get("EML_STUDIO_DEMO"):
        return Path(os.environ["EML_STUDIO_DEMO"]), _default_key_home()
    base = tmp_path_factory.getbasetemp().parent  # shared by every xdist worker of this session
    root, keys, lock = base / "studio-demo" / "demo-project", base / "studio-demo" / "keys", base / "studio-demo.lock"
    root.parent.mkdir(exist_ok=True)
    with lock.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        if not (root.parent / "built").exists():
            shutil.rmtree(root, ignore_errors=True)
            env = {k: v for k, v in os.environ.items() if k not in ("EML_PROJECT", "EML_MEMBER")}
            env["EML_KEY_HOME"] = str(keys)
            done = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                   "from crisp_eml.demo import run; run(Path(sys.argv[1]))", str(root)],
                                  cwd=root.parent, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            (root.parent / "built").touch()
    return root, keys


@pytest.fixture
def demo_project(demo_build: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo project (tests may change it), its private audit key in this process's key home
    as on the machine that made it (so the server signs the audit checkpoints of what a test adds)."""
    from crisp_eml.store.audit_checkpoints import private_key_path
    from crisp_eml.store.project import Project

    built, keys = demo_build
    root = tmp_path / "demo-project"
    shutil.copytree(built, root, ignore=shutil.ignore_patterns("*.lock"))
    monkeypatch.delenv("EML_PROJECT", raising=False)
    monkeypatch.delenv("EML_MEMBER", raising=False)
    here = private_key_path(Project.open(root).project_id)
    if not here.exists() and (keys / here.name).is_file():
        here.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(keys / here.name, here)
    return root


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make setup does, as root)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@dataclass
class Studio:
    """A signed-out browser page next to a live server of ``root``; see the module docstring."""

    root: Path
    server: LiveServer
    page: Any
    name: str
    problems: list[str] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)
    allowed_at: set[tuple[int, str]] = field(default_factory=set)  # (status, path) expected on one route only

    @property
    def url(self) -> str:
        return self.server.url

    def allow(self, *statuses: int, path: str | None = None) -> None:
        """Declare HTTP error statuses this test expects the page to meet (e.g. a validation error shown),
        anywhere or, with ``path``, only from that route (e.g. 404 from /api/v1/impulse before there is one)."""
        if path is None:
            self.allowed.update(statuses)
        else:
            self.allowed_at.update((s, path) for s in statuses)

    def allow_not_yet(self) -> None:
        """A new project: the API answers 404 for what does not exist yet (an impulse, its features, a quality
        report), and the pages show an empty state for it."""
        for path in NOT_YET:
            self.allow(404, path=path)

    def expected(self, status: int, url: str) -> bool:
        from urllib.parse import urlsplit

        return status in self.allowed or (status, urlsplit(url).path) in self.allowed_at

    def login_url(self, member: str) -> str:
        from crisp_eml.store.project import Project
        from crisp_eml.workspace.studio_sessions import create_login_link

        owner = Project.open(self.root).acting_as("demo")
        return f"{self.url}/login?token={create_login_link(owner, member)['token']}"

    def sign_in(self, member: str = "demo", page: str = "/") -> None:
        """Sign in as ``member`` through a one-time login link, then open ``page``."""
        self.page.goto(self.login_url(member))
        self.page.wait_for_selector("#me:not(:empty)")
        if page != "/":
            self.goto(page)
        else:
            self.page.wait_for_selector("#page .page:not(:has(> .loading))")

    def goto(self, path: str) -> None:
        """Open a Studio page through the navigation's client-side routing and wait for it to render."""
        self.page.goto(self.url + path)
        self.page.wait_for_selector("#page .page:not(:has(> .loading))")

    def shot(self, label: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check(self) -> None:
        assert not self.problems, "the page met errors:\n" + "\n".join(self.problems)


@contextmanager
def open_studio(root: Path, browser: Any, name: str) -> Iterator[Studio]:
    """A live server of the project at ``root`` and a fresh browser page watched for errors (see the module
    docstring); the test fails on leaving if the page met one."""
    with live_server(root) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(30_000)
        st = Studio(root, server, page, name)
        page.on("pageerror", lambda e: st.problems.append(f"JavaScript error: {e}"))
        page.on("console", lambda m: st.problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" and "status of" not in m.text else None)
        page.on("requestfailed", lambda r: st.problems.append(f"request failed: {r.method} {r.url} {r.failure}")
                if "net::ERR_ABORTED" not in (r.failure or "") else None)
        page.on("request", lambda r: st.problems.append(f"request off the server (no CDN, works offline): {r.url}")
                if not r.url.startswith((server.url, "data:", "blob:", "about:")) else None)
        page.on("response", lambda r: st.problems.append(f"HTTP {r.status}: {r.request.method} {r.url}")
                if r.status >= 400 and not st.expected(r.status, r.url) else None)
        try:
            yield st
            st.check()
        finally:
            context.close()


@pytest.fixture
def studio(demo_project: Path, browser: Any, request: pytest.FixtureRequest) -> Iterator[Studio]:
    """The Studio over a copy of the demo project."""
    with open_studio(demo_project, browser, request.node.name) as st:
        yield st


@pytest.fixture
def empty_studio(tmp_path: Path, browser: Any, request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    """The Studio over a fresh project with nothing in it (its owner ``demo`` may do everything)."""
    from crisp_eml.store.project import Project

    monkeypatch.delenv("EML_PROJECT", raising=False)
    monkeypatch.delenv("EML_MEMBER", raising=False)
    root = tmp_path / "empty"
    Project.init(root, "empty", member="demo")
    with open_studio(root, browser, request.node.name) as st:
        yield st

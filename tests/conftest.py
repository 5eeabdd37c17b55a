"""Shared fixtures: fresh projects in temp folders, the CLI runner, and paths to ../shared data."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Audit signing keys live outside projects (~/.config/crisp-eml/keys by default): keep the tests' own keys in a
# throw-away folder; subprocesses started by tests inherit it.
if "EML_KEY_HOME" not in os.environ:
    import tempfile

    os.environ["EML_KEY_HOME"] = tempfile.mkdtemp(prefix="eml-test-keys-")

REPO = Path(__file__).resolve().parents[1]

# The Studio's browser fixtures (one Playwright and one chromium per test process) live in tests/studio/
# studio_helpers.py, loaded here as a plugin: a conftest.py of their own would shadow this module's name.
sys.path.insert(0, str(Path(__file__).resolve().parent / "studio"))
pytest_plugins = ["studio_helpers"]
SHARED = Path(os.environ.get("EML_SHARED", REPO.parent / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"
MLPERF_TINY = SHARED / "models" / "mlperf-tiny"


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[object]:
    from crisp_eml.store.project import Project

    yield Project.init(tmp_path / "proj", "test-project", member="tester")


def invoke_cli(args: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``eml ARGS`` in-process (in ``cwd`` when given); returns (exit_code, stdout, stderr). Module- and
    session-scoped fixtures call it directly; tests use the ``run_cli`` fixture."""
    import contextlib
    import io

    from crisp_eml.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def run_cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``eml ARGS`` in-process; returns (exit_code, stdout, stderr)."""

    def _run(args: list[str], cwd: Path | None = None, capsys=None):  # type: ignore[no-untyped-def]
        return invoke_cli(args, cwd)

    return _run


@pytest.fixture
def api(tmp_path: Path) -> Iterator[object]:
    """An in-process server over a project with one member per persona (tests/server/server_helpers.py)."""
    from server_helpers import api_for  # tests/server is on sys.path while its tests run

    with api_for(tmp_path / "proj") as a:
        yield a

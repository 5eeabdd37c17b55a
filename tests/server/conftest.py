"""Fixtures for the server tests (see server_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Api, api_for


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_for(tmp_path / "proj") as a:
        yield a

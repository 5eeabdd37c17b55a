"""What many end-to-end tests share: run one ``eml`` command that must succeed, with a failure message that shows
the command and the tail of its output (pytest puts this folder on ``sys.path``, as for the golden helpers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cli_ok(run_cli: Any, args: list[str], cwd: Path) -> str:
    """stdout of ``eml ARGS`` run in ``cwd`` through the ``run_cli`` fixture; fails the test on a non-zero exit."""
    code, out, err = run_cli(args, cwd=cwd)
    assert code == 0, f"eml {' '.join(args)} -> {code}\n{out[-3000:]}\n{err[-3000:]}"
    return str(out)

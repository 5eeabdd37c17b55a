"""Guards that ``eml`` starts fast (issue 10) without timing anything: a command imports only its own CLI module, and
``eml version`` / ``eml --help`` / ``eml train --help`` load no heavy library (the store, numeric, ML or server
stacks). The start-up figures themselves are measured by ``benchmarks/startup.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# libraries that cost tens to thousands of milliseconds to import and no start-up path needs
HEAVY = ("numpy", "scipy", "pandas", "sklearn", "tensorflow", "keras", "tflite_micro", "sqlalchemy", "alembic",
         "fsspec", "fastapi", "starlette", "uvicorn", "cryptography", "librosa", "PIL", "matplotlib", "jinja2")

_PROBE = """
import contextlib, io, json, sys
from crisp_eml.cli.main import main
for args in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
        except SystemExit as exc:
            assert not exc.code, (args, exc.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[2]))
cli = sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("crisp_eml.cli."))
store = sorted(m for m in sys.modules if m.startswith("crisp_eml.store"))
print(json.dumps({"heavy": loaded, "cli": cli, "store": store}))
"""


def _probe(*commands: list[str]) -> dict[str, Any]:
    """Run ``main(args)`` for each of ``commands`` in one fresh interpreter; what it had imported afterwards."""
    r = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(commands), json.dumps(HEAVY)],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("commands", [[["version"]], [["version", "--json"]], [["--help"]], [["train", "--help"]],
                                      [["data", "ls", "--help"]], [["impulse", "--help"]]])
def test_start_up_paths_import_no_heavy_library(commands: list[list[str]]) -> None:
    res = _probe(*commands)
    assert res["heavy"] == [], f"eml {' '.join(commands[0])} imported heavy modules at start-up"
    assert res["store"] == [], "the project store (SQLAlchemy, Alembic) must load only when a command opens it"


def test_version_imports_no_sub_command_module() -> None:
    assert _probe(["version"])["cli"] == ["common", "main"]


def test_a_sub_command_imports_only_its_own_module() -> None:
    assert _probe(["train", "--help"])["cli"] == ["common", "learn", "main"]
    assert _probe(["models", "alias", "--help"])["cli"] == ["common", "main", "models"]


def test_command_map_matches_what_the_modules_register() -> None:
    """Every top-level name in ``_COMMAND_MODULES`` is registered by that module and every registered name is in
    the map (a missing one would still work, only slower: it registers every module)."""
    import crisp_eml.cli.main as main_mod

    main_mod._register()
    registered = {
        (c.name or (c.callback.__name__ if c.callback else "")): mod
        for mod, (commands, _) in main_mod._added.items() for c in commands
    } | {str(g.name): mod for mod, (_, groups) in main_mod._added.items() for g in groups}
    assert set(main_mod._added) == set(main_mod._MODULES)
    assert registered == main_mod._COMMAND_MODULES


_ORDER = """
import contextlib, io, json, sys
import typer
from crisp_eml.cli import main as m
with contextlib.redirect_stdout(io.StringIO()):
    for args in json.loads(sys.argv[1]):
        try:
            m.main(args)
        except SystemExit:
            pass
m._register()
print(json.dumps(list(typer.main.get_command(m.app).commands)))
"""


def test_help_order_does_not_depend_on_what_ran_before_in_process() -> None:
    """Tests call ``main()`` many times in one process; `eml --help` and docs/cli.md must list commands in the same
    order whichever single modules an earlier call registered first."""

    def order(*commands: list[str]) -> list[str]:
        r = subprocess.run([sys.executable, "-c", _ORDER, json.dumps(commands)], capture_output=True, text=True,
                           timeout=120, cwd=REPO)
        assert r.returncode == 0, r.stderr[-3000:]
        return list(json.loads(r.stdout.strip().splitlines()[-1]))

    fresh = order()
    assert fresh[:2] == ["init", "version"] and "train" in fresh and "models" in fresh
    assert order(["models", "--help"], ["train", "--help"], ["deploy", "--help"]) == fresh

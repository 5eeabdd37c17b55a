"""The whole CRISP-EML loop through the CLI on the real basic-motions data ("Done means" of issue 6).

Requirements that pass -> gate passes -> promotion to production; then the RAM budget is tightened below
what the compiled library needs: the gate fails on exactly that row (exit 8), the phases board sends the
project back to Model Development, promotion is refused, the report shows it and the audit chain holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_ok

from conftest import BASIC_MOTIONS


@pytest.mark.slow
def test_lifecycle_gate_feedback_and_promotion(run_cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "motion"
    cli_ok(run_cli, ["init", str(root), "--member", "alice"], tmp_path)
    cli_ok(run_cli, ["requirements", "set", "target=cortex-m4f-80mhz", "min_accuracy=0.7", "min_f1=0.6",
                  "max_ram=64k", "max_flash=64k", "min_quality=20", "min_samples_per_class=5",
                  "int8_drop=0.1", "-m", "pilot"], root)
    cli_ok(run_cli, ["ingest", str(BASIC_MOTIONS)], root)
    cli_ok(run_cli, ["data", "snapshot", "-m", "basic motions"], root)
    cli_ok(run_cli, ["impulse", "create"], root)
    run = json.loads(cli_ok(run_cli, ["train", "--epochs", "20", "--json"], root))
    model = json.loads(cli_ok(run_cli, ["models", "register", "motion", "--json"], root))
    assert model["uri"] == "models:/motion/1"

    lib = json.loads(cli_ok(run_cli, ["compile", "--model", "models:/motion/1", "-o", "lib/motion", "--name", "motion",
                                   "--json"], root))
    ram_needed = int(lib["ram_bytes"])

    gate = json.loads(cli_ok(run_cli, ["gate", "models:/motion/1", "--library", "lib/motion", "--json"], root))
    assert gate["passed"], gate["rows"]
    rows = {r["requirement"]: r for r in gate["rows"]}
    assert rows["max_ram_bytes"]["measured"] == ram_needed and "MANIFEST.json" in rows["max_ram_bytes"]["source"]
    assert "metrics.test.int8" in rows["min_accuracy"]["source"]
    test = run["metrics"]["test"]
    assert rows["max_int8_accuracy_drop"]["measured"] == pytest.approx(
        test["float32"]["accuracy"] - test["int8"]["accuracy"])
    cli_ok(run_cli, ["models", "alias", "set", "motion", "production", "1"], root)
    board = json.loads(cli_ok(run_cli, ["status", "--json"], root))
    assert all(p["state"] == "done" for p in board["phases"]), board

    # tighten the RAM budget below what the library needs
    cli_ok(run_cli, ["requirements", "set", f"max_ram={ram_needed - 1}", "-m", "smaller MCU"], root)
    code, out, err = run_cli(["gate", "models:/motion/1", "--library", "lib/motion", "--json"], cwd=root)
    assert code == 8 and "max_ram_bytes" in err
    failed = json.loads(out)
    assert failed["failed"] == ["max_ram_bytes"]
    row = next(r for r in failed["rows"] if r["requirement"] == "max_ram_bytes")
    assert (row["measured"], row["threshold"], row["passed"]) == (ram_needed, ram_needed - 1, False)

    board = json.loads(cli_ok(run_cli, ["status", "--json"], root))
    states = {p["key"]: p for p in board["phases"]}
    assert states["model-development"]["state"] == "in progress"
    assert "max_ram_bytes" in states["model-development"]["why"]
    assert states["development-testing"]["state"] == "blocked"
    assert board["focus"] == "model-development"
    assert board["feedback"][0]["to"] == "model-development"

    cli_ok(run_cli, ["models", "register", "motion"], root)  # version 2, same run, never gated
    for version in ("1", "2"):
        code, _, err = run_cli(["models", "alias", "set", "motion", "production", version], cwd=root)
        assert code == 8 and "refusing" in err
    aliases = json.loads(cli_ok(run_cli, ["models", "alias", "history", "motion", "--json"], root))
    assert [a["to_version"] for a in aliases] == [1]

    rep = json.loads(cli_ok(run_cli, ["report", "-o", "report", "--model", "models:/motion/1", "--json"], root))
    html = Path(rep["html"]).read_text()
    assert "does NOT meet 1 of" in html and "max_ram_bytes" in html and Path(rep["pdf"]).is_file()
    verify = json.loads(cli_ok(run_cli, ["audit", "verify", "--json"], root))
    assert verify["ok"]
    actions = [e["action"] for e in json.loads(cli_ok(run_cli, ["audit", "log", "--json"], root))]
    assert actions.count("gate.evaluate") == 2 and actions.count("requirements.set") == 2

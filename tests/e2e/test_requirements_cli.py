"""`eml requirements set|show`, `eml status` and `eml gate` through the CLI, before any model exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_requirements_status_and_gate_cli(run_cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "p"
    assert run_cli(["init", str(root), "--member", "alice"])[0] == 0
    code, out, _ = run_cli(["requirements", "show", "--json"], cwd=root)
    assert code == 0 and json.loads(out)["version"] == 0
    code, out, err = run_cli(["requirements", "set", "target=cortex-m4", "min_accuracy=90%", "max_ram=64k",
                              "-m", "pilot"], cwd=root)
    assert code == 0, err
    assert "65536 B (64.0 KiB)" in out and "90.0%" in out
    code, _, err = run_cli(["requirements", "set", "max_ram=lots"], cwd=root)
    assert code == 2 and "max_ram" in err and "byte count" in err
    code, _, err = run_cli(["requirements", "set", "min_accuracy"], cwd=root)
    assert code == 2 and "KEY=VALUE" in err
    assert run_cli(["requirements", "set", "max_ram=32k", "-m", "smaller MCU"], cwd=root)[0] == 0
    code, out, _ = run_cli(["requirements", "show", "--history", "--json"], cwd=root)
    hist = json.loads(out)
    assert [(h["version"], h["kpis"]["max_ram_bytes"], h["message"]) for h in hist] == [
        (1, 65536, "pilot"), (2, 32768, "smaller MCU")]
    assert hist[0]["target"] == "cortex-m4f-80mhz"

    code, out, _ = run_cli(["status", "--json"], cwd=root)
    board = json.loads(out)
    assert [p["state"] for p in board["phases"]][:3] == ["done", "done", "not started"]
    assert board["focus"] == "data-acquisition"
    code, out, _ = run_cli(["status"], cwd=root)
    assert code == 0 and "Business" in out and "not started" in out and "owners: business-leader" in out

    code, _, err = run_cli(["gate", "models:/nothing/1"], cwd=root)
    assert code == 3 and "no model named 'nothing'" in err
    code, _, err = run_cli(["gate", "not a uri"], cwd=root)
    assert code == 2 and "models:/NAME" in err

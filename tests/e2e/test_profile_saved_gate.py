"""`eml profile` inside a project saves its figures; a later `eml gate` (no --profile) uses them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

AD01 = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "mlperf-tiny" / "ad01_int8.tflite"


def _ok(run_cli: Any, args: list[str], cwd: Path) -> str:
    code, out, err = run_cli(args, cwd=cwd)
    assert code == 0, f"eml {' '.join(args)} -> {code}\n{out}\n{err}"
    return str(out)


@pytest.mark.cross
def test_saved_profile_is_gate_evidence(run_cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "ad"
    _ok(run_cli, ["init", str(root), "--member", "alice"], tmp_path)
    _ok(run_cli, ["models", "import", str(AD01), "--name", "ad01", "--task", "regression"], root)
    prof = json.loads(_ok(run_cli, ["profile", "models:/ad01/1", "--target", "cortex-m4", "--json"], root))
    assert prof["saved_as"].startswith("audit #") and prof["latency_ms"] > 0
    log = json.loads(_ok(run_cli, ["audit", "log", "--json"], root))
    saved = [e for e in log if e["action"] == "compiler.profile"]
    assert len(saved) == 1 and saved[0]["artifacts"]["latency_ms"] == prof["latency_ms"]
    _ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=64k", "max_flash=512k",
                  f"max_latency_ms={prof['latency_ms'] * 2}"], root)
    gate = json.loads(_ok(run_cli, ["gate", "models:/ad01/1", "--json"], root))
    rows = {r["requirement"]: r for r in gate["rows"]}
    assert gate["passed"], rows
    for key, field in (("max_latency_ms", "latency_ms"), ("max_ram_bytes", "ram_bytes"),
                       ("max_flash_bytes", "flash_bytes")):
        assert rows[key]["measured"] == prof[field] and rows[key]["source"].startswith("saved profile on"), rows[key]
    _ok(run_cli, ["requirements", "set", f"max_latency_ms={prof['latency_ms'] / 2}"], root)
    code, out, _ = run_cli(["gate", "models:/ad01/1", "--json"], cwd=root)
    assert code != 0 and json.loads(out)["failed"] == ["max_latency_ms"]

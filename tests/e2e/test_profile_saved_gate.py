"""`eml profile` inside a project saves its figures; a later `eml gate` (no --profile) uses them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_ok, imported_model_project

from conftest import MLPERF_TINY

AD01 = MLPERF_TINY / "ad01_int8.tflite"


@pytest.mark.cross
def test_saved_profile_is_gate_evidence(run_cli: Any, tmp_path: Path) -> None:
    root = imported_model_project(run_cli, tmp_path, AD01, "ad01")
    prof = json.loads(cli_ok(run_cli, ["profile", "models:/ad01/1", "--target", "cortex-m4", "--json"], root))
    assert prof["saved_as"].startswith("audit #") and prof["latency_ms"] > 0
    log = json.loads(cli_ok(run_cli, ["audit", "log", "--json"], root))
    saved = [e for e in log if e["action"] == "compiler.profile"]
    assert len(saved) == 1 and saved[0]["artifacts"]["latency_ms"] == prof["latency_ms"]
    cli_ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=64k", "max_flash=512k",
                  f"max_latency_ms={prof['latency_ms'] * 2}"], root)
    gate = json.loads(cli_ok(run_cli, ["gate", "models:/ad01/1", "--json"], root))
    rows = {r["requirement"]: r for r in gate["rows"]}
    assert gate["passed"], rows
    for key, field in (("max_latency_ms", "latency_ms"), ("max_ram_bytes", "ram_bytes"),
                       ("max_flash_bytes", "flash_bytes")):
        assert rows[key]["measured"] == prof[field] and rows[key]["source"].startswith("saved profile on"), rows[key]
    cli_ok(run_cli, ["requirements", "set", f"max_latency_ms={prof['latency_ms'] / 2}"], root)
    code, out, _ = run_cli(["gate", "models:/ad01/1", "--json"], cwd=root)
    assert code != 0 and json.loads(out)["failed"] == ["max_latency_ms"]

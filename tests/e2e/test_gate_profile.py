"""`eml gate --library DIR --profile` measures RAM, flash and latency on the target (cross build + QEMU)
for a real MLPerf Tiny model brought in with `eml models import`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_ok, imported_model_project

from conftest import MLPERF_TINY

AD01 = MLPERF_TINY / "ad01_int8.tflite"


@pytest.mark.cross
def test_gate_profiles_the_library_on_the_target(run_cli: Any, tmp_path: Path) -> None:
    root = imported_model_project(run_cli, tmp_path, AD01, "ad01")
    lib = json.loads(cli_ok(run_cli, ["compile", str(AD01), "-o", "lib", "--name", "ad01", "--json"], root))
    cli_ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=64k", "max_flash=512k",
                  "max_latency_ms=1000"], root)
    gate = json.loads(cli_ok(run_cli, ["gate", "models:/ad01/1", "--library", "lib", "--profile", "--json"], root))
    rows = {r["requirement"]: r for r in gate["rows"]}
    assert gate["passed"] and gate["target"] == "cortex-m4f-80mhz"
    assert all(r["source"].startswith("profile on cortex-m4f-80mhz") for r in rows.values())
    assert rows["max_flash_bytes"]["measured"] > lib["weights_bytes"]  # code + weights, from the cross build
    assert rows["max_ram_bytes"]["measured"] >= lib["arena_bytes"]
    latency = rows["max_latency_ms"]["measured"]
    assert latency > 0
    cli_ok(run_cli, ["requirements", "set", f"max_latency_ms={latency / 2}"], root)
    code, out, _ = run_cli(["gate", "models:/ad01/1", "--library", "lib", "--profile", "--json"], cwd=root)
    assert code == 8 and json.loads(out)["failed"] == ["max_latency_ms"]

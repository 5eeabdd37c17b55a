"""`eml gate --library DIR --profile` measures RAM, flash and latency on the target (cross build + QEMU)
for a real MLPerf Tiny model brought in with `eml models import`."""

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
def test_gate_profiles_the_library_on_the_target(run_cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "ad"
    _ok(run_cli, ["init", str(root), "--member", "alice"], tmp_path)
    _ok(run_cli, ["models", "import", str(AD01), "--name", "ad01", "--task", "regression"], root)
    lib = json.loads(_ok(run_cli, ["compile", str(AD01), "-o", "lib", "--name", "ad01", "--json"], root))
    _ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=64k", "max_flash=512k",
                  "max_latency_ms=1000"], root)
    gate = json.loads(_ok(run_cli, ["gate", "models:/ad01/1", "--library", "lib", "--profile", "--json"], root))
    rows = {r["requirement"]: r for r in gate["rows"]}
    assert gate["passed"] and gate["target"] == "cortex-m4f-80mhz"
    assert all(r["source"].startswith("profile on cortex-m4f-80mhz") for r in rows.values())
    assert rows["max_flash_bytes"]["measured"] > lib["weights_bytes"]  # code + weights, from the cross build
    assert rows["max_ram_bytes"]["measured"] >= lib["arena_bytes"]
    latency = rows["max_latency_ms"]["measured"]
    assert latency > 0
    _ok(run_cli, ["requirements", "set", f"max_latency_ms={latency / 2}"], root)
    code, out, _ = run_cli(["gate", "models:/ad01/1", "--library", "lib", "--profile", "--json"], cwd=root)
    assert code == 8 and json.loads(out)["failed"] == ["max_latency_ms"]

"""`eml compile --optimize ram|balanced|speed` from the CLI: the mode reaches the library's MANIFEST.json, the
``--json`` result and the ``compiler.compile`` audit entry; a library compiled with ``--optimize speed`` is
re-derived with that mode by `eml gate` and `eml deploy` (byte for byte, manifest included); `eml profile`
reports a library's mode and `--optimize all` compares the three."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_ok, imported_model_project

from conftest import MLPERF_TINY
from crisp_eml.compiler.optimize import DEFAULT, MODES

KWS = MLPERF_TINY / "kws_ref_model.tflite"
AD01 = MLPERF_TINY / "ad01_int8.tflite"


def _manifest(lib: Path) -> dict[str, Any]:
    return dict(json.loads((lib / "MANIFEST.json").read_text()))


def test_compile_records_each_mode(run_cli: Any, tmp_path: Path) -> None:
    root = imported_model_project(run_cli, tmp_path, KWS, "kws")
    for mode in MODES:
        r = json.loads(cli_ok(run_cli, ["compile", "models:/kws/1", "-o", mode, "--vectors", "0", "--optimize", mode,
                                        "--json"], root))
        assert r["optimize"] == mode and _manifest(root / mode)["optimize"] == mode
    text = cli_ok(run_cli, ["compile", "models:/kws/1", "-o", "default", "--vectors", "0"], root)
    assert f"--optimize {DEFAULT}" in text and _manifest(root / "default")["optimize"] == DEFAULT
    from crisp_eml.store.project import Project

    entries = [e for e in Project.open(root).audit_entries() if e.action == "compiler.compile"]
    assert [e.artifacts["optimize"] for e in entries] == [*MODES, DEFAULT]


def test_speed_library_is_rederived_by_gate_and_deploy(run_cli: Any, tmp_path: Path) -> None:
    root = imported_model_project(run_cli, tmp_path, KWS, "kws")
    cli_ok(run_cli, ["compile", "models:/kws/1", "-o", "lib", "--vectors", "0", "--optimize", "speed"], root)
    cli_ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=64k"], root)
    gate = json.loads(cli_ok(run_cli, ["gate", "models:/kws/1", "--library", "lib", "--json"], root))
    assert gate["passed"]
    r = json.loads(cli_ok(run_cli, ["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "b.zip", "--json"],
                          root))
    assert not r["compiled_now"]
    with zipfile.ZipFile(root / "b.zip") as z:
        shipped = json.loads(z.read("library/MANIFEST.json"))
    assert shipped["optimize"] == "speed" and shipped == _manifest(root / "lib")
    # a mode the compiler does not know cannot be re-derived: refused, naming the manifest's value
    shutil.copytree(root / "lib", root / "turbo")
    m = _manifest(root / "turbo")
    m["optimize"] = "turbo"
    (root / "turbo" / "MANIFEST.json").write_text(json.dumps(m, indent=2) + "\n")
    code, _, err = run_cli(["gate", "models:/kws/1", "--library", "turbo"], cwd=root)
    assert code == 8 and "'turbo' is not an optimisation goal" in " ".join(err.split()), err


def test_compile_optimize_is_refused_for_other_formats(run_cli: Any, tmp_path: Path) -> None:
    code, _, err = run_cli(["compile", str(KWS), "-o", str(tmp_path / "m"), "--format", "linux", "--optimize",
                            "ram"], cwd=tmp_path)
    assert code == 2 and "--optimize" in err and "--format c" in err and not (tmp_path / "m").exists()


@pytest.mark.cross
def test_profile_reports_and_compares_modes(run_cli: Any, tmp_path: Path) -> None:
    cli_ok(run_cli, ["compile", str(AD01), "-o", "lib", "--vectors", "1", "--optimize", "ram"], tmp_path)
    one = json.loads(cli_ok(run_cli, ["profile", "lib", "--json"], tmp_path))
    assert one["optimize"] == "ram" and one["weights_bytes"] == _manifest(tmp_path / "lib")["weights_bytes"]
    assert one["text_bytes"] + one["rodata_bytes"] <= one["flash_bytes"]
    assert "optimize" in cli_ok(run_cli, ["profile", "lib"], tmp_path)
    code, _, err = run_cli(["profile", "lib", "--optimize", "speed"], cwd=tmp_path)
    assert code == 2 and "compiled with --optimize ram" in " ".join(err.split())
    cmp = json.loads(cli_ok(run_cli, ["profile", str(AD01), "--optimize", "all", "--json"], tmp_path))
    assert cmp["optimize"] == "all" and not cmp["saved"] and cmp["tflite_bytes"] == AD01.stat().st_size
    assert [m["optimize"] for m in cmp["modes"]] == list(MODES)
    for m in cmp["modes"]:
        assert m["weights_bytes"] > 0 and m["instructions_per_inference"] > 0 and m["ram_bytes"] > 0
        assert m["flash_vs_tflite"] == round((m["text_bytes"] + m["rodata_bytes"]) / cmp["tflite_bytes"], 3)
    ram_mode = next(m for m in cmp["modes"] if m["optimize"] == "ram")
    assert {k: ram_mode[k] for k in ("weights_bytes", "text_bytes", "rodata_bytes")} == \
        {k: one[k] for k in ("weights_bytes", "text_bytes", "rodata_bytes")}  # the same library, measured again
    table = cli_ok(run_cli, ["profile", str(AD01), "--optimize", "all"], tmp_path)
    assert all(mode in table for mode in MODES) and "not saved" in table
    # inside a project a profile is saved (gate evidence) with the library's mode; a comparison is not saved
    cli_ok(run_cli, ["init", str(tmp_path / "p"), "--member", "alice"], tmp_path)
    cli_ok(run_cli, ["profile", str(tmp_path / "lib")], tmp_path / "p")
    cli_ok(run_cli, ["profile", str(AD01), "--optimize", "all"], tmp_path / "p")
    from crisp_eml.store.project import Project

    saved = [e.artifacts for e in Project.open(tmp_path / "p").audit_entries() if e.action == "compiler.profile"]
    assert [a["optimize"] for a in saved] == ["ram"]

"""``eml compile`` and ``eml verify`` from the command line, including failures users can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import MLPERF_TINY


def test_compile_then_verify_host(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "lib"
    code, stdout, err = run_cli(["compile", str(MLPERF_TINY / "ad01_int8.tflite"), "-o", str(out), "--name",
                                 "AD-01 model", "--vectors", "3", "--json"], cwd=tmp_path)
    assert code == 0, err
    info = json.loads(stdout)
    assert info["name"] == "ad_01_model" and info["vectors"] == 3
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["arena_bytes"] == info["arena_bytes"] > 0
    assert manifest["ops"] == ["FULLY_CONNECTED"] * 10
    assert manifest["inputs"][0]["shape"] == [1, 640]
    for rel in ("src/ad_01_model.h", "src/ad_01_model.c", "src/eml_kernels.c", "CMakeLists.txt", "Makefile",
                "library.properties", "tests/vectors.bin", "tests/expected.bin"):
        assert (out / rel).is_file(), rel
    header = (out / "src/ad_01_model.h").read_text()
    assert f"#define AD_01_MODEL_ARENA_BYTES {info['arena_bytes']}" in header
    code, stdout, err = run_cli(["verify", str(out), "--host", "--no-sanitize", "--json"], cwd=tmp_path)
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["ok"] and {c["name"] for c in rep["checks"]} >= {"host-gcc-vs-tflm", "tflm-now-vs-stored"}


def test_verify_fails_on_tampered_library(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "lib"
    assert run_cli(["compile", str(MLPERF_TINY / "ad01_int8.tflite"), "-o", str(out), "--vectors", "4"],
                   cwd=tmp_path)[0] == 0
    src = out / "src" / "ad01_int8.c"
    text = src.read_text()
    src.write_text(text.replace(".out_offset = ", ".out_offset = 1 + ", 1))
    code, _, err = run_cli(["verify", str(out), "--host", "--no-sanitize"], cwd=tmp_path)
    assert code == 8 and "differ" in err


def test_verify_library_compiled_without_vectors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--vectors 0 stores no vectors: verify checks fresh ones against the carried model (it used to crash)."""
    out = tmp_path / "lib"
    assert run_cli(["compile", str(MLPERF_TINY / "ad01_int8.tflite"), "-o", str(out), "--vectors", "0"],
                   cwd=tmp_path)[0] == 0
    assert (out / "tests" / "vectors.bin").read_bytes() == b""
    code, stdout, err = run_cli(["verify", str(out), "--host", "--no-sanitize", "--json"], cwd=tmp_path)
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["ok"] and "no test vectors" in rep["note"] and "--vectors 0" in rep["note"]
    checks = {c["name"]: c for c in rep["checks"]}
    assert "tflm-now-vs-stored" not in checks and checks["host-gcc-vs-tflm"]["vectors"] > 0
    code, _, err = run_cli(["verify", str(out), "--host", "--no-sanitize"], cwd=tmp_path)
    assert code == 0 and "note: the library stores no test vectors" in err
    src = out / "src" / "ad01_int8.c"  # the fresh vectors really check the C: a broken library fails
    src.write_text(src.read_text().replace(".out_offset = ", ".out_offset = 1 + ", 1))
    code, _, err = run_cli(["verify", str(out), "--host", "--no-sanitize"], cwd=tmp_path)
    assert code == 8 and "host-gcc-vs-tflm" in err


def test_bad_inputs_give_clear_errors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    code, _, err = run_cli(["compile", str(bad), "-o", str(tmp_path / "x")], cwd=tmp_path)
    assert code == 2 and "bad.tflite" in err and not (tmp_path / "x").exists()
    code, _, err = run_cli(["verify", str(tmp_path)], cwd=tmp_path)
    assert code == 2 and "MANIFEST" in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    code, _, err = run_cli(["compile", str(MLPERF_TINY / "ad01_int8.tflite"), "-o", str(tmp_path / "full")],
                           cwd=tmp_path)
    assert code == 4 and (tmp_path / "full" / "keep.txt").exists()


def test_profile_and_targets(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "lib"
    assert run_cli(["compile", str(MLPERF_TINY / "ad01_int8.tflite"), "-o", str(out), "--vectors", "1"],
                   cwd=tmp_path)[0] == 0
    code, stdout, err = run_cli(["profile", str(out), "--target", "cortex-m4", "--json"], cwd=tmp_path)
    assert code == 0, err
    r = json.loads(stdout)
    assert r["target"]["id"] == "cortex-m4f-80mhz"
    assert r["instructions_per_inference"] > 100_000 and r["flash_bytes"] > 80 * 1024  # weights in flash
    assert r["latency_ms"] == pytest.approx(r["instructions_per_inference"] * 1.25 / 80e6 * 1e3, rel=1e-3)
    assert r["ram_bytes"] >= r["arena_bytes"] and r["tflm_arena_bytes"] > r["arena_bytes"]
    import platform

    host, other = ("linux-x86_64", "linux-aarch64") if platform.machine() in ("x86_64", "AMD64") else \
        ("linux-aarch64", "linux-x86_64")
    code, stdout, _ = run_cli(["profile", str(out), "--target", host, "--json"], cwd=tmp_path)
    assert code == 0 and json.loads(stdout)["latency_ms"] > 0
    code, stdout, _ = run_cli(["profile", str(out), "--target", other, "--json"], cwd=tmp_path)
    assert code == 0 and json.loads(stdout)["latency_ms"] is None
    code, _, err = run_cli(["profile", str(out), "--target", "z80"], cwd=tmp_path)
    assert code == 2 and "field 'target': unknown target device 'z80'" in err  # user input: InputError, as gate/deploy
    code, stdout, _ = run_cli(["targets", "--json"], cwd=tmp_path)
    assert code == 0 and len(json.loads(stdout)) >= 8


def test_compile_registered_model_uri(run_cli, project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.workspace.import_model import import_model

    labels = [f"word{i}" for i in range(12)]
    import_model(project, MLPERF_TINY / "kws_ref_model.tflite", "kws", labels=labels)
    out = tmp_path / "kwslib"
    code, stdout, err = run_cli(["compile", "--model", "models:/kws/1", "-o", str(out), "--vectors", "2", "--json"],
                                cwd=project.root)
    assert code == 0, err
    assert json.loads(stdout)["name"] == "kws"
    assert '"word11"' in (out / "src" / "kws.c").read_text()
    assert "compiler.compile" in [e.action for e in project.audit_entries()]
    code, _, err = run_cli(["compile", str(MLPERF_TINY / "kws_ref_model.tflite"), "-o", str(tmp_path / "x"),
                            "--labels", "a,b"], cwd=tmp_path)
    assert code == 2 and "2 labels" in err


@pytest.mark.cross
def test_verify_on_cortex_m4_from_the_cli(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "lib"
    assert run_cli(["compile", str(MLPERF_TINY / "ad01_int8.tflite"), "-o", str(out), "--vectors", "2"],
                   cwd=tmp_path)[0] == 0
    code, stdout, err = run_cli(["verify", str(out), "--target", "cortex-m4", "--json"], cwd=tmp_path)
    assert code == 0, err
    m4 = next(c for c in json.loads(stdout)["checks"] if c["name"] == "cortex-m4-qemu-vs-tflm")
    assert m4["identical"] and m4["detail"]["instructions_per_inference"] > 100_000

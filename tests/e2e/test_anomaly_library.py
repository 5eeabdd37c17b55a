"""A registered anomaly model (``anomaly.json``, no ``.tflite``) compiled into a C library and verified on host.

basic-motions with standing + walking as normal (as ``test_anomaly_basic_motions.py``), ``anomaly-kmeans``,
registered and aliased, then ``eml compile --model models:/name@alias`` and ``eml verify DIR --host``: the C
scores of the test windows (raw signal -> DSP in C -> scorer) must match the Python pipeline within 1e-4 and
the decisions must agree. The same windows run on the emulated Cortex-M4 (``--target cortex-m4``) and
``eml profile`` measures the library there. A tampered centroid must make ``eml verify`` fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import basic_motions_project, cli_ok

from conftest import BASIC_MOTIONS

NORMAL = ["standing", "walking"]


def test_registered_anomaly_model_compiles_and_verifies(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = basic_motions_project(run_cli, tmp_path, BASIC_MOTIONS)
    learning = json.dumps({"type": "anomaly-kmeans", "params": {"normal_labels": NORMAL}})
    cli_ok(run_cli, ["impulse", "set", f"learning={learning}"], root)
    run = json.loads(cli_ok(run_cli, ["train", "--json"], root))
    assert "anomaly.json" in run["artifacts"] and not any(k.endswith(".tflite") for k in run["artifacts"])
    cli_ok(run_cli, ["models", "register", "motion_ad", "--run", run["id"]], root)
    cli_ok(run_cli, ["models", "alias", "set", "motion_ad", "staging", "1"], root)

    out = tmp_path / "lib"
    res = json.loads(cli_ok(run_cli, ["compile", "--model", "models:/motion_ad@staging", "-o", str(out), "--json"],
                         root))
    assert res["name"] == "motion_ad" and res["vectors"] >= 32
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["kind"] == "anomaly" and manifest["dsp_in_c"] is True
    assert manifest["threshold"] == pytest.approx(json.loads((out / "tests" / "anomaly.json").read_text())["threshold"])
    assert manifest["ram_bytes"] > 0 and manifest["weights_bytes"] > 0
    for rel in ("src/motion_ad.h", "src/motion_ad.c", "src/motion_ad_anomaly.c", "src/motion_ad_dsp.c",
                "CMakeLists.txt", "Makefile", "library.properties"):
        assert (out / rel).is_file(), rel
    header = (out / "src" / "motion_ad.h").read_text()
    assert "motion_ad_run(const float *raw, size_t len, motion_ad_result_t *out)" in header
    assert "is_anomaly" in header and "motion_ad_init(void)" in header

    rep = json.loads(cli_ok(run_cli, ["verify", str(out), "--host", "--json"], root))
    assert rep["ok"] and {c["name"] for c in rep["checks"]} == {"host-gcc-vs-python", "host-asan-ubsan-vs-python"}
    detail = rep["checks"][0]["detail"]
    assert detail["max_rel_score_diff"] <= 1e-4
    # test windows of all four activities: some are anomalies (running, badminton), some are not
    assert 0 < detail["anomalies_python"] < rep["checks"][0]["vectors"]
    print("anomaly library check:", json.dumps(detail))
    # decisions may differ only on windows whose Python score is within 1e-4 of the threshold (reported)
    assert abs(detail["anomalies_c"] - detail["anomalies_python"]) <= detail["decisions_differ_near_threshold"]
    assert detail["decisions_differ_near_threshold"] <= len(detail["near_threshold_windows"])

    # the same windows, raw signal -> DSP -> scorer, on the emulated Cortex-M4
    rep = json.loads(cli_ok(run_cli, ["verify", str(out), "--target", "cortex-m4", "--json"], root))
    assert rep["ok"] and [c["name"] for c in rep["checks"]] == ["cortex-m4-qemu-vs-python"], rep
    m4 = rep["checks"][0]["detail"]
    print("anomaly library on Cortex-M4:", json.dumps(m4))
    assert m4["max_rel_score_diff"] <= 1e-4 and m4["instructions_per_inference"] > 1000
    assert abs(m4["anomalies_c"] - detail["anomalies_python"]) <= m4["decisions_differ_near_threshold"]
    prof = json.loads(cli_ok(run_cli, ["profile", str(out), "--target", "cortex-m4f-80mhz", "--json"], root))
    assert prof["instructions_per_inference"] == pytest.approx(m4["instructions_per_inference"], rel=0.01)
    assert prof["flash_bytes"] > prof["sections"]["rodata"] > 0 and prof["latency_ms"] > 0
    assert prof["tflm_arena_bytes"] is None and prof["ram_bytes"] >= manifest["ram_bytes"]

    # the check can fail: move one centroid coordinate in the generated C and verify must say so
    src = out / "src" / "motion_ad_anomaly.c"
    text = src.read_text()
    m = re.search(r"motion_ad_centers\[\d+\] = \{\n    (-?[0-9.e+-]+)f", text)
    assert m is not None
    src.write_text(text.replace(m.group(0), m.group(0).replace(m.group(1) + "f", f"{float(m.group(1)) + 3.0}f"), 1))
    code, stdout, err = run_cli(["verify", str(out), "--host", "--no-sanitize", "--json"], cwd=root)
    assert code == 8 and "host-gcc-vs-python" in err, (code, err[-500:])

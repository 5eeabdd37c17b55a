"""'Done means' for Model Development through the CLI, on real data (basic-motions) and synthetic motion.

Quality bars: the default motion impulse (spectral analysis + dense NN) reaches >= 0.95 accuracy on the
basic-motions testing category with the **int8 model run in TFLite Micro**, int8 within 1 point of
float32; the synthetic motion dataset reaches >= 0.98.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import cli_ok

from conftest import BASIC_MOTIONS, MLPERF_TINY

pytestmark = pytest.mark.slow


def _project(run_cli, tmp_path: Path, *sources: Path) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    cli_ok(run_cli, ["ingest", *[str(s) for s in sources], "--json"], root)
    cli_ok(run_cli, ["impulse", "create", "--quick"], root)  # sliding windows (17 per recording)
    return root


def test_basic_motions_train_test_registry(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not BASIC_MOTIONS.is_dir():
        pytest.fail(f"test data missing: {BASIC_MOTIONS}")
    root = _project(run_cli, tmp_path, BASIC_MOTIONS)
    run = json.loads(cli_ok(run_cli, ["train", "--json"], root))
    test = run["metrics"]["test"]
    f32, i8 = test["float32"]["accuracy"], test["int8"]["accuracy"]
    assert i8 >= 0.95, f"int8 accuracy {i8}"
    assert abs(f32 - i8) <= 0.01, (f32, i8)
    assert run["dataset_version"] is not None and len(run["impulse_hash"]) == 64
    sizes = run["metrics"]["model"]
    assert sizes["int8"]["arena_bytes"] > 0 and sizes["int8"]["bytes"] > 0

    res = json.loads(cli_ok(run_cli, ["test", "--json"], root))
    for key in ("accuracy", "balanced_accuracy", "f1", "confusion_matrix", "labels", "per_class", "per_sample"):
        assert key in res
    assert res["accuracy"] == pytest.approx(i8)
    assert res["labels"] == ["badminton", "running", "standing", "walking"]
    assert sum(map(sum, res["confusion_matrix"])) == res["windows"] == 17 * 40
    assert len(res["per_sample"]) == 40
    flt = json.loads(cli_ok(run_cli, ["test", "--variant", "float32", "--run", run["id"][:6], "--json"], root))
    assert flt["accuracy"] == pytest.approx(f32)

    runs = json.loads(cli_ok(run_cli, ["runs", "ls", "--json"], root))
    assert [r["id"] for r in runs] == [run["id"]]
    cli_ok(run_cli, ["runs", "report", run["id"], "-o", str(tmp_path / "r.html")], root)
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "int8" in page and "<script src" not in page
    rep = json.loads(cli_ok(run_cli, ["runs", "report", "-o", str(tmp_path / "r2.html"), "--json"], root))
    assert rep == {"path": str(tmp_path / "r2.html"), "bytes": (tmp_path / "r2.html").stat().st_size}
    assert (tmp_path / "r2.html").read_bytes() == (tmp_path / "r.html").read_bytes()  # latest run = that run

    cli_ok(run_cli, ["models", "register", "motion", "--run", run["id"]], root)
    cli_ok(run_cli, ["models", "alias", "set", "motion", "staging", "1"], root)
    shown = json.loads(cli_ok(run_cli, ["models", "show", "models:/motion@staging", "--json"], root))
    assert shown["artifacts"]["model_int8.tflite"] == run["artifacts"]["model_int8.tflite"]
    lin = json.loads(cli_ok(run_cli, ["models", "lineage", "models:/motion/1", "--json"], root))
    assert len(lin["samples"]) == 80 and lin["dataset_version"]["id"] == run["dataset_version"]

    # bad input: a corrupt .tflite is a clear error naming the file, exit code 2
    bad = tmp_path / "broken.tflite"
    bad.write_bytes((MLPERF_TINY / "ad01_int8.tflite").read_bytes()[:2000])
    code, _, err = run_cli(["models", "import", str(bad), "--name", "broken"], cwd=root)
    assert code == 2 and "broken.tflite" in err and "Traceback" not in err
    code, _, err = run_cli(["test", "--variant", "int4"], cwd=root)
    assert code == 2 and "variant" in err


def test_no_testing_samples_is_a_clear_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = _project(run_cli, tmp_path, BASIC_MOTIONS / "training")
    code, out, err = run_cli(["train", "--epochs", "1"], cwd=root)
    assert code in (2, 3), (code, out, err)
    assert "testing" in err and "Traceback" not in err
    assert json.loads(cli_ok(run_cli, ["runs", "ls", "--json"], root)) == []


def test_synthetic_motion_reaches_098(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "synth"
    cli_ok(run_cli, ["data", "synth", str(data), "--kind", "motion", "--seed", "1"], tmp_path)
    root = _project(run_cli, tmp_path, data)
    run = json.loads(cli_ok(run_cli, ["train", "--json", "--seed", "1"], root))
    test = run["metrics"]["test"]
    assert test["int8"]["accuracy"] >= 0.98, test["int8"]["accuracy"]
    assert abs(test["float32"]["accuracy"] - test["int8"]["accuracy"]) <= 0.01


def test_bring_your_own_tflite(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "p"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    labels = ",".join(f"k{i}" for i in range(12))
    res = json.loads(cli_ok(run_cli, ["models", "import", str(MLPERF_TINY / "kws_ref_model.tflite"), "--name", "kws",
                                   "--labels", labels, "--json"], root))
    assert res["uri"] == "models:/kws/1" and res["variant"] == "int8" and res["arena_bytes"] == 24_272
    assert res["input"]["shape"] == [1, 49, 10, 1] and res["labels"][-1] == "k11"
    code, _, err = run_cli(["models", "import", str(MLPERF_TINY / "kws_ref_model.tflite"), "--name", "kws",
                            "--labels", "a,b"], cwd=root)
    assert code == 2 and "12 outputs" in err
    listed = json.loads(cli_ok(run_cli, ["models", "ls", "--json"], root))
    assert [m["uri"] for m in listed] == ["models:/kws/1"]

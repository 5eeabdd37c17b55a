"""'Done means' for Model Development through the CLI, on real data (basic-motions) and synthetic motion.

Quality bars: the default motion impulse (spectral analysis + dense NN) reaches >= 0.95 accuracy on the
basic-motions testing category with the **int8 model run in TFLite Micro**, int8 within 1 point of
float32; the synthetic motion dataset reaches >= 0.98.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"
MLPERF_TINY = SHARED / "models" / "mlperf-tiny"

pytestmark = pytest.mark.slow


def _ok(run_cli, args, cwd):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(args, cwd=cwd)
    assert code == 0, f"eml {' '.join(args)} -> {code}\n{out}\n{err}"
    return out


def _project(run_cli, tmp_path: Path, *sources: Path) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    _ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    _ok(run_cli, ["ingest", *[str(s) for s in sources], "--json"], root)
    _ok(run_cli, ["impulse", "create"], root)
    return root


def test_basic_motions_train_test_registry(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not BASIC_MOTIONS.is_dir():
        pytest.fail(f"test data missing: {BASIC_MOTIONS}")
    root = _project(run_cli, tmp_path, BASIC_MOTIONS)
    run = json.loads(_ok(run_cli, ["train", "--json"], root))
    test = run["metrics"]["test"]
    f32, i8 = test["float32"]["accuracy"], test["int8"]["accuracy"]
    assert i8 >= 0.95, f"int8 accuracy {i8}"
    assert abs(f32 - i8) <= 0.01, (f32, i8)
    assert run["dataset_version"] is not None and len(run["impulse_hash"]) == 64
    sizes = run["metrics"]["model"]
    assert sizes["int8"]["arena_bytes"] > 0 and sizes["int8"]["bytes"] > 0

    res = json.loads(_ok(run_cli, ["test", "--json"], root))
    for key in ("accuracy", "balanced_accuracy", "f1", "confusion_matrix", "labels", "per_class", "per_sample"):
        assert key in res
    assert res["accuracy"] == pytest.approx(i8)
    assert res["labels"] == ["badminton", "running", "standing", "walking"]
    assert sum(map(sum, res["confusion_matrix"])) == res["windows"] == 17 * 40
    assert len(res["per_sample"]) == 40
    flt = json.loads(_ok(run_cli, ["test", "--variant", "float32", "--run", run["id"][:6], "--json"], root))
    assert flt["accuracy"] == pytest.approx(f32)

    runs = json.loads(_ok(run_cli, ["runs", "ls", "--json"], root))
    assert [r["id"] for r in runs] == [run["id"]]
    _ok(run_cli, ["runs", "report", run["id"], "-o", str(tmp_path / "r.html")], root)
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "int8" in page and "<script src" not in page
    rep = json.loads(_ok(run_cli, ["runs", "report", "-o", str(tmp_path / "r2.html"), "--json"], root))
    assert rep == {"path": str(tmp_path / "r2.html"), "bytes": (tmp_path / "r2.html").stat().st_size}
    assert (tmp_path / "r2.html").read_bytes() == (tmp_path / "r.html").read_bytes()  # latest run = that run

    _ok(run_cli, ["models", "register", "motion", "--run", run["id"]], root)
    _ok(run_cli, ["models", "alias", "set", "motion", "staging", "1"], root)
    shown = json.loads(_ok(run_cli, ["models", "show", "models:/motion@staging", "--json"], root))
    assert shown["artifacts"]["model_int8.tflite"] == run["artifacts"]["model_int8.tflite"]
    lin = json.loads(_ok(run_cli, ["models", "lineage", "models:/motion/1", "--json"], root))
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
    assert json.loads(_ok(run_cli, ["runs", "ls", "--json"], root)) == []


def test_synthetic_motion_reaches_098(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "synth"
    _ok(run_cli, ["data", "synth", str(data), "--kind", "motion", "--seed", "1"], tmp_path)
    root = _project(run_cli, tmp_path, data)
    run = json.loads(_ok(run_cli, ["train", "--json", "--seed", "1"], root))
    test = run["metrics"]["test"]
    assert test["int8"]["accuracy"] >= 0.98, test["int8"]["accuracy"]
    assert abs(test["float32"]["accuracy"] - test["int8"]["accuracy"]) <= 0.01


def test_bring_your_own_tflite(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "p"
    _ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    labels = ",".join(f"k{i}" for i in range(12))
    res = json.loads(_ok(run_cli, ["models", "import", str(MLPERF_TINY / "kws_ref_model.tflite"), "--name", "kws",
                                   "--labels", labels, "--json"], root))
    assert res["uri"] == "models:/kws/1" and res["variant"] == "int8" and res["arena_bytes"] == 24_272
    assert res["input"]["shape"] == [1, 49, 10, 1] and res["labels"][-1] == "k11"
    code, _, err = run_cli(["models", "import", str(MLPERF_TINY / "kws_ref_model.tflite"), "--name", "kws",
                            "--labels", "a,b"], cwd=root)
    assert code == 2 and "12 outputs" in err
    listed = json.loads(_ok(run_cli, ["models", "ls", "--json"], root))
    assert [m["uri"] for m in listed] == ["models:/kws/1"]

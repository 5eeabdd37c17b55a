"""``eml data check|clean|snapshot|versions|version show|diff|restore|rebalance`` through the CLI,
end to end on the real basic-motions recordings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import BASIC_MOTIONS
from crisp_eml.core.sample import Sensor
from crisp_eml.data.samples import add_sample
from crisp_eml.store.project import Project


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """basic-motions ingested once per module; each test works on its own copy."""
    from crisp_eml.workspace.ingest import ingest_paths

    p = Project.init(tmp_path_factory.mktemp("bm") / "motions", "motions", member="tester")
    rep = ingest_paths(p, [BASIC_MOTIONS / "training", BASIC_MOTIONS / "testing"])
    assert len(rep.samples) == 80 and not rep.failures
    p.engine.dispose()
    return p.root


@pytest.fixture()
def motions(ingested: Path, tmp_path: Path) -> Project:
    shutil.copytree(ingested, tmp_path / "motions")
    return Project(tmp_path / "motions")


def test_basic_motions_check_is_high_and_balanced(motions: Project, run_cli: Any, tmp_path: Path) -> None:
    html = tmp_path / "quality.html"
    code, out, err = run_cli(["data", "check", "--json", "--html", str(html), "--window-ms", "2000"],
                             cwd=motions.root)
    assert code == 0, err
    r = json.loads(out)
    assert r["score"] >= 95 and r["tier"] == "gold" and r["n_samples"] == 80
    assert r["dominant_rate_hz"] == 10.0
    assert r["label_counts"] == {c: {lbl: 10 for lbl in ("badminton", "running", "standing", "walking")}
                                 for c in ("testing", "training")}
    assert r["balance"]["ratio"] == 1.0 and r["balance"]["entropy"] == pytest.approx(1.0)
    assert r["html"] == str(html)
    text = html.read_text()
    assert len(re.findall(r"data:image/png;base64,", text)) == 2 + 4  # balance, histogram, 4 class examples
    for lbl in ("badminton", "running", "standing", "walking"):
        assert f"example of class {lbl}" in text
    code, _, err = run_cli(["data", "check", "--window-ms", "20000", "--fail-below", "90"], cwd=motions.root)
    assert code == 8 and "below 90" in err, err  # 10 s recordings are too short for a 20 s window


def test_versions_and_rebalance_cli(motions: Project, run_cli: Any) -> None:
    root = motions.root
    code, out, err = run_cli(["data", "snapshot", "-m", "as ingested", "--json"], cwd=root)
    assert code == 0, err
    v1 = json.loads(out)
    assert v1["id"] == 1 and v1["n_samples"] == 80 and v1["categories"] == {"testing": 40, "training": 40}
    code, out, _ = run_cli(["data", "rebalance", "--test-fraction", "0.25", "--stratify", "--json"], cwd=root)
    reb = json.loads(out)
    assert code == 0 and reb["counts"] == {"testing": 20, "training": 60} and reb["moved"] == len(reb["moves"]) > 0
    code, out, _ = run_cli(["data", "snapshot", "-m", "rebalanced", "--json"], cwd=root)
    assert code == 0 and json.loads(out)["id"] == 2
    code, out, _ = run_cli(["data", "versions", "--json"], cwd=root)
    assert [v["message"] for v in json.loads(out)] == ["as ingested", "rebalanced"]
    code, out, _ = run_cli(["data", "diff", "1", "2", "--json"], cwd=root)
    d = json.loads(out)
    assert code == 0 and len(d["recategorized"]) == reb["moved"] and d["added"] == d["removed"] == []
    code, out, _ = run_cli(["data", "version", "show", "2", "--json"], cwd=root)
    shown = json.loads(out)
    assert len(shown["items"]) == 80 and shown["categories"] == {"testing": 20, "training": 60}
    code, out, _ = run_cli(["data", "restore", "1", "--json"], cwd=root)
    assert code == 0 and json.loads(out)["recategorized"] == reb["moved"]
    code, out, _ = run_cli(["data", "ls", "--json"], cwd=root)
    cats = [s["category"] for s in json.loads(out)]
    assert cats.count("testing") == 40
    # human-readable forms render without errors
    for args in (["data", "versions"], ["data", "version", "show", "1"], ["data", "diff", "1", "2"]):
        code, out, err = run_cli(args, cwd=root)
        assert code == 0 and out, err


def test_clean_cli_and_bad_input(motions: Project, run_cli: Any) -> None:
    root = motions.root
    code, out, err = run_cli(["data", "clean", "--repair", "--resample", "20", "--json"], cwd=root)
    assert code == 0, err
    c = json.loads(out)
    assert c["kept"] == 80 and c["resampled"] == 80 and c["dropped"] == 0
    code, out, _ = run_cli(["data", "check", "--layer", "clean", "--json"], cwd=root)
    r = json.loads(out)
    assert r["layer"] == "clean" and r["dominant_rate_hz"] == 20.0 and r["score"] >= 95
    code, out, _ = run_cli(["data", "snapshot", "-m", "clean", "--layer", "clean", "--json"], cwd=root)
    assert json.loads(out)["layer"] == "clean"

    for args, exit_code, words in (
        (["data", "version", "show", "99"], 3, "no dataset version 99"),
        (["data", "diff", "1", "42"], 3, "no dataset version 42"),
        (["data", "restore", "5"], 3, "no dataset version 5"),
        (["data", "rebalance", "--test-fraction", "2"], 2, "test-fraction"),
        (["data", "rebalance", "--keep-together", "subject"], 2, "subject"),
        (["data", "check", "--window-ms", "0"], 2, "window-ms"),
        (["data", "check", "--layer", "gold"], 2, "layer"),
        (["data", "clean", "--drop-below", "150"], 2, "drop-below"),
        (["data", "clean", "--resample", "-3"], 2, "resample"),
    ):
        code, out, err = run_cli(args, cwd=root)
        assert code == exit_code and words in err and "Traceback" not in err, (args, code, err)


def test_check_cli_flags_a_broken_sample(tmp_path: Path, run_cli: Any) -> None:
    p = Project.init(tmp_path / "small", "small", member="tester")
    rng = np.random.default_rng(0)
    with p.session() as s:
        for k in range(6):
            arr = rng.standard_normal((100, 2)).astype(np.float32)
            if k == 0:
                arr[:, 1] = np.nan
            add_sample(p, s, arr, name=f"s{k}", label="ab"[k % 2], category="testing" if k > 3 else "training",
                       kind="timeseries", sensors=[Sensor("x"), Sensor("y")], frequency_hz=20.0, source="test")
    code, out, err = run_cli(["data", "check"], cwd=p.root)
    assert code == 0, err
    assert "s0" in out and "nan" in out and "Dataset score" in out
    code, out, _ = run_cli(["data", "clean", "--repair"], cwd=p.root)
    assert code == 0 and "s0" in out and "no finite value" in out.replace("\n", " ")

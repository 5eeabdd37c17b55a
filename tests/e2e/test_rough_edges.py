"""The rough edges a new user hit (issue 10, point 7), each pinned by the command a user would run: piped tables,
accuracy formatting, alias messages, `data check` counts, duplicate names, missing paths, label case, nested
projects and human durations. Near-duplicates on real data sets: tests/unit/test_near_duplicates_real.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import cli_ok, imported_model_project

from conftest import BASIC_MOTIONS, MLPERF_TINY, SHARED

ITALY = SHARED / "datasets" / "italy-power-demand"


def _project(run_cli: Any, tmp_path: Path, *ingest: str) -> Path:
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    if ingest:
        cli_ok(run_cli, ["ingest", *ingest, "--json"], root)
    return root


@pytest.fixture()
def motions(run_cli: Any, tmp_path: Path) -> Path:
    assert BASIC_MOTIONS.is_dir(), f"test data missing: {BASIC_MOTIONS}"
    return _project(run_cli, tmp_path, str(BASIC_MOTIONS))


def test_piped_tables_keep_whole_ids_names_and_numbers(run_cli: Any, motions: Path) -> None:
    """stdout is not a terminal here (as with `eml data ls > file`): nothing is cut at 80 columns."""
    out = cli_ok(run_cli, ["data", "ls"], motions)
    samples = json.loads(cli_ok(run_cli, ["data", "ls", "--json"], motions))
    assert "…" not in out
    for s in samples:
        assert s["id"] in out and s["name"] in out
    assert max(len(line) for line in out.splitlines()) > 80  # the table really is wider than a terminal


def test_models_ls_shows_accuracy_like_runs_ls(run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crisp_eml.workspace.registry as registry
    import crisp_eml.workspace.runs as runs

    root = _project(run_cli, tmp_path)
    acc = 0.9823529411764706
    monkeypatch.setattr(registry, "list_models", lambda _p, _n=None: [
        {"uri": "models:/m/1", "aliases": [], "run": "r1", "learning_type": "nn-classifier", "accuracy_int8": acc,
         "created_at": "2026-01-01T00:00:00"}])
    monkeypatch.setattr(runs, "list_runs", lambda _p, limit=None: [
        {"id": "r1", "created_at": "2026-01-01T00:00:00", "learning_type": "nn-classifier", "status": "done",
         "dataset_version": 1, "accuracy_float32": acc, "accuracy_int8": acc}])
    models_out = cli_ok(run_cli, ["models", "ls"], root)
    runs_out = cli_ok(run_cli, ["runs", "ls"], root)
    assert "98.24%" in models_out and "98.24%" in runs_out and "0.98235" not in models_out
    assert json.loads(cli_ok(run_cli, ["models", "ls", "--json"], root))[0]["accuracy_int8"] == acc  # raw in JSON


def test_alias_set_says_what_happened(run_cli: Any, tmp_path: Path) -> None:
    root = imported_model_project(run_cli, tmp_path, MLPERF_TINY / "ad01_int8.tflite", "ad")
    cli_ok(run_cli, ["models", "import", str(MLPERF_TINY / "ad01_int8.tflite"), "--name", "ad", "--task",
                     "regression"], root)
    first = cli_ok(run_cli, ["models", "alias", "set", "ad", "staging", "1"], root)
    assert "None" not in first and "models:/ad@staging created: now points at version 1" in first
    moved = cli_ok(run_cli, ["models", "alias", "set", "ad", "staging", "2"], root)
    assert "moved from version 1 to version 2" in moved
    again = cli_ok(run_cli, ["models", "alias", "set", "ad", "staging", "2"], root)
    assert "already pointed at version 2" in again
    history = cli_ok(run_cli, ["models", "alias", "history", "ad"], root)
    assert "(new)" in history and "None" not in history


def test_data_check_explains_counts_and_finds_only_the_injected_near_copy(run_cli: Any, tmp_path: Path) -> None:
    """italy-power-demand is z-normalised: every day correlates > 0.99 with another, yet only real copies count."""
    assert ITALY.is_dir(), f"test data missing: {ITALY}"
    extra = tmp_path / "extra" / "testing"
    extra.mkdir(parents=True)
    src = np.loadtxt(ITALY / "training" / "octmar.010.csv", delimiter=",", skiprows=1)
    noisy = src.copy()
    noisy[:, 1] += 0.01 * np.random.default_rng(0).standard_normal(len(src))  # 1% of the (unit) spread
    np.savetxt(extra / "octmar.copy.csv", noisy, delimiter=",", header="timestamp,demand", comments="",
               fmt=["%d", "%.7f"])
    root = _project(run_cli, tmp_path, str(ITALY), str(tmp_path / "extra"))
    report = json.loads(cli_ok(run_cli, ["data", "check", "--json"], root))
    near = [s for s in report["samples"] if any(i["code"] == "near_duplicate" for i in s["issues"])]
    assert [s["name"] for s in near] == ["octmar.copy"], [s["name"] for s in near][:20]
    (msg,) = [i["message"] for i in near[0]["issues"] if i["code"] == "near_duplicate"]
    assert "octmar.010" in msg
    flagged = [s for s in report["samples"] if s["score"] < 100]
    out = cli_ok(run_cli, ["data", "check", "--limit", "3"], root)
    assert f"{len(flagged)} of {report['n_samples']} samples scored below 100" in out
    assert f"the 3 lowest scores; {len(flagged) - 3} more" in out and "--all" in out and "--json" in out
    assert "near_duplicate 1" in out
    everything = cli_ok(run_cli, ["data", "check", "--all"], root)
    assert all(s["name"] in everything for s in flagged) and "more (--all" not in everything


def test_same_name_in_training_and_testing(run_cli: Any, motions: Path) -> None:
    """Edge Impulse style names stay the file names; `data show` takes CATEGORY/NAME and lists the candidates."""
    samples = json.loads(cli_ok(run_cli, ["data", "ls", "--json"], motions))
    ids = {s["category"]: s["id"] for s in samples if s["name"] == "walking.01"}
    assert set(ids) == {"training", "testing"}
    code, _, err = run_cli(["data", "show", "walking.01"], cwd=motions)
    assert code == 2 and "ambiguous" in err and all(i in err for i in ids.values())
    assert "testing/walking.01" in err and "training/walking.01" in err
    for cat, sid in ids.items():
        assert json.loads(cli_ok(run_cli, ["data", "show", f"{cat}/walking.01", "--json"], motions))["id"] == sid
    code, _, err = run_cli(["data", "show", "testing/nosuch.01"], cwd=motions)
    assert code == 3 and "testing/nosuch.01" in err


def test_ingest_of_a_missing_path_names_it_and_ingests_nothing(run_cli: Any, tmp_path: Path) -> None:
    root = _project(run_cli, tmp_path)
    missing = tmp_path / "nonexistent"
    code, out, err = run_cli(["ingest", str(missing)], cwd=root)
    assert code == 2 and str(missing) in err and "nothing was ingested" in err
    assert "others were ingested" not in out + err
    code, _, err = run_cli(["ingest", str(BASIC_MOTIONS / "training" / "walking.01.csv"), str(missing)], cwd=root)
    assert code == 2 and str(missing) in err
    assert json.loads(cli_ok(run_cli, ["data", "ls", "--json"], root)) == []  # the good file was not half-ingested


def test_label_filter_names_the_known_labels(run_cli: Any, motions: Path) -> None:
    code, out, err = run_cli(["data", "ls", "--label", "Walking"], cwd=motions)
    assert code == 3 and "did you mean 'walking'" in err and "badminton" in err, (code, out, err)
    code, _, err = run_cli(["data", "ls", "--label", "flying", "--json"], cwd=motions)
    assert code == 3 and "known labels: badminton, running, standing, walking" in err
    assert json.loads(cli_ok(run_cli, ["data", "ls", "--label", "walking", "--json"], motions))
    code, _, err = run_cli(["ingest", str(BASIC_MOTIONS / "training" / "walking.01.csv"), "--label", "Walking",
                            "--allow-duplicates"], cwd=motions)
    assert code == 0 and "differs only in case" in err and "'walking'" in err


def test_init_inside_a_project_is_refused_without_force(run_cli: Any, tmp_path: Path) -> None:
    outer = _project(run_cli, tmp_path)
    inner = outer / "sub" / "inner"
    code, _, err = run_cli(["init", str(inner), "--member", "tester"], cwd=outer)
    assert code == 4 and str(outer) in err and "'proj'" in err and "--force" in err
    assert not (outer / "sub").exists()
    cli_ok(run_cli, ["init", str(inner), "--member", "tester", "--force"], outer)
    assert (inner / "eml.toml").is_file()


def test_durations_are_human(run_cli: Any, motions: Path) -> None:
    out = cli_ok(run_cli, ["impulse", "create", "--window-size-ms", "2500"], motions)
    assert "window 2.5 s (2500 ms)" in out
    assert "10 s" in cli_ok(run_cli, ["data", "ls"], motions)
    assert "10 s (10000 ms)" in cli_ok(run_cli, ["data", "show", "testing/walking.01"], motions)

"""``eml train --epochs --patience --learning-rate --batch-size``: the values used are stored in the run and shown by
``eml runs show``; bad values exit 2 naming the option and store no run (a small slice of basic-motions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import cli_ok

from conftest import BASIC_MOTIONS

pytestmark = pytest.mark.slow


def _small_project(run_cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    assert BASIC_MOTIONS.is_dir(), f"test data missing: {BASIC_MOTIONS}"
    data = tmp_path / "data"
    for cat, n in (("training", 3), ("testing", 1)):
        (data / cat).mkdir(parents=True)
        for label in ("badminton", "running", "standing", "walking"):
            for f in sorted((BASIC_MOTIONS / cat).glob(f"{label}.*.csv"))[:n]:
                shutil.copy(f, data / cat / f.name)
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    cli_ok(run_cli, ["ingest", str(data), "--json"], root)
    cli_ok(run_cli, ["impulse", "create", "--quick"], root)
    return root


def test_training_options_are_stored_and_shown(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = _small_project(run_cli, tmp_path)
    run = json.loads(cli_ok(run_cli, ["train", "--epochs", "3", "--patience", "2", "--learning-rate", "0.02",
                                      "--batch-size", "8", "--json"], root))
    p = run["params"]
    assert (p["epochs"], p["early_stopping_patience"], p["learning_rate"], p["batch_size"]) == (3, 2, 0.02, 8)
    # 12 training recordings: the settings left on auto were resolved from the data and stored too
    assert p["validation"] == "kfold" and p["folds"] == 3 and p["augment"] is not None
    shown = cli_ok(run_cli, ["runs", "show", run["id"]], root)
    for needle in ("learning rate", "0.02", "batch size", "early-stopping patience", "validation", "kfold"):
        assert needle in shown, needle
    alias = json.loads(cli_ok(run_cli, ["train", "--epochs", "1", "--lr", "0.03", "--json"], root))
    assert alias["params"]["learning_rate"] == 0.03 and alias["params"]["epochs"] == 1
    assert "--lr" not in cli_ok(run_cli, ["train", "--help"], root)  # a hidden alias of --learning-rate


@pytest.mark.parametrize(("args", "field"), [
    (["--epochs", "0"], "--epochs"),
    (["--patience", "-1"], "--patience"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "0.1", "--learning-rate", "0.2"], "--learning-rate"),
])
def test_bad_training_options_exit_2_and_name_the_option(run_cli, tmp_path: Path, args: list[str],  # type: ignore[no-untyped-def]
                                                         field: str) -> None:
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    cli_ok(run_cli, ["ingest", str(BASIC_MOTIONS / "training" / "walking.01.csv"),
                     str(BASIC_MOTIONS / "training" / "running.01.csv")], root)
    cli_ok(run_cli, ["impulse", "create"], root)
    code, out, err = run_cli(["train", *args], cwd=root)
    assert code == 2, (code, out, err)
    assert f"'{field}'" in err and "Traceback" not in err
    assert json.loads(cli_ok(run_cli, ["runs", "ls", "--json"], root)) == []

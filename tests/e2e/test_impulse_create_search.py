"""``eml impulse create`` chooses from the data (CLI, a small real subset of italy-power-demand: hourly data).

The whole day (24 hourly rows) must be one window (longer than the old one-hour cap), scored candidates and
reasons must be in ``impulse show --json``, the learning block filled and kept by a second create, and
impossible windows refused with exit code 2 naming the field.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_helpers import cli_ok

from conftest import SHARED

ITALY = SHARED / "datasets" / "italy-power-demand"


def _subset(tmp_path: Path) -> Path:
    data = tmp_path / "italy"
    for cat, per_class in (("training", 8), ("testing", 2)):
        (data / cat).mkdir(parents=True)
        for label in ("aprsep", "octmar"):
            for f in sorted((ITALY / cat).glob(f"{label}.*.csv"))[:per_class]:
                shutil.copy(f, data / cat / f.name)
    return data


def test_create_chooses_whole_day_explains_and_keeps_learning(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert ITALY.is_dir(), f"test data missing: {ITALY}"
    data = _subset(tmp_path)
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    for cat in ("training", "testing"):
        cli_ok(run_cli, ["ingest", str(data / cat), "--category", cat, "--json"], root)

    made = json.loads(cli_ok(run_cli, ["impulse", "create", "--json"], root))
    inp = made["spec"]["input"]
    assert inp["length_mode"] == "pad" and inp["window_size_ms"] == 24 * 3_600_000.0  # one window = one day
    choice = made["choice"]
    assert choice["method"] == "cross-validation" and choice["profile"]["fixed_length"] is True
    assert len(choice["candidates"]) >= 4 and all(c["score"] is not None for c in choice["candidates"])
    assert choice["chosen"] == choice["candidates"][0]["name"] or \
        choice["candidates"][0]["score"] - 0.01 <= next(c["score"] for c in choice["candidates"]
                                                         if c["name"] == choice["chosen"])
    assert made["spec"]["learning"]["type"] == "nn-classifier" and made["spec"]["learning"]["params"]["layers"]
    # the raw whole day wins here: a [time, axes] window, so dense and conv1d were each trained and scored
    assert made["spec"]["blocks"][0]["type"] == "raw" and set(choice["learners"]) == {"dense", "conv1d"}
    assert any("short trainings" in r for r in choice["reasons"])

    shown = json.loads(cli_ok(run_cli, ["impulse", "show", "--json"], root))
    assert shown["choice"] == choice and shown["version"] == made["version"]
    text = cli_ok(run_cli, ["impulse", "show"], root)
    assert "why:" in text and "cross-validated" in text

    cli_ok(run_cli, ["impulse", "set", "learning.params.epochs=7"], root)
    again = json.loads(cli_ok(run_cli, ["impulse", "create", "--json"], root))
    assert again["spec"]["learning"]["params"]["epochs"] == 7  # not reset to null
    quick = json.loads(cli_ok(run_cli, ["impulse", "create", "--quick", "--json"], root))
    assert quick["choice"]["method"] == "quick" and quick["spec"]["learning"]["params"]["epochs"] == 7

    # impossible windows: shorter than one sample period (one hour here), longer than any recording
    for value, reason in (("1000", "shorter than one sample period"), (str(48 * 3_600_000), "longest recording")):
        code, out, err = run_cli(["impulse", "set", f"input.window_size_ms={value}"], cwd=root)
        assert code == 2 and "input.window_size_ms" in err and reason in err, (code, err)
    code, out, err = run_cli(["impulse", "create", "--window-size-ms", "50"], cwd=root)
    assert code == 2 and "input.window_size_ms" in err and "shorter than one sample period" in err
    cli_ok(run_cli, ["impulse", "set", f"input.window_size_ms={12 * 3_600_000}"], root)  # half a day: > 1 hour

"""Field data review end to end: windows a device flagged reach a live ``eml serve``, are labelled with
``eml data review`` and join a new dataset version.

The producer is the real ``eml run ... --review-server``: a k-means anomaly model trained on basic-motions
(standing + walking as normal; seconds, no TensorFlow) compiled into a C library runs over a recording and
uploads the windows whose anomaly score passes the flag, exactly the rows the model saw; a second run of the
same recording stores nothing new. The classifier flag (``--flag-below``) is driven through the same uploader
with made-up scores against the same live server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import basic_motions_project, cli_ok

from conftest import BASIC_MOTIONS, invoke_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from server_helpers import live_server  # noqa: E402

RECORDING = BASIC_MOTIONS / "testing" / "running.01.csv"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A project with basic-motions, a compiled k-means anomaly library, a registered device and a live server."""
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.devices import register_device

    tmp = tmp_path_factory.mktemp("review")
    root = basic_motions_project(lambda a, cwd=None: invoke_cli(a, cwd), tmp, BASIC_MOTIONS)

    def ok(args: list[str]) -> str:
        code, out, err = invoke_cli(args, root)
        assert code == 0, (args, err[-2000:])
        return out

    learning = json.dumps({"type": "anomaly-kmeans", "params": {"normal_labels": ["standing", "walking"]}})
    ok(["impulse", "set", f"learning={learning}"])
    run = json.loads(ok(["train", "--json"]))
    ok(["models", "register", "motion_ad", "--run", run["id"]])
    ok(["compile", "--model", "models:/motion_ad/1", "-o", str(tmp / "lib"), "--vectors", "0"])
    key = register_device(Project(root), "board-1")["key"]
    with live_server(root) as server:
        yield {"root": root, "lib": tmp / "lib", "key": key, "url": server.url}


def _run(setup: dict[str, Any], *extra: str) -> tuple[int, list[dict[str, Any]], dict[str, Any], str]:
    code, out, err = invoke_cli(["run", str(setup["lib"]), "--input", str(RECORDING), "--json", *extra],
                                setup["root"])
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    summary = lines[-1]["summary"] if lines and "summary" in lines[-1] else {}
    return code, [x for x in lines if "summary" not in x], summary, err


def _review(run_cli: Any, root: Path, *args: str) -> Any:
    return json.loads(cli_ok(run_cli, ["data", "review", *args, "--json"], root))


def test_flagged_windows_are_uploaded_labelled_and_join_a_version(setup: dict[str, Any], run_cli: Any) -> None:
    root = setup["root"]
    code, plain, _, err = _run(setup)
    assert code == 0, err
    scores = sorted(r["anomaly"] for r in plain)
    flag = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2  # about half the windows pass
    expected = [r for r in plain if r["anomaly"] > flag]
    assert 0 < len(expected) < len(plain)

    review = ["--review-server", setup["url"], "--device-key", setup["key"], "--flag-anomaly-above", f"{flag}"]
    code, recs, summary, err = _run(setup, *review)
    assert code == 0, err
    assert recs == plain  # uploading changes nothing the run prints
    assert summary["review"]["flagged"] == summary["review"]["uploaded"] == len(expected)
    assert summary["review"]["failed"] == 0

    page = _review(run_cli, root, "ls")
    assert page["total"] == len(expected)
    items = page["items"]
    assert sorted(i["anomaly_score"] for i in items) == pytest.approx(sorted(r["anomaly"] for r in expected))
    assert all(i["device"] == "board-1" and i["reason"] == "anomaly" and i["model"] == str(setup["lib"])
               for i in items)
    # each item holds exactly the raw rows of its window (the CSV's rows, 10 Hz, 2 s windows)
    csv = np.loadtxt(RECORDING, delimiter=",", skiprows=1, dtype=np.float32)[:, 1:]
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.review import review_values

    for item in items:
        shown = _review(run_cli, root, "show", item["id"])
        end = shown["metadata"]["end_row"]
        values = np.asarray(review_values(Project(root), item["id"])["values"], dtype=np.float32)
        assert np.array_equal(values, csv[end - len(values):end]) and len(values) == item["length"] == 20
        assert shown["sensors"][0]["name"] == "accX" and shown["frequency_hz"] == 10.0

    # the same recording again: the same upload ids, nothing new stored
    code, _, summary, err = _run(setup, *review)
    assert code == 0 and summary["review"]["uploaded"] == len(expected), err
    assert _review(run_cli, root, "ls")["total"] == len(expected)

    first, second, *rest = [i["id"] for i in items]
    labelled = _review(run_cli, root, "label", first, second, "--label", "running", "--category", "training")
    assert labelled["labelled"] == 2
    if rest:
        assert _review(run_cli, root, "dismiss", *rest)["dismissed"] == len(rest)
    assert _review(run_cli, root, "ls")["items"] == []
    before = json.loads(cli_ok(run_cli, ["data", "versions", "--json"], root))
    commit = _review(run_cli, root, "commit", "-m", "field windows from board-1")
    assert sorted(commit["items"]) == sorted([first, second])
    version = json.loads(cli_ok(run_cli, ["data", "version", "show", str(commit["version"]["id"]), "--json"], root))
    assert len(json.loads(cli_ok(run_cli, ["data", "versions", "--json"], root))) == len(before) + 1
    assert {i["sample_id"] for i in version["items"]} >= set(labelled["samples"])
    samples = {s["id"]: s for s in json.loads(cli_ok(run_cli, ["data", "ls", "--json"], root))}
    for sid in labelled["samples"]:
        assert samples[sid]["label"] == "running" and samples[sid]["source"].startswith("field:board-1/")
    assert _review(run_cli, root, "ls", "--status", "labelled")["total"] == 2

    # nothing left to commit, unknown ids, bad options: clear errors, nothing changed
    code, _, err = run_cli(["data", "review", "commit", "-m", "again"], cwd=root)
    assert code == 2 and "nothing to commit" in err
    code, _, err = run_cli(["data", "review", "label", "nope", "--label", "x"], cwd=root)
    assert code == 3 and "no review item with id 'nope'" in err
    code, _, err = run_cli(["data", "review", "label", first, "--label", "x"], cwd=root)
    assert code == 4 and "already labelled" in err
    code, _, err = run_cli(["data", "review", "ls", "--status", "bogus"], cwd=root)
    assert code == 2 and "field 'status'" in err


def test_run_refuses_bad_review_options(setup: dict[str, Any]) -> None:
    url, key = setup["url"], setup["key"]
    cases = [
        (["--flag-anomaly-above", "1"], 2, "need --review-server"),
        (["--review-server", url, "--device-key", key], 2, "say which windows"),
        (["--review-server", url, "--device-key", key, "--flag-below", "0.5"], 2, "anomaly model"),
        (["--review-server", "ftp://x", "--device-key", key, "--flag-anomaly-above", "1"], 2, "http://"),
        (["--review-server", url, "--device-key", "eml_d_nope_nope", "--flag-anomaly-above", "0"], 6,
         "device key was refused"),
    ]
    for extra, want, why in cases:
        code, _, _, err = _run(setup, *extra)
        assert code == want and why in err, (extra, code, err[-500:])


def test_classifier_flags_low_confidence_windows(setup: dict[str, Any], run_cli: Any) -> None:
    """--flag-below through the uploader: only windows whose top score is under the flag go, with the
    prediction, its confidence and every score."""
    from crisp_eml.core.sample import Sensor
    from crisp_eml.workspace.review_upload import ReviewOptions, ReviewUploader

    up = ReviewUploader(ReviewOptions(setup["url"], setup["key"], flag_below=0.6), "models:/gestures/2",
                        "live-stream", (Sensor("accX"), Sensor("accY")), 50.0, 4)
    rng = np.random.default_rng(3)
    rows = rng.normal(0, 1, (12, 2)).astype(np.float32)
    up.feed(rows[:6])
    up.feed(rows[6:])
    recs = [{"t": 0.16, "window": 0, "classification": {"idle": 0.9, "wave": 0.1}, "label": "idle"},
            {"t": 0.24, "window": 1, "classification": {"idle": 0.45, "wave": 0.55}, "label": "wave"}]
    up.offer(recs, [8, 12])
    assert (up.flagged, up.uploaded, up.failed) == (1, 1, 0)
    item = _review(run_cli, setup["root"], "show", up.items[0])
    assert (item["reason"], item["predicted"], item["confidence"]) == ("low-confidence", "wave", 0.55)
    assert item["scores"] == {"idle": 0.45, "wave": 0.55} and item["model"] == "models:/gestures/2"
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.review import review_values

    values = review_values(Project(setup["root"]), up.items[0])["values"]
    assert np.array_equal(np.asarray(values, dtype=np.float32), rows[8:12])
    assert up.window(2) is None  # rows no longer held are never sent

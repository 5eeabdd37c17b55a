"""``eml ingest`` of an Edge Impulse dataset export (a folder with ``info.labels``), end to end through the
CLI: each file's category, label, name and metadata come from info.labels; what a sample cannot hold is
kept in metadata and reported; a malformed labels file or an incomplete export stores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import init_project, register_once

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.formats.wav import write_wav
from crisp_eml.data.splits import assign_category

S2 = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"))


@pytest.fixture()
def run_cli(run_cli, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The shared in-process runner, with the sub-commands registered once for this test."""
    return register_once(run_cli, monkeypatch)


_init = init_project


def _acquisition(values: np.ndarray) -> bytes:
    """An unsigned Edge Impulse data acquisition JSON, as a Studio export writes time series."""
    msg = {"protected": {"ver": "v1", "alg": "none", "iat": 1700000000}, "signature": "0" * 64,
           "payload": {"device_name": "aa:bb", "device_type": "NANO33BLE", "interval_ms": 16,
                       "sensors": [s.to_dict() for s in S2], "values": values.tolist()}}
    return json.dumps(msg).encode()


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def _series(seed: int, n: int = 10) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(size=(n, 2)), 3).astype(np.float32)


def _export(root: Path) -> list[dict[str, Any]]:
    """A small export: JSON, CSV and WAV files in training/testing, named ``<label>.<name>.<ext>`` as Edge
    Impulse names them, a README, one file info.labels does not list; returns the file entries."""
    _write(root, "training/idle.01.json", _acquisition(_series(1)))
    _write(root, "testing/wave.02.csv", write_csv(_series(2), S2, 62.5))
    audio = (np.random.default_rng(3).integers(-2000, 2000, size=(1600, 1)) / 32768.0).astype(np.float32)
    _write(root, "training/noise.03.wav", write_wav(audio, 16000))
    _write(root, "training/mixed.04.json", _acquisition(_series(4)))
    _write(root, "training/idle.05.csv", write_csv(_series(5), S2, 62.5))  # info.labels says "walk"
    _write(root, "testing/held.06.csv", write_csv(_series(6), S2, 62.5))
    _write(root, "training/extra.07.csv", write_csv(_series(7), S2, 62.5))  # not listed
    (root / "README.txt").write_text("run edge-impulse-uploader --clean --info-file info.labels\n")
    return [
        {"path": "training/idle.01.json", "name": "01", "category": "training",
         "label": {"type": "label", "label": "idle"}, "metadata": {"subject": "s1"}, "boundingBoxes": []},
        {"path": "testing/wave.02.csv", "name": "02", "category": "testing",
         "label": {"type": "label", "label": "wave"}, "metadata": {}, "boundingBoxes": []},
        {"path": "training/noise.03.wav", "name": "03", "category": "split", "label": {"type": "unlabeled"}},
        {"path": "training/mixed.04.json", "name": "04", "category": "training",
         "label": {"type": "multi-label", "labels": [{"startIndex": 0, "endIndex": 4, "label": "idle"},
                                                     {"startIndex": 5, "endIndex": 9, "label": "wave"}]}},
        {"path": "training/idle.05.csv", "name": "05", "category": "training",
         "label": {"type": "label", "label": "walk"}},
        {"path": "testing/held.06.csv", "name": "06", "category": "validation",
         "label": {"type": "label", "label": "wave"}, "metadata": {"site": "lab"}},
    ]


def _samples(run_cli, proj: Path) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every sample of the project by name, with its metadata (``data show``)."""
    code, out, err = run_cli(["data", "ls", "--json"], cwd=proj)
    assert code == 0, err
    found = {}
    for row in json.loads(out):
        code, shown, err = run_cli(["data", "show", row["id"], "--json"], cwd=proj)
        assert code == 0, err
        found[row["name"]] = json.loads(shown)
    return found


def test_export_takes_category_label_and_metadata_from_info_labels(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    proj = _init(run_cli, tmp_path)
    export = tmp_path / "export"
    files = _export(export)
    (export / "info.labels").write_text(json.dumps({"version": 1, "files": files}, indent=4))
    code, out, err = run_cli(["ingest", str(export), "--json", "-m", "batch=b1"], cwd=proj)
    assert code == 0, err
    report = json.loads(out)
    assert report["ingested"] == 6 and report["failed"] == 0
    notes = {Path(n["path"]).name: n["note"] for n in report["notes"]}
    assert set(notes) == {"extra.07.csv", "mixed.04.json"}
    assert "not listed in" in notes["extra.07.csv"] and "info.labels" in notes["extra.07.csv"]
    assert "files.3" in notes["mixed.04.json"] and "ei_structured_labels" in notes["mixed.04.json"]

    got = _samples(run_cli, proj)
    assert set(got) == {"01", "02", "03", "04", "05", "06"}  # info.labels names them; README, extra, itself: not
    assert {n: (s["label"], s["category"]) for n, s in got.items() if n != "03"} == {
        "01": ("idle", "training"), "02": ("wave", "testing"), "04": (None, "training"),
        "05": ("walk", "training"), "06": ("wave", "testing")}
    assert got["03"]["label"] is None and got["03"]["kind"] == "audio"
    assert got["03"]["category"] == assign_category(got["03"]["hash"])  # "split": our hash split
    assert got["01"]["metadata"]["subject"] == "s1" and got["01"]["device_name"] == "aa:bb"
    assert all(s["metadata"]["batch"] == "b1" for s in got.values())  # --metadata is added to every file
    assert json.loads(got["04"]["metadata"]["ei_structured_labels"]) == files[3]["label"]["labels"]
    assert got["06"]["metadata"]["ei_category"] == "validation" and got["06"]["metadata"]["site"] == "lab"
    assert "ei_category" not in got["02"]["metadata"]
    assert got["05"]["source"].endswith("idle.05.csv")

    # the human report says the same, with the notes
    more = tmp_path / "more"
    _write(more, "training/a.csv", write_csv(_series(8), S2, 62.5))
    _write(more, "training/b.csv", write_csv(_series(9), S2, 62.5))
    (more / "info.labels").write_text(json.dumps({"version": 1, "files": [
        {"path": "training/a.csv", "category": "testing", "label": {"type": "label", "label": "idle"}}]}))
    code, out, err = run_cli(["ingest", str(more)], cwd=proj)
    assert code == 0, err
    assert "Ingested 1 sample(s)" in out and "not listed in" in err and "b.csv" in err


def test_ndjson_info_labels_named_directly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proj = _init(run_cli, tmp_path)
    export = tmp_path / "big-export"
    files = _export(export)
    lines = [json.dumps({"__ndjson": True, "version": 1}, separators=(",", ":"))]
    lines += [json.dumps({"__key": "files", "__item": f}, separators=(",", ":")) for f in files[:2]]
    (export / "info.labels").write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(["ingest", str(export / "info.labels"), "--json"], cwd=proj)
    assert code == 0, err
    assert json.loads(out)["ingested"] == 2
    got = _samples(run_cli, proj)
    assert {n: (s["label"], s["category"]) for n, s in got.items()} == {"01": ("idle", "training"),
                                                                         "02": ("wave", "testing")}


def _refused(run_cli, proj: Path, args: list[str], *needles: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(args, cwd=proj)
    assert code == 2, (out, err)
    for needle in needles:
        assert needle in err, (needle, err)
    code, out, err = run_cli(["data", "ls", "--json"], cwd=proj)
    assert code == 0 and json.loads(out) == [], "nothing may be stored"


def test_malformed_or_incomplete_export_stores_nothing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proj = _init(run_cli, tmp_path)
    export = tmp_path / "export"
    files = _export(export)
    info = export / "info.labels"
    bad = [dict(f) for f in files]
    bad[3] = dict(bad[3], label={"type": "multi"})
    info.write_text(json.dumps({"version": 1, "files": bad}))
    _refused(run_cli, proj, ["ingest", str(export)], "info.labels", "files.3.label.type")
    info.write_text(json.dumps({"version": 1, "files": files})[:-3])
    _refused(run_cli, proj, ["ingest", str(export)], "info.labels", "bad JSON")
    info.write_text(json.dumps({"version": 3, "files": files}))
    _refused(run_cli, proj, ["ingest", str(export)], "info.labels", "version")
    info.write_text(json.dumps({"version": 1, "files": [*files, {"category": "training",
                                                                 "label": {"type": "unlabeled"}}]}))
    _refused(run_cli, proj, ["ingest", str(export)], "info.labels", "files.6.path")
    info.write_text(json.dumps({"version": 1, "files": [*files, dict(files[0], path="training/gone.json")]}))
    _refused(run_cli, proj, ["ingest", str(export)], "info.labels", "files.6.path", "training/gone.json",
             "does not exist")
    info.write_text(json.dumps({"version": 1, "files": files}))
    _refused(run_cli, proj, ["ingest", str(export), "--label", "x"], "--label", "info.labels")
    _refused(run_cli, proj, ["ingest", str(export), "--category", "testing"], "--category", "info.labels")


def test_labelled_ranges_that_do_not_fit_fail_that_file_only(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    proj = _init(run_cli, tmp_path)
    export = tmp_path / "export"
    files = _export(export)
    files[3]["label"]["labels"][1]["endIndex"] = 7  # 10 values: 8 and 9 have no label
    (export / "info.labels").write_text(json.dumps({"version": 1, "files": files}))
    code, out, err = run_cli(["ingest", str(export), "--json"], cwd=proj)
    assert code == 2
    report = json.loads(out)
    assert report["ingested"] == 5 and report["failed"] == 1
    (failure,) = report["failures"]
    assert failure["path"].endswith("mixed.04.json")
    assert "info.labels" in failure["reason"] and "files.3.label.labels" in failure["reason"]
    assert "index 8" in failure["reason"]
    assert "04" not in _samples(run_cli, proj)

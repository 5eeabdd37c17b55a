"""Ingestion never lets one file abort a batch, refuses files over the size limit and parses ahead only as
much as the memory budget allows."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
import pytest
from sqlalchemy import func, select

from crisp_eml.core.errors import ProjectError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.samples import list_samples
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.ingest import ingest_paths

S2 = (Sensor("a"), Sensor("b"))


def good_csv(path: Path, seed: int, rows: int = 20) -> Path:
    path.write_bytes(write_csv(np.random.default_rng(seed).normal(size=(rows, 2)).astype(np.float32), S2, 50.0))
    return path


def ei_message(interval: Any, values: Any = None) -> dict[str, Any]:
    return {"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64,
            "payload": {"device_type": "t", "interval_ms": interval, "sensors": [{"name": "a"}, {"name": "b"}],
                        "values": values if values is not None else [[1, 2], [3, 4]]}}


def wav_65535_channels() -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 65535, 8000, 8000 * 65535, 65535, 8)
    chunks = b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 65535) + b"\x80" * 65535
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def rows(project: Project) -> int:
    with project.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(SampleRow)) or 0)


def test_poisoned_files_among_many_fail_alone(project: Project, tmp_path: Path) -> None:
    """issue 9 point 4: interval_ms = 10**400 gave 'internal error: OverflowError', exit 70, and dropped files."""
    root = tmp_path / "batch"
    root.mkdir()
    good = [good_csv(root / f"idle.{i:02d}.csv", i) for i in range(0, 24, 2)]
    poison = {
        "idle.01.json": json.dumps(ei_message(10**400)).encode(),
        "idle.03.cbor": cbor2.dumps(ei_message(10**400)),
        "idle.05.json": json.dumps(ei_message(1e-300)).encode(),
        "idle.07.cbor": cbor2.dumps(ei_message(10, [[1, 10**400]])),
        "idle.09.csv": b"timestamp,a,b\n0,1,2\n20,1e400,3\n",
        "idle.11.wav": wav_65535_channels(),
    }
    for name, data in poison.items():
        (root / name).write_bytes(data)
    report = ingest_paths(project, [root])
    assert sorted(s.name for s in report.samples) == sorted(p.name.rsplit(".", 1)[0] for p in good)
    failed = {Path(f.path).name: f for f in report.failures}
    assert set(failed) == set(poison)
    assert all(f.error == "InputError" and f.reason.startswith(str(root / name)) for name, f in failed.items())
    assert "payload.interval_ms" in failed["idle.01.json"].reason
    assert "payload.interval_ms" in failed["idle.03.cbor"].reason
    assert "faster than" in failed["idle.05.json"].reason
    assert "payload.values" in failed["idle.07.cbor"].reason
    assert "line 3" in failed["idle.09.csv"].reason and "'a'" in failed["idle.09.csv"].reason
    assert "65535 channels" in failed["idle.11.wav"].reason
    assert rows(project) == len(good)


def test_unexpected_errors_fail_only_their_file(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crisp_eml.workspace.ingest as ingest_mod
    import crisp_eml.workspace.ingest_source as source_mod

    files = [good_csv(tmp_path / f"idle.{i}.csv", i) for i in range(6)]
    real_stream = source_mod.parse_stream

    def parser_bug(stream: Any, name: str, **kw: Any) -> Any:  # a parser raising what it should not
        if name.endswith("idle.1.csv"):
            raise OverflowError("int too large to convert to float")
        return real_stream(stream, name, **kw)

    real_source = ingest_mod.parse_source

    def prefetch_bug(path: Path, source: str, **kw: Any) -> Any:  # anything else failing in the prefetch stage
        if source.endswith("idle.4.csv"):
            raise RuntimeError("disk on fire")
        return real_source(path, source, **kw)

    monkeypatch.setattr(source_mod, "parse_stream", parser_bug)
    monkeypatch.setattr(ingest_mod, "parse_source", prefetch_bug)
    report = ingest_paths(project, files)
    assert sorted(s.name for s in report.samples) == ["idle.0", "idle.2", "idle.3", "idle.5"]
    failed = {Path(f.path).name: f for f in report.failures}
    assert failed["idle.1.csv"].error == "InputError"
    assert "unexpected OverflowError" in failed["idle.1.csv"].reason and "idle.1.csv" in failed["idle.1.csv"].reason
    assert "RuntimeError: disk on fire" in failed["idle.4.csv"].reason and "idle.4.csv" in failed["idle.4.csv"].reason
    assert rows(project) == 4


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_interrupts_are_never_swallowed(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: type[BaseException],
) -> None:
    import crisp_eml.workspace.ingest_source as source_mod

    files = [good_csv(tmp_path / f"idle.{i}.csv", i) for i in range(4)]
    real_stream = source_mod.parse_stream

    def interrupted(stream: Any, name: str, **kw: Any) -> Any:
        if name.endswith("idle.2.csv"):
            raise exc()
        return real_stream(stream, name, **kw)

    monkeypatch.setattr(source_mod, "parse_stream", interrupted)
    with pytest.raises(exc):
        ingest_paths(project, files)


def test_file_over_the_size_limit_is_refused(project: Project, tmp_path: Path) -> None:
    big = good_csv(tmp_path / "big.1.csv", 1, rows=40_000)  # about 1.5 MiB
    small = good_csv(tmp_path / "small.1.csv", 2)
    report = ingest_paths(project, [big, small], max_file_mb=1)
    assert [s.name for s in report.samples] == ["small.1"]
    (failure,) = report.failures
    assert failure.path == str(big) and failure.error == "InputError"
    assert "MiB, over the limit of 1 MiB per file" in failure.reason and "[ingest] max_file_mb" in failure.reason
    # the project setting, when no argument is given
    project.config["ingest"] = {"max_file_mb": 1}
    report = ingest_paths(project, [big])
    assert report.failures and "over the limit" in report.failures[0].reason
    project.config["ingest"] = {"max_file_mb": 2}
    assert ingest_paths(project, [big]).ok


@pytest.mark.parametrize("table", [{"max_file_mb": 0}, {"max_file_mb": "big"}, {"memory_mb": -1}, "x"])
def test_bad_ingest_settings_are_project_errors(project: Project, tmp_path: Path, table: object) -> None:
    project.config["ingest"] = table
    with pytest.raises(ProjectError, match="ingest"):
        ingest_paths(project, [good_csv(tmp_path / "a.1.csv", 1)])
    assert rows(project) == 0


def _concurrency_probe(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Wraps parsing to record the most files parsed at once (each waits a little for company)."""
    import crisp_eml.workspace.ingest as ingest_mod

    real = ingest_mod.parse_source
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    company = threading.Event()

    def probe(path: Path, source: str, **kw: Any) -> Any:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            if state["now"] >= 2:
                company.set()
        try:
            company.wait(0.3)  # enough for a second admitted file to start; never long enough to matter
            return real(path, source, **kw)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(ingest_mod, "parse_source", probe)
    return state


def test_memory_budget_bounds_parallel_parsing(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [good_csv(tmp_path / f"idle.{i}.csv", i, rows=3000) for i in range(6)]  # ~110 KiB each
    state = _concurrency_probe(monkeypatch)
    report = ingest_paths(project, files, memory_mb=0.1)  # less than one file's estimate: each runs alone
    assert report.ok and len(report.samples) == 6
    assert state["max"] == 1
    state = _concurrency_probe(monkeypatch)
    report = ingest_paths(project, [tmp_path], memory_mb=1024, allow_duplicates=True)
    assert report.ok and len(report.samples) == 6
    assert state["max"] >= 2  # with room, files are parsed in parallel
    assert len(list_samples(project)) == 12

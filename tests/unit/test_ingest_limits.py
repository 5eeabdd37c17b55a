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
            raise RuntimeError("disk on fire" + "!" * 300)
        return real_source(path, source, **kw)

    monkeypatch.setattr(source_mod, "parse_stream", parser_bug)
    monkeypatch.setattr(ingest_mod, "parse_source", prefetch_bug)
    report = ingest_paths(project, files)
    assert sorted(s.name for s in report.samples) == ["idle.0", "idle.2", "idle.3", "idle.5"]
    failed = {Path(f.path).name: f for f in report.failures}
    assert failed["idle.1.csv"].error == "InputError"
    assert "unexpected OverflowError" in failed["idle.1.csv"].reason and "idle.1.csv" in failed["idle.1.csv"].reason
    assert failed["idle.4.csv"].reason == \
        f"{tmp_path / 'idle.4.csv'}: could not be ingested: RuntimeError: disk on fire{'!' * 188}"  # 200 characters
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


def _concurrency_probe(monkeypatch: pytest.MonkeyPatch, company: int = 2, wait_s: float = 0.3) -> dict[str, int]:
    """Wraps parsing to record the most files parsed at once (each waits up to ``wait_s`` until ``company``
    files are being parsed, so that a file the ingest would admit meanwhile really overlaps)."""
    import crisp_eml.workspace.ingest as ingest_mod

    real = ingest_mod.parse_source
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    enough = threading.Event()

    def probe(path: Path, source: str, **kw: Any) -> Any:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            if state["now"] >= company:
                enough.set()
        try:
            enough.wait(wait_s)  # time for another admitted file to start; never long enough to matter
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


def test_an_interrupted_ingest_leaves_no_orphans_but_keeps_other_writers_blobs(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files prefetched but not committed when the ingest is interrupted take their new blobs with them (also
    those queued behind a file that failed); a blob that existed before (another writer may be about to commit
    a row naming it) stays."""
    import crisp_eml.workspace.ingest as ingest_mod

    files = [good_csv(tmp_path / f"idle.{i}.csv", i) for i in range(6)]
    files[2].write_bytes(b"timestamp,a,b\n0,1,oops\n")
    other = Project.init(tmp_path / "other", "other", member="tester")
    (theirs,) = ingest_paths(other, [files[3]]).samples
    project.blobs.put(other.blobs.get(theirs.hash))  # written ahead by another writer, not committed yet
    real = ingest_mod._prepare
    lock = threading.Lock()
    prepared: set[str] = set()
    ready = threading.Event()

    def prepare(p: Project, f: Any, **kw: Any) -> Any:
        if f.path == files[1]:
            ready.wait(10)  # interrupted once the files queued behind it are prepared
            raise KeyboardInterrupt
        out = real(p, f, **kw)
        with lock:
            prepared.add(f.path.name)
            if {"idle.3.csv", "idle.4.csv"} <= prepared:
                ready.set()
        return out

    monkeypatch.setattr(ingest_mod, "_prepare", prepare)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(project, files)
    assert ready.is_set()
    committed = {s.hash for s in list_samples(project)}
    assert set(project.blobs) == committed | {theirs.hash}


def test_a_failing_clean_up_never_hides_the_interrupt(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crisp_eml.workspace.gc_blobs as gc_mod
    import crisp_eml.workspace.ingest as ingest_mod
    import crisp_eml.workspace.ingest_source as source_mod

    files = [good_csv(tmp_path / f"idle.{i}.csv", i) for i in range(4)]
    real_stream = source_mod.parse_stream
    tried: list[object] = []

    def interrupted(stream: Any, name: str, **kw: Any) -> Any:
        if name.endswith("idle.2.csv"):
            raise KeyboardInterrupt
        return real_stream(stream, name, **kw)

    def broken(project: Project, digests: Any) -> list[str]:
        tried.append(digests)
        raise OSError("store unreachable")

    monkeypatch.setattr(source_mod, "parse_stream", interrupted)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)  # idle.0 and idle.1 wait in the batch
    monkeypatch.setattr(gc_mod, "discard_if_unused", broken)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(project, files)
    assert len(tried) >= 2 and rows(project) == 0


class _FrozenClock:
    """Stands for the ``time`` module in the ingest use case: the batch clock never moves on its own."""

    @staticmethod
    def monotonic() -> float:
        return 1000.0


def _rows_at_each_report(project: Project, files: list[Path], **kw: Any) -> list[int]:
    """Rows committed when each file is reported: a file is reported once its transaction has committed."""
    seen: list[int] = []
    report = ingest_paths(project, files, on_progress=lambda done, total, path: seen.append(rows(project)), **kw)
    assert report.ok and len(report.samples) == len(files)
    return seen


@pytest.mark.parametrize(("batch_files", "batch_seconds", "expected"), [
    (3, 10.0, [3, 3, 3, 6, 6, 6, 7]),  # a commit every BATCH_FILES files, and one at the end
    (100, 0.0, [1, 2, 3, 4, 5, 6, 7]),  # BATCH_SECONDS passed (no time at all): a commit after every file
])
def test_commits_by_file_count_and_by_time(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_files: int, batch_seconds: float,
    expected: list[int],
) -> None:
    import crisp_eml.workspace.ingest as ingest_mod

    files = [good_csv(tmp_path / f"idle.{i}.csv", i) for i in range(7)]
    monkeypatch.setattr(ingest_mod, "time", _FrozenClock)
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", batch_files)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", batch_seconds)
    assert _rows_at_each_report(project, files) == expected


def test_a_file_that_does_not_fit_beside_the_batch_commits_the_batch_first(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crisp_eml.workspace.ingest as ingest_mod
    from crisp_eml.data.formats.parsed import memory_estimate

    files = [good_csv(tmp_path / f"idle.{i}.csv", i, rows=500) for i in range(3)]
    cost = max(memory_estimate(f.name, f.stat().st_size) for f in files)
    monkeypatch.setattr(ingest_mod, "time", _FrozenClock)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 10.0)
    # room for one and a half files: each parsed file waits in the batch until the next one needs the room
    assert _rows_at_each_report(project, files, memory_mb=1.5 * cost / 2**20) == [1, 2, 3]


def test_files_are_parsed_by_a_bounded_number_of_threads(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However much memory is allowed, at most PREFETCH_WORKERS files are read and parsed at once."""
    import crisp_eml.workspace.ingest as ingest_mod

    files = [good_csv(tmp_path / f"idle.{i}.csv", i) for i in range(ingest_mod.PREFETCH_WORKERS + 1)]
    # each parse waits for one more file than there are threads: time for it to start, were there a thread
    state = _concurrency_probe(monkeypatch, company=ingest_mod.PREFETCH_WORKERS + 1, wait_s=0.5)
    assert ingest_paths(project, files, memory_mb=1024).ok
    assert state["max"] == ingest_mod.PREFETCH_WORKERS

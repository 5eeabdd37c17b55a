"""``eml ingest`` under hostile input, as a real process: a poisoned file among good ones fails alone (exit 2,
never the internal-error 70), and a ~200 MB CSV ingests in bounded memory or is refused by the size limit.

Peak memory is the child's own high-water mark (``VmHWM`` in ``/proc/self/status``), written by the child as it
exits. Not ``ru_maxrss``: Linux keeps the parent's high-water mark across fork and exec, so a child of a pytest
worker that has TensorFlow loaded would report the worker's 900 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.project import Project

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (peak RSS of one child)")

# Runs the CLI and, at exit, writes its own peak RSS (kB) to the file named by argv[1].
_CHILD = """
import atexit, re, runpy, sys
out = sys.argv.pop(1)
def _peak():
    with open("/proc/self/status") as fh:
        kb = re.search(r"VmHWM:\\s*(\\d+) kB", fh.read()).group(1)
    with open(out, "w") as fh:
        fh.write(kb)
atexit.register(_peak)
sys.argv[0] = "eml"
runpy.run_module("crisp_eml.cli.main", run_name="__main__")
"""


def write_big_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    """A CSV of about ``target_bytes`` (timestamp in ms, 10 ms apart, + 3 axes), written in vectorized
    blocks of fixed-width rows; returns its size."""
    rng = np.random.default_rng(seed)
    block = 100_000
    vals = "\n".join(",".join(f"{v:+.6f}" for v in row) for row in rng.uniform(-9, 9, (block, 3))) + "\n"
    vmat = np.frombuffer(vals.encode(), np.uint8).reshape(block, -1)  # ",+1.234567,-0.5..." rows, "\n" ended
    rowlen = 10 + vmat.shape[1]
    digits = 10 ** np.arange(8, -1, -1, dtype=np.int64)
    with path.open("wb") as fh:
        fh.write(b"timestamp,accX,accY,accZ\n")
        for start in range(0, target_bytes // rowlen, block):
            n = min(block, target_bytes // rowlen - start)
            out = np.empty((n, rowlen), np.uint8)
            out[:, :9] = ((np.arange(start, start + n, dtype=np.int64) * 10)[:, None] // digits % 10 + 48)
            out[:, 9] = ord(",")
            out[:, 10:] = vmat[:n]
            fh.write(out.tobytes())
    return path.stat().st_size


def eml(args: list[str], cwd: Path, out: Path) -> tuple[int, int, str]:
    """Run ``eml ARGS`` as a child process: (exit code, its peak RSS in bytes, stdout + stderr)."""
    peak_file = out.with_suffix(".peak")
    with out.open("wb") as fh:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(peak_file), *args], cwd=cwd, stdout=fh,
                              stderr=subprocess.STDOUT, check=False)
    return proc.returncode, int(peak_file.read_text()) * 1024, out.read_text()


@pytest.fixture()
def proj(tmp_path: Path) -> Path:
    Project.init(tmp_path / "proj", "limits", member="tester")
    return tmp_path / "proj"


def test_poisoned_file_fails_alone_with_exit_2(proj: Path, tmp_path: Path) -> None:
    data = tmp_path / "batch"
    data.mkdir()
    sensors = (Sensor("x"), Sensor("y"))
    for i in range(8):
        arr = np.random.default_rng(i).normal(size=(30, 2)).astype(np.float32)
        (data / f"idle.{i:02d}.csv").write_bytes(write_csv(arr, sensors, 50.0))
    poison = {"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64,
              "payload": {"interval_ms": 10**400, "sensors": [{"name": "x"}], "values": [1, 2, 3]}}
    (data / "idle.04b.json").write_bytes(json.dumps(poison).encode())  # sorts among the good files
    code, _, text = eml(["ingest", str(data), "--json"], proj, tmp_path / "out.txt")
    assert code == 2, text  # an input error, not 70 (internal error)
    report = json.loads(text[:text.rindex("}") + 1])
    assert report["ingested"] == 8 and report["failed"] == 1
    (failure,) = report["failures"]
    assert failure["path"].endswith("idle.04b.json") and "payload.interval_ms" in failure["reason"]
    assert "internal error" not in text


def test_big_csv_ingests_within_four_times_its_size(proj: Path, tmp_path: Path) -> None:
    """issue 9 point 8: a 186 MB CSV peaked at 3.0 GB RSS. Now it is parsed in blocks straight to float32."""
    big = tmp_path / "walk.big.csv"
    size = write_big_csv(big, 200_000_000)
    code, peak, text = eml(["ingest", str(big), "--json"], proj, tmp_path / "out.txt")
    assert code == 0, text
    assert json.loads(text)["ingested"] == 1
    assert peak < 4 * size, f"peak RSS {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB CSV"
    assert json.loads(text)["samples"][0]["name"] == "walk.big"


def test_big_csv_over_the_setting_is_refused_cheaply(proj: Path, tmp_path: Path) -> None:
    big = tmp_path / "walk.big.csv"
    big.write_bytes(b"timestamp,a\n0,1\n")
    os.truncate(big, 1 << 30)  # 1 GiB, sparse: instant to make, and reading it would cost at least 1 GiB
    with (proj / "eml.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[ingest]\nmax_file_mb = 50\n")
    code, peak, text = eml(["ingest", str(big)], proj, tmp_path / "out.txt")
    assert code == 2, text
    assert str(big) in text and "1,024.0 MiB, over the limit of 50 MiB" in text and "max_file_mb" in text
    assert peak < (1 << 30) // 4  # refused before reading it
